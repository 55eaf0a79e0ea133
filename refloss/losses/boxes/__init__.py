"""IoU-family losses on matched pairs of boxes: IoU (and UnitBox's -ln IoU), GIoU, DIoU, CIoU, EIoU, SIoU."""

from refloss.losses.boxes.iou import iou_loss, iou_loss_vjp, log_iou_loss, log_iou_loss_vjp
from refloss.losses.boxes.giou import giou_loss, giou_loss_vjp
from refloss.losses.boxes.diou import diou_loss, diou_loss_vjp
from refloss.losses.boxes.ciou import ciou_loss, ciou_loss_vjp
from refloss.losses.boxes.eiou import eiou_loss, eiou_loss_vjp
from refloss.losses.boxes.siou import siou_loss, siou_loss_vjp

__all__ = ["ciou_loss", "ciou_loss_vjp", "diou_loss", "diou_loss_vjp", "eiou_loss", "eiou_loss_vjp", "giou_loss",
           "giou_loss_vjp", "iou_loss", "iou_loss_vjp", "log_iou_loss", "log_iou_loss_vjp", "siou_loss",
           "siou_loss_vjp"]

"""Properties of the anchor detector losses (ssd_loss, retinanet_loss, rpn_loss, fast_rcnn_loss) on their
conformance scenes: the order of the images does not matter, and neither does the unit of the coordinates."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refloss
from refloss.conformance.cases import generate_cases

LOSSES = ("ssd_loss", "retinanet_loss", "rpn_loss", "fast_rcnn_loss")
# The inputs that hold coordinates, per loss (the head outputs are codes relative to them: unit-free).
COORDINATES = {"ssd_loss": ("anchors", "boxes"), "retinanet_loss": ("anchors", "boxes"),
               "rpn_loss": ("anchors", "boxes"), "fast_rcnn_loss": ("proposals", "boxes")}


@functools.lru_cache(maxsize=None)
def _basic_scenes(loss):
    return tuple(c for c in generate_cases(loss) if c.concern == "basic")


def _batch_scenes(loss):
    return [c for c in _basic_scenes(loss) if c.inputs["boxes"].shape[0] > 1]


def _call(loss, inputs, params, cotangent):
    spec = refloss.registry.get(loss)
    arguments = [inputs[i.name] for i in spec.inputs]
    value = spec.output_vector(spec.forward(*arguments, **params))
    grads = spec.vjp(spec.cotangent_of(cotangent), *arguments, **params)
    return value, grads[:2]


def _permuted(loss, inputs, order):
    """The same batch with its images in ``order``: per-image inputs reordered (for fast_rcnn_loss the RoIs stay
    where they are and their image indices are renamed)."""
    moved = dict(inputs)
    for name in ("boxes", "labels") + (("bbox_regression", "cls_logits") if loss in ("ssd_loss", "retinanet_loss")
                                       else ("objectness", "pred_bbox_deltas", "sampled") if loss == "rpn_loss"
                                       else ()):
        moved[name] = inputs[name][list(order)]
    if loss == "fast_rcnn_loss":
        moved["proposal_images"] = np.argsort(order)[inputs["proposal_images"]]
    return moved


@pytest.mark.parametrize("loss", LOSSES)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_the_order_of_the_images_does_not_matter(loss, data):
    # Every term is a sum over images divided by a count of the whole batch (or, for RetinaNet, a mean over
    # images of per-image quotients): permuting the images permutes the gradient rows and nothing else.
    case = data.draw(st.sampled_from(_batch_scenes(loss)))
    order = data.draw(st.permutations(range(case.inputs["boxes"].shape[0])))
    value, grads = _call(loss, case.inputs, case.params, case.cotangent)
    moved_value, moved_grads = _call(loss, _permuted(loss, case.inputs, order), case.params, case.cotangent)
    np.testing.assert_allclose(moved_value, value, rtol=1e-13, atol=1e-15)
    for grad, moved in zip(grads, moved_grads):
        expected = grad if loss == "fast_rcnn_loss" else grad[list(order)]
        np.testing.assert_allclose(moved, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("loss", LOSSES)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_the_unit_of_the_coordinates_does_not_matter(loss, data):
    # IoU and the box coders compare ratios, so halving every coordinate (exact in binary) changes nothing but
    # the rounding of the encoded targets' logarithms. RetinaNet's IoU-family box losses are left out: their eps
    # (1e-7, added to areas) is not scaled with the boxes.
    scenes = [c for c in _basic_scenes(loss) if c.params.get("box_loss", "l1") in ("l1", "smooth_l1")]
    case = data.draw(st.sampled_from(scenes))
    halvings = data.draw(st.integers(1, 3))
    scaled = {k: v / 2.0 ** halvings if k in COORDINATES[loss] else v for k, v in case.inputs.items()}
    value, grads = _call(loss, case.inputs, case.params, case.cotangent)
    scaled_value, scaled_grads = _call(loss, scaled, case.params, case.cotangent)
    np.testing.assert_allclose(scaled_value, value, rtol=1e-13, atol=1e-15)
    for grad, scaled_grad in zip(grads, scaled_grads):
        np.testing.assert_allclose(scaled_grad, grad, rtol=1e-12, atol=1e-14)

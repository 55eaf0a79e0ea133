"""Every loss family; importing this registers all losses, in a fixed order."""

from refloss.losses import regression  # noqa: F401
from refloss.losses import classification  # noqa: F401
from refloss.losses import boxes  # noqa: F401
from refloss.losses import detectors  # noqa: F401
from refloss.losses import segmentation  # noqa: F401
from refloss.losses import embedding  # noqa: F401
from refloss.losses import sequence  # noqa: F401

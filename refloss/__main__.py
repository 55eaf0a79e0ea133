"""``python -m refloss``: the same as the ``refloss`` command."""

import sys

from refloss.cli import main

sys.exit(main())

"""Independent high-precision oracles: the textbook formula of each loss in mpmath, with no stability tricks.

An oracle never imports the NumPy reference. It evaluates each elementwise loss at the exact inputs, takes
derivatives numerically at high precision (``mpmath.diff``; one-sided at declared kinks), and applies the
reductions exactly. Its results are what the golden vectors expect.
"""

from refloss.conformance.oracle import classification, regression

ORACLES = {**regression.ORACLES, **classification.ORACLES}

__all__ = ["ORACLES"]

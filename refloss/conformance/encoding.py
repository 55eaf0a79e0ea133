"""Exact float encoding for the vectors: IEEE bit patterns, correct rounding to each dtype, decimal strings.

Every dtype here is described by its significand precision (bits, including the implicit one) and exponent range;
rounding an mpmath number to a dtype is done directly (round to nearest, ties to even, with gradual underflow and
overflow to infinity), never through float64 first, so there is no double rounding.

mpmath (the ``test`` extra) is needed only to round and print exact values, i.e. to generate and lint the suite;
decoding and encoding bit patterns, all the validator needs, uses the standard library and NumPy.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DTYPES", "FloatFormat", "bits_to_float", "decimal", "float_to_bits", "is_representable", "round_to"]


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-754 binary format: ``precision`` significand bits, normal exponents ``emin..emax``, ``width`` bits."""

    name: str
    precision: int
    emin: int
    emax: int
    width: int


DTYPES = {
    "float64": FloatFormat("float64", 53, -1022, 1023, 64),
    "float32": FloatFormat("float32", 24, -126, 127, 32),
    "float16": FloatFormat("float16", 11, -14, 15, 16),
    "bfloat16": FloatFormat("bfloat16", 8, -126, 127, 16),
}


def round_to(x: Any, dtype: str) -> float:
    """``x`` (an mpmath number) rounded to nearest-even in ``dtype``, as the (exactly equal) Python float."""
    import mpmath

    fmt = DTYPES[dtype]
    if mpmath.isnan(x):
        return math.nan
    if mpmath.isinf(x):
        return math.inf if x > 0 else -math.inf
    if x == 0:
        return 0.0
    _, exponent = mpmath.frexp(x)  # |x| = m 2^exponent with 0.5 <= m < 1
    scale = max(int(exponent) - 1, fmt.emin) - fmt.precision + 1  # spacing exponent (gradual underflow)
    with mpmath.workprec(max(mpmath.mp.prec, 2 * fmt.precision + 64)):
        rounded = mpmath.nint(mpmath.ldexp(x, -scale))  # nint rounds ties to even
        value = mpmath.ldexp(rounded, scale)
    if abs(value) >= mpmath.ldexp(1, fmt.emax + 1):
        return math.inf if x > 0 else -math.inf
    return float(value)  # exact: every value of these formats is a float64


def float_to_bits(value: float, dtype: str) -> str:
    """Lowercase hex of the IEEE pattern of ``value`` in ``dtype`` (``value`` must be representable there)."""
    if dtype == "float64":
        return f"{struct.unpack('<Q', struct.pack('<d', value))[0]:016x}"
    if dtype == "float32":
        return f"{struct.unpack('<I', struct.pack('<f', value))[0]:08x}"
    if dtype == "float16":
        return f"{int(np.array(value, dtype=np.float16).view(np.uint16)):04x}"
    if dtype == "bfloat16":  # the upper half of the float32 pattern, exact for representable values
        return f"{struct.unpack('<I', struct.pack('<f', value))[0] >> 16:04x}"
    raise KeyError(dtype)


def bits_to_float(bits: str, dtype: str) -> float:
    """The float whose ``dtype`` IEEE pattern is the hex string ``bits``."""
    pattern = int(bits, 16)
    if dtype == "float64":
        return struct.unpack("<d", struct.pack("<Q", pattern))[0]
    if dtype == "float32":
        return struct.unpack("<f", struct.pack("<I", pattern))[0]
    if dtype == "float16":
        return float(np.array(pattern, dtype=np.uint16).view(np.float16))
    if dtype == "bfloat16":
        return struct.unpack("<f", struct.pack("<I", pattern << 16))[0]
    raise KeyError(dtype)


def is_representable(value: float, dtype: str) -> bool:
    """Whether the float64 ``value`` is exactly a ``dtype`` value (NaN and infinities count as representable)."""
    import mpmath

    if math.isnan(value) or math.isinf(value):
        return True
    return round_to(mpmath.mpf(value), dtype) == value


def decimal(x: Any, digits: int = 40) -> str:
    """``x`` (an mpmath number) as a decimal string of ``digits`` significant digits, or nan, inf, -inf, 0."""
    import mpmath

    if mpmath.isnan(x):
        return "nan"
    if mpmath.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"  # mpmath has no signed zero; the sign of a zero is never part of an expectation
    return mpmath.nstr(x, digits, min_fixed=-4, max_fixed=6)

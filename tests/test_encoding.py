"""Exact float encoding and the tolerance policy of the conformance suite."""

import math
from decimal import Decimal

import mpmath
import numpy as np
import pytest

from refloss.conformance.encoding import bits_to_float, decimal, float_to_bits, is_representable, round_to
from refloss.conformance.tolerance import allowed_error, compare, compare_interval, scale_at, ulps


def _special_and_random_doubles():
    rng = np.random.default_rng(0)
    values = list(rng.normal(size=200) * 10.0 ** rng.integers(-12, 12, size=200))
    # float16 edges: max, the overflow tie, subnormal range and its ties; float32 edges
    values += [65504.0, 65519.99, 65520.0, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26, 6.1e-5, 1e-8,
               3.4028235e38, 3.4028236e38, 1.4e-45, 7e-46, 1.0, -0.5, 1e300, 5e-324]
    return [v for v in values if math.isfinite(v)]


@pytest.mark.parametrize("dtype, numpy_dtype", [("float16", np.float16), ("float32", np.float32)])
def test_round_to_agrees_with_numpy_casts(dtype, numpy_dtype):
    # NumPy's float64 -> float16/float32 casts round to nearest even with gradual underflow and overflow.
    with np.errstate(over="ignore"):
        for value in _special_and_random_doubles():
            expected = float(numpy_dtype(value))
            assert round_to(mpmath.mpf(value), dtype) == expected, value


def test_round_to_bfloat16_is_round_to_nearest_even_on_the_float32_grid():
    one_third = round_to(mpmath.mpf(1) / 3, "bfloat16")
    assert one_third == 0.333984375 and float_to_bits(one_third, "bfloat16") == "3eab"
    assert round_to(mpmath.mpf(1 + 2 ** -8), "bfloat16") == 1.0  # tie -> even mantissa
    assert round_to(mpmath.mpf(1 + 3 * 2 ** -8), "bfloat16") == 1 + 2 ** -6  # tie -> even (up)
    assert round_to(mpmath.mpf("3.4e38"), "bfloat16") == math.inf  # beyond bfloat16's largest finite value


def test_round_to_uses_the_exact_value_not_a_double_rounding():
    # 1 + 2^-11 + 2^-60 lies just above the float16 tie: exact rounding goes up; rounding via float64 (which drops
    # the 2^-60) would land on the tie and round down to even.
    with mpmath.workdps(40):
        assert round_to(1 + mpmath.mpf(2) ** -11 + mpmath.mpf(2) ** -60, "float16") == 1 + 2 ** -10


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_bits_round_trip(dtype):
    for value in [0.0, 1.0, -2.5, 0.333984375, math.inf, -math.inf]:
        assert bits_to_float(float_to_bits(value, dtype), dtype) == value
    assert math.isnan(bits_to_float(float_to_bits(math.nan, dtype), dtype))
    assert float_to_bits(-0.0, dtype).startswith("8")  # the sign bit survives


def test_bit_widths_and_known_patterns():
    assert float_to_bits(1.0, "float64") == "3ff0000000000000"
    assert float_to_bits(1.0, "float32") == "3f800000"
    assert float_to_bits(1.0, "float16") == "3c00"
    assert float_to_bits(1.0, "bfloat16") == "3f80"


def test_representability():
    assert is_representable(0.1, "float64") and not is_representable(0.1, "float32")
    assert is_representable(300.0, "float16") and is_representable(300.0, "bfloat16")
    assert not is_representable(257.0, "bfloat16")  # 9 significant bits
    assert is_representable(math.nan, "float16")


def test_decimal_tokens_and_digits():
    assert decimal(mpmath.mpf(0)) == "0" and decimal(mpmath.inf) == "inf" and decimal(-mpmath.inf) == "-inf"
    assert decimal(mpmath.nan) == "nan"
    with mpmath.workdps(60):
        assert decimal(mpmath.mpf(1) / 3) == "0." + "3" * 40


class TestCompare:
    def test_bits_equal_to_the_rounded_expectation_pass_exactly(self):
        assert compare(1.0, "1.00000000001", float_to_bits(1.0, "float32"), "float32", "value", "1") == 0.0

    def test_relative_and_absolute_parts(self):
        u = 2.0 ** -24
        # policy_v2: allowed = u * (4 * |exact| + 2 * scale) + 2 * 2^-149; the last term is negligible at 1
        assert compare(1.0 + 2 * u, "1", None, "float32", "value", "0") == pytest.approx(0.5)
        assert compare(1.0 + 8 * u, "1", None, "float32", "value", "0") == pytest.approx(2.0)
        assert compare(1.0 + 8 * u, "1", None, "float32", "value", "2") == pytest.approx(1.0)  # scale: the terms
        # an entry that cancelled to ~0 is judged against its own scale (the terms it was computed from)
        assert compare(1e-9, "0", None, "float32", "gradient", "1") < 1.0
        assert compare(1e-9, "0", None, "float32", "gradient", "0.001") > 1.0

    def test_underflow_allows_two_subnormal_spacings(self):
        tiny = 2.0 ** -1074
        assert compare(3 * tiny, "1e-323", None, "float64", "gradient", "0") <= 1.0  # 2.02 spacings: 1 off
        assert compare(0.0, "1e-320", None, "float64", "gradient", "0") > 1.0  # flushed to zero: 2024 off

    def test_policy_v1_files_keep_their_tolerance(self):
        u = 2.0 ** -24
        # policy_v1: allowed = u * (8 * |exact| + 32 * scale), the scale one per tensor
        assert compare(1.0 + 4 * u, "1", None, "float32", "value", "0", "policy_v1") == pytest.approx(0.5)
        assert scale_at({"scale": "3"}, 5) == "3" and scale_at({"scale": ["1", "2"]}, 1) == "2"

    def test_ulps(self):
        assert ulps(allowed_error("1", "float64", "value", "0"), "1", "float64") == pytest.approx(2.0)  # 4 u
        assert ulps(Decimal(2) ** -24, "1.5", "float32") == pytest.approx(0.5)
        assert ulps(Decimal(2) ** -1074, "0", "float64") == pytest.approx(1.0)

    def test_nan_and_infinities_must_match_exactly(self):
        assert compare(math.nan, "nan", None, "float64", "value", "0") == 0.0
        assert compare(0.0, "nan", None, "float64", "value", "0") == math.inf
        assert compare(math.nan, "1", None, "float64", "value", "1") == math.inf
        assert compare(math.inf, "inf", None, "float16", "value", "0") == 0.0
        assert compare(-math.inf, "inf", None, "float16", "value", "0") == math.inf
        assert compare(65504.0, "inf", None, "float16", "value", "0") == math.inf

    def test_interval(self):
        assert compare_interval(0.0, "-1", "1", "float64", "1") == 0.0
        assert compare_interval(-1.0, "-1", "1", "float64", "1") == 0.0
        assert compare_interval(1.5, "-1", "1", "float64", "1") == math.inf or \
            compare_interval(1.5, "-1", "1", "float64", "1") > 1.0
        assert compare_interval(math.nan, "-1", "1", "float64", "1") == math.inf

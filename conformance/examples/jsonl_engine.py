#!/usr/bin/env python3
"""A stand-alone loss engine that speaks the lossvec-jsonl/1 protocol, to show how any engine is validated.

It uses only the Python standard library (no refloss, no NumPy): a C++, Rust or CUDA engine would do the same
with its own JSON parser. Run it under the validator with

    refloss conformance check --impl "exec:python3 conformance/examples/jsonl_engine.py"

It implements l1_loss, mse_loss, smooth_l1_loss and huber_loss, in float64 and in float32 (float32 is emulated by
rounding every intermediate result to float32 with struct). The protocol is specified in conformance/README.md
("From another language"); this file follows it point by point:

- the hello line lists the functions and dtypes;
- a request without "reduction" gets the default, "mean" (PyTorch's), and parameters it leaves out get theirs;
- "grads" names the gradients wanted ([] for the value alone), "value": false asks for the gradients alone; the
  inputs are validated the same way whatever is asked, so an invalid call is rejected by both;
- a rejection names its category from the suite's vocabulary (shape_mismatch, invalid_parameter, ...).
"""

import json
import math
import struct
import sys

FUNCTIONS = ("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss")
DTYPES = ("float64", "float32")
FORMATS = {"float64": ("<d", "<Q", 16), "float32": ("<f", "<I", 8)}


class Rejected(Exception):
    def __init__(self, category, message):
        super().__init__(message)
        self.category = category


def decode(tensor, dtype):
    float_format, int_format, _ = FORMATS[dtype]
    values = [struct.unpack(float_format, struct.pack(int_format, int(b, 16)))[0] for b in tensor["bits"]]
    return tensor["shape"], values


def encode(shape, values, dtype):
    float_format, int_format, width = FORMATS[dtype]
    bits = [f"{struct.unpack(int_format, struct.pack(float_format, v))[0]:0{width}x}" for v in values]
    return {"shape": shape, "bits": bits}


def rounder(dtype):
    """Round a Python float to the working precision (identity for float64)."""
    if dtype == "float64":
        return lambda x: x
    def to_float32(x):
        try:
            return struct.unpack("<f", struct.pack("<f", x))[0]
        except OverflowError:  # beyond float32's range: round to infinity, as IEEE arithmetic does
            return math.copysign(math.inf, x)
    return to_float32


def sign(d):
    return math.nan if math.isnan(d) else (d > 0) - (d < 0)


def elementwise(function, d, p, r):
    """The loss of one residual and its derivative, rounding every operation with r."""
    a = abs(d)
    if function == "l1_loss":
        return a, sign(d)
    if function == "mse_loss":
        return r(d * d), r(2 * d)
    if function == "smooth_l1_loss":
        beta = p.get("beta", 1.0)
        if beta < 0:
            raise Rejected("invalid_parameter", "beta must be >= 0")
        if a < beta:
            return r(r(r(0.5 * d) * d) / beta), r(d / beta)
        return r(a - r(0.5 * beta)), sign(d)
    if function == "huber_loss":
        delta = p.get("delta", 1.0)
        if not delta > 0:
            raise Rejected("invalid_parameter", "delta must be > 0")
        if a < delta:
            return r(r(0.5 * d) * d), d
        return r(delta * r(a - r(0.5 * delta))), r(delta * sign(d))
    raise Rejected(None, f"unknown function {function}")


def run(request):
    dtype, function = request["dtype"], request["function"]
    reduction = request.get("reduction", "mean")  # absent: this engine's default, PyTorch's
    r = rounder(dtype)
    shape, x = decode(request["inputs"]["input"], dtype)
    target_shape, y = decode(request["inputs"]["target"], dtype)
    if shape != target_shape:
        raise Rejected("shape_mismatch", f"target shape {target_shape} differs from input shape {shape}")
    if reduction not in ("none", "mean", "sum"):
        raise Rejected("invalid_reduction", f"unknown reduction {reduction}")
    params = {k: decode(v, dtype)[1] for k, v in request["params"].items()}
    weight = params.pop("weight", None)
    if weight is not None and (len(weight) != len(x) or any(w < 0 or not math.isfinite(w) for w in weight)):
        raise Rejected("invalid_weight", "weight must be finite, non-negative and shaped like input")
    scalars = {k: v[0] for k, v in params.items()}
    pairs = [elementwise(function, r(a - b), scalars, r) for a, b in zip(x, y)]
    w = weight or [1.0] * len(x)
    losses = [r(wi * loss) for wi, (loss, _) in zip(w, pairs)]
    g = decode(request["cotangent"], dtype)[1] if request["grads"] else None  # no cotangent for the value alone
    divisor = 1.0
    if reduction == "mean":
        # torch's weighted l1/mse means divide by the weight sum, its weighted huber mean by the count
        divisor = math.fsum(w) if (weight is not None and function != "huber_loss") else float(len(x))
    response = {}
    if request.get("value", True):
        if reduction == "none":
            response["value"] = encode(shape, losses, dtype)
        else:
            total = r(math.fsum(losses)) if not any(math.isnan(v) for v in losses) else math.nan
            response["value"] = encode([], [r(total / divisor) if divisor else math.nan], dtype)
    if g is not None:
        if reduction == "none":
            scale = [r(gi * wi) for gi, wi in zip(g, w)]
        else:
            scale = [r(r(g[0] / divisor) * wi) if divisor else math.nan for wi in w]
        grad_input = [r(s * slope) for s, (_, slope) in zip(scale, pairs)]
        grads = {"input": grad_input, "target": [-v for v in grad_input]}
        response["grads"] = {name: encode(shape, grads[name], dtype) for name in request["grads"]}
    return response


def main():
    print(json.dumps({"protocol": "lossvec-jsonl/1", "name": "jsonl_engine.py example",
                      "functions": list(FUNCTIONS), "dtypes": list(DTYPES)}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            response = {"id": request["id"], **run(request)}
        except Rejected as rejection:
            response = {"id": request["id"], "error": {"category": rejection.category, "message": str(rejection)}}
        print(json.dumps(response), flush=True)


if __name__ == "__main__":
    main()

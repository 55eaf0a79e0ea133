"""The ``exec:COMMAND`` adapter: validate any engine (C++, Rust, a CUDA kernel) through a JSON-lines protocol.

Protocol ``lossvec-jsonl/1``. The validator starts ``COMMAND`` and talks to it over stdin/stdout, one JSON object
per line:

1. The engine first writes a hello line::

       {"protocol": "lossvec-jsonl/1", "name": "my-engine 1.0", "functions": ["mse_loss", ...],
        "dtypes": ["float64", "float32"]}

2. For each test the validator writes a request::

       {"id": 7, "function": "mse_loss", "dtype": "float32", "reduction": "mean",
        "params": {"weight": {"shape": [3], "bits": ["3f800000", ...]}},
        "inputs": {"input": {"shape": [3], "bits": [...]}, "target": {...}},
        "cotangent": {"shape": [], "bits": ["3fa00000"]}, "grads": ["input", "target"]}

   Every tensor holds the IEEE bit patterns of its values *in the requested dtype* as lowercase hex, row-major
   (16 hex digits for float64, 8 for float32, 4 for float16 and bfloat16); scalar parameters are shape ``[]``.
   Integer data (class indices, ``ignore_index``) comes as ``{"shape": [...], "ints": [...]}`` instead.
   Parameters not in ``params`` take the function's defaults (PyTorch's).

3. The engine answers with one line, in the same dtype::

       {"id": 7, "value": {"shape": [], "bits": ["..."]},
        "grads": {"input": {"shape": [3], "bits": [...]}, "target": {...}}}

   or, when it rejects the call (the expected outcome of an ``invalid`` vector)::

       {"id": 7, "error": {"category": "shape_mismatch", "message": "..."}}

   ``category`` may be null when the engine cannot tell.

4. The validator closes the engine's stdin when done; the engine exits.

``conformance/examples/jsonl_engine.py`` is a complete engine in plain Python (standard library only) that
follows this protocol.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

import numpy as np

from refloss.adapters.base import Adapter, Rejected, Result
from refloss.conformance.encoding import bits_to_float, float_to_bits

__all__ = ["JsonLinesAdapter", "PROTOCOL"]

PROTOCOL = "lossvec-jsonl/1"


def encode_tensor(array: np.ndarray, dtype: str) -> dict[str, Any]:
    """A tensor in ``dtype``'s bit patterns (values must be exact in ``dtype``; the vectors guarantee it), or
    JSON integers for integer data (class indices, ignore_index)."""
    array = np.asarray(array)
    if array.dtype.kind in "iu":
        return {"shape": list(array.shape), "ints": [int(v) for v in array.ravel()]}
    array = array.astype(np.float64)
    return {"shape": list(array.shape), "bits": [float_to_bits(float(v), dtype) for v in array.ravel()]}


def decode_tensor(tensor: dict[str, Any], dtype: str) -> np.ndarray:
    return np.array([bits_to_float(b, dtype) for b in tensor["bits"]], dtype=np.float64).reshape(tensor["shape"])


class JsonLinesAdapter(Adapter):
    def __init__(self, command: str):
        self.command = command
        self.process = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        hello = json.loads(self._readline("hello"))
        if hello.get("protocol") != PROTOCOL:
            raise RuntimeError(f"{command!r} speaks {hello.get('protocol')!r}, not {PROTOCOL!r}")
        self.name = f"exec:{command}"
        self.engine = hello.get("name", command)
        self.functions = set(hello["functions"])
        self.dtypes = tuple(hello["dtypes"])
        self.next_id = 0

    def _readline(self, what: str) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"engine {self.command!r} closed its output instead of sending the {what}")
        return line

    def supports(self, loss: str) -> bool:
        return loss in self.functions

    def run(self, loss, inputs, params, reduction, cotangent, dtype) -> Result:
        self.next_id += 1
        request = {"id": self.next_id, "function": loss, "dtype": dtype, "reduction": reduction,
                   "params": {k: encode_tensor(np.asarray(v), dtype) for k, v in params.items()},
                   "inputs": {k: encode_tensor(v, dtype) for k, v in inputs.items()},
                   "cotangent": encode_tensor(cotangent, dtype), "grads": list(inputs)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        response = json.loads(self._readline(f"answer to request {self.next_id}"))
        if response.get("id") != self.next_id:
            raise RuntimeError(f"engine answered id {response.get('id')} to request {self.next_id}")
        if "error" in response:
            raise Rejected(response["error"].get("category"), response["error"].get("message", ""))
        return Result(decode_tensor(response["value"], dtype),
                      {k: decode_tensor(v, dtype) for k, v in response.get("grads", {}).items()})

    def describe(self) -> str:
        return f"{self.engine} via {PROTOCOL}"

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()



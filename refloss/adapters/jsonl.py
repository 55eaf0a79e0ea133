"""The ``exec:COMMAND`` adapter: validate any engine (C++, Rust, a CUDA kernel) through a JSON-lines protocol.

The protocol, ``lossvec-jsonl/1``, is specified in the conformance suite's spec page (``conformance/README.md``,
"From another language: the JSON-lines protocol"), completely enough to write an engine from it alone;
``conformance/examples/jsonl_engine.py`` is a complete engine in plain Python. This module is the validator's
side: it starts the engine, checks its hello, sends one request per run and decodes the answers.

What it guards against, so that a broken engine gives a message rather than a traceback or a hang: a command that
does not exist, an engine that exits or hangs (every answer, the hello included, must come within ``timeout``
seconds, else the engine is killed), another protocol, a line that is not JSON (shown, truncated), answers with the
wrong id or malformed tensors. Problems with one answer fail that test; an engine that crashes, hangs or loses
the thread of the conversation raises :class:`EngineFailure`, shown with its exit status and the last lines it
wrote to stderr.
"""

from __future__ import annotations

import collections
import json
import math
import queue
import re
import shlex
import signal
import subprocess
import threading
from typing import Any

import numpy as np

from refloss._registry import REGISTRY, get
from refloss.adapters.base import Adapter, EngineFailure, Rejected, Result, Unsupported, wanted_gradients
from refloss.conformance.encoding import DTYPES, bits_to_float, float_to_bits

__all__ = ["DEFAULT_TIMEOUT", "JsonLinesAdapter", "PROTOCOL", "ProtocolError"]

PROTOCOL = "lossvec-jsonl/1"
DEFAULT_TIMEOUT = 60.0  # seconds per answer: generous for a debug build, short enough to notice a hang
_STDERR_LINES = 15  # how much of the engine's stderr a failure shows
_SHOWN = 200  # characters of an offending line to show



def _encode_param(value: Any, dtype: str) -> Any:
    """A parameter as the protocol sends it: a string as {"choice": ...}, a flag as {"boolean": ...}, else a tensor
    in the request dtype."""
    if isinstance(value, str):
        return {"choice": value}
    if isinstance(value, (bool, np.bool_)):
        return {"boolean": bool(value)}
    return encode_tensor(np.asarray(value), dtype)

class ProtocolError(ValueError):
    """An answer that breaks the protocol for one request (a malformed tensor, a missing value): that test fails."""


def encode_tensor(array: np.ndarray, dtype: str) -> dict[str, Any]:
    """A tensor in ``dtype``'s bit patterns (values must be exact in ``dtype``; the vectors guarantee it), or
    JSON integers for integer data (class indices, ignore_index, p)."""
    array = np.asarray(array)
    if array.dtype.kind in "iu":
        return {"shape": list(array.shape), "ints": [int(v) for v in array.ravel()]}
    array = array.astype(np.float64)
    return {"shape": list(array.shape), "bits": [float_to_bits(float(v), dtype) for v in array.ravel()]}


def decode_tensor(tensor: Any, dtype: str, what: str) -> np.ndarray:
    """A float64 array from an engine's tensor, or a :class:`ProtocolError` that says what is wrong with it."""
    if not isinstance(tensor, dict) or not isinstance(tensor.get("shape"), list) or \
            not isinstance(tensor.get("bits"), list):
        raise ProtocolError(f"{what} must be {{\"shape\": [...], \"bits\": [...]}}; got {_shorten(json.dumps(tensor))}")
    shape, bits = tensor["shape"], tensor["bits"]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ProtocolError(f"{what} has shape {shape}: a list of non-negative integers is expected")
    size = math.prod(shape)
    if len(bits) != size:
        raise ProtocolError(f"{what} has {len(bits)} bit patterns for shape {shape}, which holds {size}")
    digits = DTYPES[dtype].width // 4
    pattern = re.compile(f"[0-9a-fA-F]{{{digits}}}")
    for i, b in enumerate(bits):
        if not isinstance(b, str) or not pattern.fullmatch(b):
            raise ProtocolError(f"{what} entry {i} is {b!r}: a {dtype} bit pattern is {digits} hex digits")
    return np.array([bits_to_float(b, dtype) for b in bits], dtype=np.float64).reshape(shape)


def _shorten(text: str) -> str:
    text = text.rstrip("\n")
    return repr(text) if len(text) <= _SHOWN else repr(text[:_SHOWN]) + f" ... ({len(text)} characters)"


def _exit_status(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class JsonLinesAdapter(Adapter):
    """Runs the vectors on an engine started as ``command`` (split like a shell command line, not run by a shell)."""

    def __init__(self, command: str, timeout: float = DEFAULT_TIMEOUT):
        self.command = command
        self.name = f"exec:{command}"
        self.timeout = timeout
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}")
        try:
            argv = shlex.split(command)
        except ValueError as error:
            raise ValueError(f"exec:{command}: cannot split the command ({error})") from None
        if not argv:
            raise ValueError("exec: needs the command that starts the engine, e.g. exec:./my_engine or "
                             "\"exec:python3 my_engine.py\"")
        try:
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise ValueError(f"exec:{command}: no program {argv[0]!r} found (give its path, e.g. ./{argv[0]}, or "
                             f"put it on PATH)") from None
        except PermissionError:
            raise ValueError(f"exec:{command}: {argv[0]!r} is not executable (chmod +x it, or name its "
                             f"interpreter: exec:python3 {argv[0]})") from None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()
        self.next_id = 0
        try:
            self._read_hello(self._receive("its hello line"))
        except BaseException:
            self._kill()
            self.close()
            raise

    # ---- the conversation ---------------------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)  # end of output

    def _read_stderr(self) -> None:
        for line in self.process.stderr:  # drained continuously so that a chatty engine never blocks on it
            self._stderr.append(line.rstrip("\n"))

    def _failure(self, what: str) -> EngineFailure:
        """An EngineFailure with the engine's exit status (it is killed if still running) and its stderr tail."""
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._kill()
            code = self.process.returncode
        self._threads[1].join(timeout=2)  # let the last stderr lines arrive
        tail = "\n".join(f"    {line}" for line in self._stderr)
        stderr = f"; the last lines of its stderr:\n{tail}" if tail else "; it wrote nothing to stderr"
        return EngineFailure(f"engine {self.command!r} {what} ({_exit_status(code)}){stderr}")

    def _receive(self, what: str) -> str:
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            self._kill()
            raise self._failure(f"sent nothing for {self.timeout:g} s while the validator waited for {what}, and "
                                "was killed (raise --timeout if it is only slow)") from None
        if line is None:
            raise self._failure(f"exited before sending {what}")
        return line

    def _parse(self, line: str, what: str) -> dict[str, Any]:
        try:
            message = json.loads(line)
        except json.JSONDecodeError as error:
            self._kill()
            raise EngineFailure(f"engine {self.command!r} sent a line that is not JSON as {what} ({error.msg}): "
                                f"{_shorten(line)}; stdout is for protocol lines only (write logs to stderr)") from None
        if not isinstance(message, dict):
            self._kill()
            raise EngineFailure(f"engine {self.command!r} sent {_shorten(line)} as {what}; a JSON object is expected")
        return message

    def _send(self, request: dict[str, Any]) -> None:
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._failure(f"stopped reading its input before request {request['id']}") from None

    def _read_hello(self, line: str) -> None:
        hello = self._parse(line, "its hello line")
        if hello.get("protocol") != PROTOCOL:
            raise EngineFailure(f"engine {self.command!r} speaks {hello.get('protocol')!r}, not {PROTOCOL!r} (the only "
                                f"protocol this validator speaks); its hello was {_shorten(line)}")
        functions, dtypes = hello.get("functions"), hello.get("dtypes")
        if not (isinstance(functions, list) and all(isinstance(f, str) for f in functions)) or \
                not (isinstance(dtypes, list) and all(isinstance(d, str) for d in dtypes)):
            raise EngineFailure(f"engine {self.command!r}: the hello must list \"functions\" and \"dtypes\" as lists "
                                f"of strings; got {_shorten(line)}")
        unknown_functions = [f for f in functions if f not in REGISTRY]
        unknown_dtypes = [d for d in dtypes if d not in DTYPES]
        if unknown_functions or unknown_dtypes:
            problems = []
            if unknown_functions:
                problems.append(f"unknown functions {', '.join(unknown_functions)} (the suite has "
                                f"{', '.join(REGISTRY)})")
            if unknown_dtypes:
                problems.append(f"unknown dtypes {', '.join(unknown_dtypes)} (choose from {', '.join(DTYPES)})")
            raise EngineFailure(f"engine {self.command!r} advertises {'; and '.join(problems)}")
        if not isinstance(hello.get("defaults", True), bool):
            raise EngineFailure(f"engine {self.command!r}: \"defaults\" in the hello must be true or false; got "
                                f"{hello['defaults']!r}")
        self.engine = str(hello.get("name", self.command))
        self.functions = set(functions)
        self.dtypes = tuple(d for d in DTYPES if d in dtypes)
        self.defaults = hello.get("defaults", True)

    # ---- the adapter ----------------------------------------------------------------------------------------

    def supports(self, loss: str) -> bool:
        return loss in self.functions

    def run(self, loss, inputs, params, reduction, cotangent, dtype, *, value=True, grads=None) -> Result:
        wanted = wanted_gradients(loss, grads, inputs)
        if reduction is None and get(loss).kind == "loss" and not self.defaults:  # (other kinds have no reduction)
            raise Unsupported("the engine's hello says \"defaults\": false: it has no default parameters to check")
        self.next_id += 1
        request: dict[str, Any] = {"id": self.next_id, "function": loss, "dtype": dtype}
        if reduction is not None:  # absent: the engine's default reduction
            request["reduction"] = reduction
        request["params"] = {k: _encode_param(v, dtype) for k, v in params.items()}
        request["inputs"] = {k: encode_tensor(v, dtype) for k, v in inputs.items()}
        if wanted:
            request["cotangent"] = encode_tensor(cotangent, dtype)
        request["grads"] = list(wanted)
        if not value:
            request["value"] = False
        self._send(request)
        what = f"the answer to request {self.next_id} ({loss}, {dtype})"
        response = self._parse(self._receive(what), what)
        if response.get("id") != self.next_id:
            self._kill()
            raise EngineFailure(f"engine {self.command!r} answered with id {response.get('id')!r} to request "
                                f"{self.next_id}: answers must come in order, one per request")
        if "error" in response:
            error = response["error"]
            if not isinstance(error, dict) or not isinstance(error.get("category"), (str, type(None))):
                raise ProtocolError(f"{what}: \"error\" must be {{\"category\": a string or null, \"message\": "
                                    f"...}}; got {_shorten(json.dumps(error))}")
            raise Rejected(error.get("category"), str(error.get("message", "")))
        result_value = None
        if value:
            if "value" not in response:
                raise ProtocolError(f"{what} has neither \"value\" nor \"error\"")
            result_value = decode_tensor(response["value"], dtype, f"{what}: the value")
        gradients = response.get("grads", {})
        if not isinstance(gradients, dict):
            raise ProtocolError(f"{what}: \"grads\" must be an object {{input name: tensor}}")
        return Result(result_value, {name: decode_tensor(gradients[name], dtype, f"{what}: the gradient of {name}")
                                     if name in gradients else None for name in wanted})

    def describe(self) -> str:
        return f"{self.engine} via {PROTOCOL}"

    def _kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        """Close the engine's input (its signal to exit), wait up to 10 s, then kill it."""
        if self.process.stdout.closed:
            return  # closed already
        try:
            self.process.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._kill()
        for thread in self._threads:
            thread.join(timeout=2)
        self.process.stdout.close()
        self.process.stderr.close()

"""``refloss bench``: how fast refloss's forward plus VJP is, against PyTorch, autograd and a memory copy.

Every (loss, size) cell times up to five contenders in one process, interleaved:

* ``separate``: ``refloss.<loss>(...)`` then ``refloss.<loss>_vjp(1.0, ...)`` (``box_iou``: the forward only);
* ``fused``: ``refloss.value_and_vjp("<loss>", 1.0, ...)``;
* ``torch``: PyTorch on one CPU thread, forward then ``torch.autograd.grad`` with respect to exactly the inputs
  refloss differentiates (``box_iou``: forward only);
* ``autograd``: ``autograd.grad`` of ``lambda *d: refloss.<loss>(*d, **params)`` with respect to the same inputs;
* ``memcpy``: ``np.copyto`` of every input into a preallocated array of its shape (``box_iou``: of its result), a
  floor set by memory bandwidth.

Each repetition runs every contender once, in an order rotated by one place per repetition, so that a slow
moment of a shared machine falls on every contender alike. A contender's figure is the median over repetitions of
its seconds per call; a ratio such as separate/torch is the median over repetitions of the ratio within each
repetition (a paired ratio), not the ratio of the medians. Small calls are repeated within a sample until it lasts
about a millisecond, and the figure is per call.

The peak extra memory of the elementwise losses is tracemalloc's peak during one untimed call (NumPy reports its
allocations to tracemalloc) minus the bytes the call returns, in units of one input's bytes.

The whole description, with the definitions of "size", is in docs/performance.md and ``refloss bench --help``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import refloss

__all__ = ["main", "add_arguments", "run", "LOSSES", "DEFAULT_SIZES"]

DEFAULT_SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
QUICK_SIZES = (10**3, 10**4)
QUICK_REPEATS = 3
DEFAULT_REPEATS = 15
DEFAULT_BUDGET = 2.0  # seconds of timed repetitions per (loss, size) cell, beyond which repeats are reduced
MIN_REPEATS = 3
SAMPLE_SECONDS = 1e-3  # a timed sample repeats a fast call until it lasts about this long
AUTOGRAD_CAP = 10**6  # autograd through the forward: slow and memory-hungry beyond this size
TARGET_SIZE = 10**6  # the targets are stated at 1e6 unless they say otherwise
SMALL_SIZE = 10**3  # ... and the per-call target at 1e3
CONTENDERS = ("separate", "fused", "torch", "autograd", "memcpy")


def _residual_pair(size: int, rng: np.random.Generator) -> tuple:
    return rng.normal(0.0, 1.0, size), rng.normal(0.0, 1.0, size)


def _logits_and_labels(size: int, rng: np.random.Generator) -> tuple:
    """BCE: logits N(0, 2^2), hard 0/1 targets with 30% ones."""
    return rng.normal(0.0, 2.0, size), (rng.random(size) < 0.3).astype(np.float64)


def _dense_detection(size: int, rng: np.random.Generator) -> tuple:
    """Sigmoid focal: logits N(0, 1), about 1% positive labels (anchors against classes, mostly background)."""
    return rng.normal(0.0, 1.0, size), (rng.random(size) < 0.01).astype(np.float64)


CE_CLASSES = 80
CE_ELEMENTS_PER_SAMPLE = 10  # size 1e6 is 100,000 samples x 80 classes, the case


def _classes(size: int, rng: np.random.Generator) -> tuple:
    """Cross-entropy: size/10 samples x 80 classes, logits N(0, 1), labels uniform over the classes."""
    samples = max(1, size // CE_ELEMENTS_PER_SAMPLE)
    return rng.normal(0.0, 1.0, (samples, CE_CLASSES)), rng.integers(0, CE_CLASSES, samples)


def _boxes(count: int, rng: np.random.Generator, image: float = 1000.0) -> np.ndarray:
    """``count`` valid xyxy boxes: top-left corners uniform in the image, sides uniform in [10, 200)."""
    corner = rng.uniform(0.0, image, (count, 2))
    side = rng.uniform(10.0, 200.0, (count, 2))
    return np.concatenate([corner, corner + side], axis=1)


def _box_pairs(size: int, rng: np.random.Generator) -> tuple:
    """giou/ciou: ``size`` (prediction, target) pairs; each prediction is its target with every coordinate moved
    by N(0, (0.2 side)^2), then reordered to stay valid, so that nearly every pair overlaps, as in training."""
    target = _boxes(size, rng)
    side = np.tile(target[:, 2:] - target[:, :2], 2)
    moved = target + rng.normal(0.0, 0.2, target.shape) * side
    prediction = np.concatenate([np.minimum(moved[:, :2], moved[:, 2:]), np.maximum(moved[:, :2], moved[:, 2:])],
                                axis=1)
    return prediction, target


def _box_sets(size: int, rng: np.random.Generator) -> tuple:
    """box_iou: two sets of round(sqrt(size)) boxes in a 500 x 500 image (so that many pairs overlap)."""
    count = max(1, round(math.sqrt(size)))
    return _boxes(count, rng, image=500.0), _boxes(count, rng, image=500.0)


@dataclass(frozen=True)
class Case:
    """One benchmarked function: how to make its inputs at a size, and how PyTorch computes the same thing.

    Attributes:
        name: The refloss name.
        kind: ``elementwise`` (peak memory is reported), ``classes``, ``box pairs`` or ``pairwise`` (forward only).
        make_inputs: ``(size, rng) -> inputs``; see ``size_meaning``.
        size_meaning: What ``size`` counts, for the table and the docs.
        differentiated: Indices of the inputs refloss returns a gradient for; torch and autograd differentiate the
            same ones.
        torch_function: Dotted name of the PyTorch equivalent (``torchvision.ops.*`` is imported lazily).
        params: Keyword arguments for both sides (``reduction="mean"`` for every loss).
        cap: Largest size run by default (above it the cell is skipped and the table says why).
        separate_target: The issue's bound on separate/torch at 1e6 (None: the issue sets none).
    """

    name: str
    kind: str
    make_inputs: Callable[[int, np.random.Generator], tuple]
    size_meaning: str
    differentiated: tuple[int, ...]
    torch_function: str
    params: dict = field(default_factory=dict)
    cap: int = 10**7
    separate_target: float | None = 1.0

    @property
    def has_vjp(self) -> bool:
        return self.kind != "pairwise"


MEAN = {"reduction": "mean"}
LOSSES: dict[str, Case] = {case.name: case for case in [
    Case("smooth_l1_loss", "elementwise", _residual_pair, "elements of the input", (0, 1),
         "torch.nn.functional.smooth_l1_loss", MEAN),
    Case("mse_loss", "elementwise", _residual_pair, "elements of the input", (0, 1),
         "torch.nn.functional.mse_loss", MEAN),
    Case("binary_cross_entropy_with_logits", "elementwise", _logits_and_labels, "elements of the input", (0, 1),
         "torch.nn.functional.binary_cross_entropy_with_logits", MEAN, separate_target=1.3),
    Case("sigmoid_focal_loss", "elementwise", _dense_detection, "elements of the input", (0,),
         "torchvision.ops.sigmoid_focal_loss", {"reduction": "mean", "alpha": 0.25, "gamma": 2.0}),
    Case("cross_entropy", "classes", _classes, "size/10 samples x 80 classes", (0,),
         "torch.nn.functional.cross_entropy", MEAN, cap=10**6),
    Case("giou_loss", "box pairs", _box_pairs, "box pairs, inputs (size, 4)", (0, 1),
         "torchvision.ops.generalized_box_iou_loss", {"reduction": "mean", "eps": 1e-7}, cap=10**6,
         separate_target=None),
    Case("ciou_loss", "box pairs", _box_pairs, "box pairs, inputs (size, 4)", (0, 1),
         "torchvision.ops.complete_box_iou_loss", {"reduction": "mean", "eps": 1e-7}, cap=10**6,
         separate_target=None),
    Case("box_iou", "pairwise", _box_sets, "IoU matrix entries: sqrt(size) x sqrt(size) boxes", (),
         "torchvision.ops.box_iou", {}, separate_target=None),
]}


# ---------------------------------------------------------------------------------------------------------------
# The contenders: zero-argument callables over inputs made once per cell.

def _refloss_separate(case: Case, inputs: tuple) -> Callable[[], Any]:
    forward = getattr(refloss, case.name)
    if not case.has_vjp:
        return lambda: forward(*inputs, **case.params)
    vjp = getattr(refloss, case.name + "_vjp")
    return lambda: (forward(*inputs, **case.params), vjp(1.0, *inputs, **case.params))


def _refloss_fused(case: Case, inputs: tuple) -> Callable[[], Any]:
    return lambda: refloss.value_and_vjp(case.name, 1.0, *inputs, **case.params)


def _autograd(case: Case, inputs: tuple) -> Callable[[], Any]:
    import autograd

    forward = getattr(refloss, case.name)
    gradient = autograd.grad(lambda *d: forward(*d, **case.params), argnum=case.differentiated)
    return lambda: gradient(*inputs)


def _memcpy(case: Case, inputs: tuple) -> Callable[[], Any]:
    """np.copyto of the inputs (box_iou: of its result matrix) into arrays allocated once, outside the timing."""
    if case.kind == "pairwise":
        sources = [np.full((len(inputs[0]), len(inputs[1])), 0.5)]
    else:
        sources = list(inputs)
    destinations = [np.empty_like(source) for source in sources]

    def copy() -> None:
        for destination, source in zip(destinations, sources):
            np.copyto(destination, source)

    return copy


def _import_torch() -> Any:
    """torch limited to one thread, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def _torch_function(dotted: str) -> Callable:
    """The PyTorch function named ``dotted``; torchvision is imported only here (its import is slow)."""
    module_name, _, attribute = dotted.rpartition(".")
    module = __import__(module_name, fromlist=[attribute])
    return getattr(module, attribute)


def _torch(case: Case, inputs: tuple, torch: Any) -> Callable[[], Any]:
    function = _torch_function(case.torch_function)
    tensors = [torch.from_numpy(np.ascontiguousarray(x)) for x in inputs]  # shares memory; float64 stays float64
    leaves = [tensors[i].requires_grad_() for i in case.differentiated]
    if not case.has_vjp:
        def forward_only() -> Any:
            with torch.no_grad():
                return function(*tensors, **case.params)
        return forward_only
    return lambda: torch.autograd.grad(function(*tensors, **case.params), leaves)


# ---------------------------------------------------------------------------------------------------------------
# Timing

def _seconds_per_call(function: Callable[[], Any], calls: int) -> float:
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection triggered by one contender must not be charged to it
    try:
        start = time.perf_counter()
        for _ in range(calls):
            function()
        return (time.perf_counter() - start) / calls
    finally:
        if gc_was_enabled:
            gc.enable()


def _calls_per_sample(function: Callable[[], Any]) -> tuple[int, float]:
    """Warm up ``function`` (untimed), then estimate one call and how many calls make a sample of ~1 ms."""
    start = time.perf_counter()
    function()
    warm_up = time.perf_counter() - start
    estimate = warm_up if warm_up > 0.05 else _seconds_per_call(function, 1)  # slow calls: one call is enough
    return max(1, min(10_000, math.ceil(SAMPLE_SECONDS / max(estimate, 1e-9)))), estimate


def interleaved(functions: dict[str, Callable[[], Any]], calls: dict[str, int], repeats: int,
                progress: Callable[[str], None] = lambda text: None) -> dict[str, list[float]]:
    """Seconds per call of each function in each repetition: every repetition runs every function once, the
    order rotated by one place per repetition (A B C, B C A, C A B, ...), so that no contender always runs first
    (after a cache-cold pause) or right after the same neighbour."""
    names = list(functions)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for repetition in range(repeats):
        progress(f"repetition {repetition + 1}/{repeats}")
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(_seconds_per_call(functions[name], calls[name]))
    return seconds


def _paired_ratio(numerator: list[float] | None, denominator: list[float] | None) -> float | None:
    if not numerator or not denominator:
        return None
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def _peak_extra_memory(function: Callable[[], Any], input_bytes: int) -> float:
    """tracemalloc's peak during one call minus the bytes of what it returns, in units of ``input_bytes``."""
    gc.collect()
    already_tracing = tracemalloc.is_tracing()  # (python -X tracemalloc): leave the caller's tracing running
    if not already_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        result = function()
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        if not already_tracing:
            tracemalloc.stop()
    return (peak - _bytes_of(result)) / input_bytes


def _bytes_of(result: Any) -> int:
    if isinstance(result, np.ndarray):
        return result.nbytes
    if isinstance(result, (tuple, list)):
        return sum(_bytes_of(item) for item in result)
    return 0


@dataclass
class Cell:
    """The measurements of one (loss, size): what the JSON holds per row."""

    loss: str
    size: int
    shape: str
    measures: str
    repeats: int = 0
    seconds: dict[str, list[float]] = field(default_factory=dict)  # per-call seconds of each repetition
    skipped: dict[str, str] = field(default_factory=dict)  # contender -> why it was not run
    memory: dict[str, float] = field(default_factory=dict)  # separate/fused -> peak extra memory, input units

    def median(self, contender: str) -> float | None:
        samples = self.seconds.get(contender)
        return statistics.median(samples) if samples else None

    def ratio(self, numerator: str, denominator: str) -> float | None:
        return _paired_ratio(self.seconds.get(numerator), self.seconds.get(denominator))

    def ratios(self) -> dict[str, float | None]:
        return {"separate/torch": self.ratio("separate", "torch"), "fused/torch": self.ratio("fused", "torch"),
                "autograd/separate": self.ratio("autograd", "separate"),
                "autograd/fused": self.ratio("autograd", "fused"),
                "separate/memcpy": self.ratio("separate", "memcpy"), "fused/memcpy": self.ratio("fused", "memcpy")}

    def to_json(self) -> dict:
        contenders = {}
        for name in CONTENDERS:
            median = self.median(name)
            contenders[name] = None if median is None else {
                "median_seconds": median, "ns_per_element": median / self.size * 1e9, "samples": self.seconds[name]}
        return {"loss": self.loss, "size": self.size, "shape": self.shape, "measures": self.measures,
                "repeats": self.repeats, "contenders": contenders, "skipped": self.skipped,
                "ratios": self.ratios(), "peak_extra_memory": self.memory or None}


def _shape_text(inputs: tuple) -> str:
    return ", ".join(" x ".join(map(str, x.shape)) for x in inputs)


def measure(case: Case, size: int, *, repeats: int, budget: float, seed: int, torch: Any, torch_missing: str,
            progress: Callable[[str], None] = lambda text: None) -> Cell:
    """Time every contender on ``case`` at ``size`` (interleaved, rotating order) and measure its peak memory."""
    inputs = case.make_inputs(size, np.random.default_rng(seed))
    cell = Cell(case.name, size, _shape_text(inputs), "forward + VJP" if case.has_vjp else "forward only")
    functions: dict[str, Callable[[], Any]] = {"separate": _refloss_separate(case, inputs)}
    if case.has_vjp:
        functions["fused"] = _refloss_fused(case, inputs)
    else:
        cell.skipped["fused"] = cell.skipped["autograd"] = f"{case.name} has no VJP (by design)"
    if torch is None:
        cell.skipped["torch"] = torch_missing
    else:
        try:
            functions["torch"] = _torch(case, inputs, torch)
        except ImportError as error:  # torch without torchvision
            cell.skipped["torch"] = f"not installed ({error.name})"
    if case.has_vjp:
        if size <= AUTOGRAD_CAP:
            functions["autograd"] = _autograd(case, inputs)
        else:
            cell.skipped["autograd"] = f"size above {size_text(AUTOGRAD_CAP)} (autograd's cap)"
    functions["memcpy"] = _memcpy(case, inputs)

    calls, rep_seconds = {}, 0.0
    for name, function in functions.items():
        progress(f"warming up {name}")
        calls[name], estimate = _calls_per_sample(function)
        rep_seconds += calls[name] * estimate
    cell.repeats = max(min(MIN_REPEATS, repeats), min(repeats, int(budget / max(rep_seconds, 1e-9))))
    cell.seconds = interleaved(functions, calls, cell.repeats, progress)

    if case.kind == "elementwise":
        progress("peak memory")
        for name in ("separate", "fused"):
            cell.memory[name] = _peak_extra_memory(functions[name], inputs[0].nbytes)
    return cell


# ---------------------------------------------------------------------------------------------------------------
# The run and its report

@dataclass(frozen=True)
class Target:
    """One of the issue's targets, checked on one loss's cell."""

    loss: str
    description: str
    size: int
    ratio: str  # a key of Cell.ratios(), or "memory:separate"/"memory:fused"
    bound: float
    at_least: bool = False  # the ratio must be >= bound (autograd/separate), else <= bound

    def met(self, value: float | None) -> bool | None:
        """Whether ``value`` meets the bound, judged as printed (two decimals): the memory figures carry a constant
        few kB of Python objects (3.00003x an input at 1e7), which must not turn 3.00x into "NOT met"."""
        if value is None:
            return None
        shown = round(value, 2)
        return shown >= self.bound if self.at_least else shown <= self.bound

    def measured(self, cells: dict[tuple[str, int], Cell]) -> float | None:
        cell = cells.get((self.loss, self.size))
        if cell is None:
            return None
        if self.ratio.startswith("memory:"):
            return cell.memory.get(self.ratio.split(":")[1])
        return cell.ratios()[self.ratio]


def targets_for(case: Case) -> list[Target]:
    """The issue's targets that apply to ``case``: ratios at 1e6, per-call cost at 1e3, memory at 1e6."""
    if not case.has_vjp:
        return []
    found = []
    if case.separate_target is not None:
        found.append(Target(case.name, f"separate <= {case.separate_target:.1f}x torch at 1e6", TARGET_SIZE,
                            "separate/torch", case.separate_target))
    found += [Target(case.name, "fused <= 1.0x torch at 1e6", TARGET_SIZE, "fused/torch", 1.0),
              Target(case.name, "autograd >= 5x separate at 1e6", TARGET_SIZE, "autograd/separate", 5.0, True),
              Target(case.name, "separate per call <= torch at 1e3", SMALL_SIZE, "separate/torch", 1.0)]
    if case.kind == "elementwise":
        found += [Target(case.name, f"peak extra memory <= 3x input at 1e6 ({which})", TARGET_SIZE,
                         f"memory:{which}", 3.0) for which in ("separate", "fused")]
    return found


def machine() -> dict:
    """CPU model, logical cores and versions: printed above the table and stored in the JSON."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for package in ("torch", "torchvision", "autograd"):
        try:
            from importlib.metadata import version
            versions[package] = version(package)
        except Exception:  # PackageNotFoundError, or metadata unreadable: the version is unknown, not fatal
            versions[package] = "not installed"
    return {"cpu": cpu, "logical_cores": os.cpu_count(), "platform": platform.platform(), **versions,
            "refloss_commit": _commit()}


def _commit() -> str | None:
    """The git commit of the refloss checkout being measured ("+dirty" with uncommitted changes), if any."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def size_text(size: int) -> str:
    """1000 as "1e3", 2_000_000 as "2e6", 1500 as "1500": short, and exact."""
    mantissa, exponent = f"{size:e}".split("e")
    if size >= 1000 and float(mantissa).is_integer():
        return f"{int(float(mantissa))}e{int(exponent)}"
    return str(size)


def _seconds_text(seconds: float | None, reason: str | None) -> str:
    if seconds is None:
        return "-" if reason is None else "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _ns_text(nanoseconds: float) -> str:
    return f"{nanoseconds:.0f}" if nanoseconds >= 100 else f"{nanoseconds:.3g}"


def _ratio_text(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


TABLE_HEADER = ("loss", "size", "separate", "fused", "torch 1t", "autograd", "memcpy", "sep/torch", "fused/torch",
                "autograd/sep", "sep/memcpy", "ns/el sep", "ns/el fused", "mem sep", "mem fused")


def table_rows(cells: list[Cell]) -> list[tuple[str, ...]]:
    rows = []
    for cell in cells:
        ratios = cell.ratios()
        per_element = [cell.median(name) for name in ("separate", "fused")]
        rows.append((cell.loss, f"{size_text(cell.size)}",
                     *[_seconds_text(cell.median(name), cell.skipped.get(name)) for name in CONTENDERS],
                     *[_ratio_text(ratios[key]) for key in ("separate/torch", "fused/torch", "autograd/separate",
                                                            "separate/memcpy")],
                     *["-" if s is None else _ns_text(s / cell.size * 1e9) for s in per_element],
                     *[f"{cell.memory[name]:.2f}x" if name in cell.memory else "-" for name in ("separate", "fused")]))
    return rows


def _notes(cells: list[Cell]) -> list[str]:
    """One line per distinct reason a contender was not run ("n/a" in the table)."""
    reasons: dict[str, list[str]] = {}
    for cell in cells:
        for contender, reason in cell.skipped.items():
            entry = f"{contender}: {reason}"
            where = f"{cell.loss} {size_text(cell.size)}"
            reasons.setdefault(entry, []).append(where)
    return [f"n/a  {entry} ({', '.join(where) if len(where) <= 3 else f'{len(where)} cells'})"
            for entry, where in reasons.items()]


def target_rows(cells: list[Cell], cases: Sequence[Case]) -> list[tuple[str, ...]]:
    by_key = {(cell.loss, cell.size): cell for cell in cells}
    rows = []
    for case in cases:
        for target in targets_for(case):
            value = target.measured(by_key)
            verdict = {None: "not measured", True: "met", False: "NOT met"}[target.met(value)]
            rows.append((target.loss, target.description, "-" if value is None else f"{value:.2f}x", verdict))
    return rows


def _plain_table(header: Sequence[str], rows: list[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in [header, ["-" * w for w in widths], *rows]]
    return "\n".join(line.rstrip() for line in lines)


def _markdown_table(header: Sequence[str], rows: list[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] * 2 + [" ---: "] * (len(header) - 2)) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _machine_lines(info: dict) -> list[str]:
    return [f"machine: {info['cpu']}, {info['logical_cores']} logical cores, {info['platform']}",
            f"versions: Python {info['python']}, NumPy {info['numpy']}, torch {info['torch']}, "
            f"torchvision {info['torchvision']}, autograd {info['autograd']}; refloss commit "
            f"{info['refloss_commit'] or 'unknown'}",
            "float64 throughout; torch on 1 thread (torch.set_num_threads(1)); times are medians per call"]


LEGEND = ("separate = refloss forward + VJP calls; fused = refloss.value_and_vjp; torch 1t = PyTorch forward + "
          "autograd.grad on one thread; autograd = autograd.grad through refloss's forward; memcpy = np.copyto of "
          "the inputs into preallocated arrays (box_iou: of its result). Ratios are medians of per-repetition "
          "ratios; ns/el = nanoseconds per element of 'size'; mem = tracemalloc peak during one call minus the "
          "returned bytes, in units of one input's bytes (elementwise losses only). box_iou: forward only.")


def _not_run_note(not_run: Sequence[str]) -> list[str]:
    return [f"not run (default caps; pass --sizes to run them): {'; '.join(not_run)}"] if not_run else []


def report_text(cells: list[Cell], cases: Sequence[Case], info: dict, not_run: Sequence[str] = ()) -> str:
    notes = _notes(cells) + _not_run_note(not_run)
    parts = ["\n".join(_machine_lines(info)), _plain_table(TABLE_HEADER, table_rows(cells))]
    parts.append("\n".join(notes + [LEGEND]) if notes else LEGEND)
    parts.append("targets (issue 11; a report, never a failure):\n" +
                 _plain_table(("loss", "target", "measured", "verdict"), target_rows(cells, cases)))
    return "\n\n".join(parts) + "\n"


def report_markdown(cells: list[Cell], cases: Sequence[Case], info: dict, not_run: Sequence[str] = ()) -> str:
    notes = _notes(cells) + _not_run_note(not_run)
    return "\n\n".join([
        "\n".join(f"- {line}" for line in _machine_lines(info)),
        _markdown_table(TABLE_HEADER, table_rows(cells)),
        "\n".join(f"- {note}" for note in notes + [LEGEND]),
        "Targets (issue 11):",
        _markdown_table(("loss", "target", "measured", "verdict"), target_rows(cells, cases)),
    ]) + "\n"


def report_json(cells: list[Cell], cases: Sequence[Case], info: dict, settings: dict) -> str:
    by_key = {(cell.loss, cell.size): cell for cell in cells}
    targets = []
    for case in cases:
        for target in targets_for(case):
            value = target.measured(by_key)
            targets.append({"loss": target.loss, "target": target.description, "size": target.size,
                            "ratio": target.ratio, "bound": target.bound, "at_least": target.at_least,
                            "measured": value,
                            "met": target.met(value)})
    document = {"format": "refloss-bench/1", "machine": info, "settings": settings,
                "results": [cell.to_json() for cell in cells], "targets": targets}
    return json.dumps(document, indent=2) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Command line

def _size(text: str) -> int:
    """A size as written on the command line: 1000, 1e6, 1_000_000; a positive whole number."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be a positive whole number such as 1000 or 1e6, got {text!r}")
    if not (math.isfinite(value) and value == int(value) and value >= 1):
        raise argparse.ArgumentTypeError(f"size must be a positive whole number (at least 1), got {text!r}")
    return int(value)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (at least 1), got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


DESCRIPTION = (
    "Time refloss's forward plus VJP, as separate calls and fused (refloss.value_and_vjp), against PyTorch on one "
    "CPU thread (forward + backward with respect to exactly the inputs refloss differentiates), autograd through "
    "refloss's own forward, and a memory copy of the inputs' bytes (np.copyto into preallocated arrays), all in "
    "float64, in one process. Contenders are interleaved (each repetition runs every one once, in a rotating "
    "order); each figure is a median per call, each ratio the median of the per-repetition ratios. Prints the "
    "machine, a table (one row per loss and size: medians, ratios, ns per element, peak extra memory of the "
    "elementwise losses) and the issue's targets with met / NOT met. The exit status is 0 whatever the figures; a "
    "progress line goes to stderr.")
EPILOG = (
    "size: elements of the input for smooth_l1_loss, mse_loss, binary_cross_entropy_with_logits and "
    "sigmoid_focal_loss; for cross_entropy size/10 samples x 80 classes (1e6 is 100,000 x 80); box pairs for "
    "giou_loss and ciou_loss (inputs (size, 4)); for box_iou (forward only: it has no VJP) a sqrt(size) x "
    "sqrt(size) matrix. Default caps: cross_entropy, giou_loss and ciou_loss at most 1e6, autograd at most 1e6 "
    "(larger sizes are skipped and the table says so). Inputs (seeded): normal(0,1) pairs for smooth_l1/mse; "
    "BCE logits normal(0,2) with 30% ones; focal logits normal(0,1) with 1% positives; cross_entropy normal "
    "logits, uniform labels; boxes with corners and sides uniform, each prediction a jittered copy of its target. "
    "Repetitions are reduced at large sizes so that a cell's timing takes about --budget seconds (never fewer than "
    "3). Documented in docs/performance.md; its table comes from: "
    "refloss bench --markdown bench-table.md --json bench.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--losses", nargs="+", choices=list(LOSSES), metavar="NAME", default=list(LOSSES),
                        help=f"functions to time (default: all: {', '.join(LOSSES)})")
    parser.add_argument("--sizes", nargs="+", type=_size, metavar="N",
                        help="sizes (see below), e.g. 1e3 1e6 (default: 1e3 1e4 1e5 1e6 1e7, capped per loss); "
                             "sizes given here are run even above the default caps")
    parser.add_argument("--repeats", type=_positive_int, metavar="N",
                        help=f"repetitions per cell at most (default {DEFAULT_REPEATS}; fewer at large sizes, see "
                             "--budget)")
    parser.add_argument("--budget", type=_positive_float, default=DEFAULT_BUDGET, metavar="SECONDS",
                        help=f"timed seconds per cell beyond which repetitions are reduced (default {DEFAULT_BUDGET})")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke test: sizes {' '.join(map(size_text, QUICK_SIZES))} and {QUICK_REPEATS} "
                             "repetitions (unless --sizes / --repeats say otherwise)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH ('-': stdout, "
                                                       "instead of the table)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the machine, table and targets as Markdown "
                                                           "to PATH (for docs/performance.md; '-': stdout)")
    parser.add_argument("--no-torch", action="store_true", help="do not run the PyTorch baseline")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


def run(args: argparse.Namespace) -> int:
    if args.json == "-" and args.markdown == "-":
        raise SystemExit("refloss: --json - and --markdown - cannot both take stdout; give one of them a file")
    cases = [LOSSES[name] for name in dict.fromkeys(args.losses)]
    explicit_sizes = args.sizes is not None
    sizes = sorted(set(args.sizes)) if explicit_sizes else list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else DEFAULT_REPEATS)
    torch = None if args.no_torch else _import_torch()
    torch_missing = "off (--no-torch)" if args.no_torch else "not installed (torch)"

    plan = []
    skipped_cells = []
    for case in cases:
        for size in sizes:
            if size > case.cap and not explicit_sizes:
                skipped_cells.append(f"{case.name} {size_text(size)}: above its default cap {size_text(case.cap)}")
            else:
                plan.append((case, size))
    progress = _Progress(len(plan))
    cells = []
    for index, (case, size) in enumerate(plan):
        label = f"[{index + 1}/{len(plan)}] {case.name} {size_text(size)}"
        cells.append(measure(case, size, repeats=repeats, budget=args.budget, seed=args.seed, torch=torch,
                             torch_missing=torch_missing, progress=lambda text: progress.show(f"{label}: {text}")))
    progress.done()

    info = machine()
    settings = {"sizes": sizes, "losses": [case.name for case in cases], "repeats": repeats, "budget": args.budget,
                "seed": args.seed, "torch_threads": 1 if torch is not None else None,
                "caps": {case.name: case.cap for case in cases}, "autograd_cap": AUTOGRAD_CAP,
                "skipped_cells": skipped_cells}
    text = report_text(cells, cases, info, skipped_cells)
    outputs = {"--json": (args.json, report_json(cells, cases, info, settings)),
               "--markdown": (args.markdown, report_markdown(cells, cases, info, skipped_cells))}
    to_stdout = [content for path, content in outputs.values() if path == "-"]
    if to_stdout:  # stdout carries the JSON or the Markdown alone; the table goes to stderr
        sys.stderr.write(text)
        sys.stdout.write(to_stdout[0])
    else:
        sys.stdout.write(text)
    for option, (path, content) in outputs.items():
        if path and path != "-":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_text(content, encoding="utf-8")
            except OSError as error:
                raise SystemExit(f"refloss: cannot write {option} {path}: {error.strerror or error}") from None
    return 0


class _Progress:
    """One line on stderr, rewritten in place on a terminal; a line per cell otherwise (logs stay short)."""

    def __init__(self, total: int):
        self.total = total
        self.terminal = sys.stderr.isatty()
        self.last_cell = ""
        self.width = 0

    def show(self, text: str) -> None:
        if self.terminal:
            line = text[:200]
            sys.stderr.write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            cell = text.split(":")[0]
            if cell != self.last_cell:
                sys.stderr.write(f"{cell}\n")
                self.last_cell = cell
        sys.stderr.flush()

    def done(self) -> None:
        if self.terminal and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refloss bench", description=DESCRIPTION, epilog=EPILOG)
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``refloss bench`` on its own (``python -m refloss.bench``); ``refloss bench`` in the CLI is the same."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

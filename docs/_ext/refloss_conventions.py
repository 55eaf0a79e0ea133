"""Where the frameworks differ, as data: the framework-conventions page's tables and the reports behind them.

Each :class:`Topic` (weighted means, ``ignore_index``, ...) holds one :class:`Row` per framework behaviour: what
the framework does, the refloss call that reproduces it, the golden vectors (uids of ``conformance/vectors``) that
pin it down, and, for a framework with a conformance adapter (``torch`` for PyTorch and torchvision, ``jax`` for
optax, ``keras`` for Keras 3), what that adapter's report must show for those vectors: ``agrees`` (passes, by the
refloss expectation or a named alternative), ``differs`` (a deviation recorded in
``conformance/expectations/IMPL.json``: an expected failure) or ``skipped`` (the adapter cannot express the call).

CI runs ``refloss conformance check --impl IMPL --only $(python docs/_ext/refloss_conventions.py IMPL) --json
$REFLOSS_CONFORMANCE_REPORTS/IMPL.json`` before building the docs. When ``REFLOSS_CONFORMANCE_REPORTS`` is set,
each table shows the statuses found in those reports, and the build fails (``ReportError``) when a report, or a
vector in it, is missing, was run on another suite, or contradicts the row's claim. When it is unset, the tables
say "not run in this build" and show what ``conformance/expectations/IMPL.json`` records.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from refloss.conformance.check import suite_directory

__all__ = ["ADAPTERS", "TOPICS", "ReportError", "Row", "Topic", "conventions_table", "report_losses",
           "topic_table"]

REPORTS_VARIABLE = "REFLOSS_CONFORMANCE_REPORTS"
# The adapters whose reports back the tables, and the registry frameworks each one runs.
ADAPTERS = {"torch": ("torch", "torchvision"), "jax": ("optax",), "keras": ("keras",)}
CLAIMS = ("agrees", "differs", "skipped")
# Report statuses that mean "did what the vector asks" (an unchecked error category still raised as required).
_AGREES = ("pass", "invalid-ok", "invalid-unchecked")


class ReportError(RuntimeError):
    """A conformance report the page needs is missing, stale, incomplete, or contradicts a row.

    Not a ValueError on purpose: the table directive turns those into a warning, and this must stop the build.
    """


@dataclass(frozen=True)
class Row:
    """One framework's behaviour on one topic."""

    framework: str                 # as a reader knows it: "PyTorch", "torchvision", "Keras 3", "optax", "mmdet", ...
    does: str                      # MyST: what it computes
    refloss: str                   # MyST: the refloss call that gives the same numbers ("—" if none)
    vectors: tuple[str, ...] = ()  # uids of the golden vectors that pin the row down
    impl: str | None = None        # the adapter whose report backs the row (None: no adapter for this framework)
    claim: str | None = None       # what that report shows for every vector of the row: one of CLAIMS


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    rows: tuple[Row, ...]


TOPICS = (
    Topic("weighted-means", "Weighted means", (
        Row("PyTorch", "`l1_loss` and `mse_loss` with `weight=`: the mean divides by $\\sum_i w_i$.",
            "`l1_loss(x, y, weight=w)`, `mse_loss(x, y, weight=w)`",
            ("l1_loss-312320e35b78", "mse_loss-762d2e2f0e20"), "torch", "agrees"),
        Row("PyTorch", "`huber_loss` with `weight=`: the mean divides by the element count $n$, not by "
            "$\\sum_i w_i$.", "`huber_loss(x, y, weight=w)`", ("huber_loss-6272a7794a57",), "torch", "agrees"),
        Row("PyTorch", "`cross_entropy` with class indices and class weights: the mean divides by "
            "$\\sum_n w_{y_n}$ over the samples that are not ignored.", "`cross_entropy(x, y, weight=w)`",
            ("cross_entropy-d47e81e75ac3",), "torch", "agrees"),
        Row("PyTorch", "`cross_entropy` with probability targets and class weights: the mean divides by the "
            "number of samples; the weights stay out of the denominator.", "`cross_entropy(x, p, weight=w)`",
            ("cross_entropy-e6772600a41f",), "torch", "agrees"),
        Row("Keras 3", "The losses take no class weights; `fit(class_weight=...)` becomes a sample weight, and "
            "the default reduction `sum_over_batch_size` divides by the number of samples, not by the weights' "
            "sum (`mean_with_sample_weight` does that).",
            "`reduction=\"none\"`, multiply by the weights, then sum and divide as Keras does",
            ("cross_entropy-d47e81e75ac3",), "keras", "skipped"),
        Row("optax", "No weights and no reduction: every loss is elementwise or per example, and the caller "
            "averages.", "`reduction=\"none\"`, then weight and average", ("mse_loss-762d2e2f0e20",), "jax",
            "skipped"),
        Row("mmdet", "`weight_reduce_loss`: the loss times the weight, then the mean over all elements, or the sum "
            "divided by `avg_factor` (usually the number of positives).",
            "`reduction=\"none\"`, multiply, then `sum() / avg_factor`"),
    )),
    Topic("ignore-index", "Ignored targets", (
        Row("PyTorch", "`cross_entropy` and `nll_loss` skip targets equal to `ignore_index` (default $-100$): "
            "they add nothing and leave the mean's denominator.", "`cross_entropy(x, y, ignore_index=k)`",
            ("cross_entropy-f42e02bc68b5", "cross_entropy-f4f02480ad82"), "torch", "agrees"),
        Row("PyTorch", "Every target ignored: the mean is $0/0$ = NaN, and the backward returns zero gradients.",
            "`cross_entropy(...)`: NaN mean; the vector accepts the zero gradient as `nan-mean-zero-gradient`",
            ("cross_entropy-67efaa92ea2f",), "torch", "agrees"),
        Row("Keras 3", "`SparseCategoricalCrossentropy` has `ignore_class=None` by default, so PyTorch's $-100$ "
            "is an ordinary (out-of-range) label there: the sample is not ignored.",
            "`ignore_index` has no Keras default; pass Keras's `ignore_class` as `ignore_index`",
            ("cross_entropy-f42e02bc68b5",), "keras", "differs"),
        Row("mmdet", "`CrossEntropyLoss` ignores `ignore_index` but, unless `avg_non_ignore=True`, still divides by "
            "every sample, the ignored ones included.",
            "`cross_entropy(..., reduction=\"sum\")` divided by the number of samples"),
    )),
    Topic("label-smoothing", "Label smoothing", (
        Row("PyTorch", "`cross_entropy(label_smoothing=ε)` with class indices: $(1-\\varepsilon)$ times the loss "
            "plus $\\varepsilon/C$ times $-\\sum_c w_c \\log p_c$, normalised by the same $\\sum_n w_{y_n}$; with "
            "class weights this is not the loss of the smoothed one-hot target.",
            "`cross_entropy(x, y, label_smoothing=ε, weight=w)`",
            ("cross_entropy-fb586957695f", "cross_entropy-99a0513e13a7"), "torch", "agrees"),
        Row("Keras 3", "Categorical losses smooth the one-hot target to $y(1-\\varepsilon) + \\varepsilon/C$, and "
            "the focal loss weights every class's term by its smoothed target.",
            "`softmax_focal_loss(x, y, label_smoothing=ε)`", ("softmax_focal_loss-3610593c67bc",), "keras",
            "agrees"),
        Row("Keras 3", "`SparseCategoricalCrossentropy` has no label smoothing at all.", "—",
            ("cross_entropy-fb586957695f",), "keras", "skipped"),
        Row("Keras 3, ultralytics", "Binary losses smooth towards one half: $y(1-\\varepsilon) + \\varepsilon/2$ "
            "(ultralytics' `smooth_BCE`).", "smooth the targets yourself, then `binary_cross_entropy_keras`"),
        Row("optax", "A separate `smooth_labels(labels, α)` = $(1-\\alpha)\\,y + \\alpha/K$ before the loss.",
            "`cross_entropy` with the smoothed probabilities as the target"),
    )),
    Topic("clamping", "Clamping probabilities and logs", (
        Row("PyTorch", "`binary_cross_entropy` clamps each log at $-100$, so a loss never exceeds 100; its "
            "backward ignores that clamp (a clamped term still gets a gradient).",
            "`binary_cross_entropy(p, y)` (the derivative of the clamped loss)",
            ("binary_cross_entropy-12d50b03d29f", "binary_cross_entropy-6389aa4a207e"), "torch", "differs"),
        Row("Keras 3", "`binary_crossentropy` clips $p$ to $[\\epsilon, 1 - \\epsilon]$ (`keras.config.epsilon()`, "
            "$10^{-7}$); outside that band the gradient is 0.", "`binary_cross_entropy_keras(p, y, epsilon=ε)`",
            ("binary_cross_entropy_keras-34a2a7d77c6f",), "keras", "agrees"),
        Row("Keras 3", "It computes $\\log(1 - c)$ in float32: at $p = 0$, $y = 0$ the loss is "
            "$-\\log(1 - 2^{-23})$, not $-\\log(1 - 10^{-7})$.", "`binary_cross_entropy_keras_fp32(p, y)`",
            ("binary_cross_entropy_keras-7e76c9f32d4e",), "keras", "differs"),
        Row("tf-keras", "Clips in float32 and adds $\\epsilon$ inside the logs.",
            "`binary_cross_entropy_tf_keras(p, y)`"),
    )),
    Topic("ciou-alpha", "CIoU's trade-off weight α", (
        Row("torchvision", "`complete_box_iou_loss`: $\\alpha = v / (1 - \\mathrm{IoU} + v + \\epsilon)$, computed "
            "without gradient (a constant in the backward).", "`ciou_loss(a, b)`",
            ("ciou_loss-15ceaabebbb0",), "torch", "agrees"),
        Row("mmdet", "`ciou_loss`: $\\alpha = v / (1 - \\mathrm{IoU} + v)$ only where $\\mathrm{IoU} > 0.5$, "
            "else 0; $\\epsilon$ added to the heights; CIoU clamped to $[-1, 1]$.",
            "`ciou_loss(a, b, alpha_gate=0.5)`", ("ciou_loss-4a4088544795",)),
        Row("ultralytics", "`bbox_iou(CIoU=True)`: $\\alpha = v / (v - \\mathrm{IoU} + 1 + \\epsilon)$ (torchvision's "
            "up to where $\\epsilon$ sits), without gradient.", "`ciou_loss(a, b)`"),
        Row("Keras 3", "`compute_ciou` lets the gradient flow through $\\alpha$.", "— (not reproduced)"),
    )),
    Topic("eps", "Where ε goes", (
        Row("torchvision", "GIoU and DIoU add `eps` to the union and to the enclosing area or squared diagonal.",
            "`giou_loss(a, b, eps=ε)`, `diou_loss(a, b, eps=ε)`",
            ("giou_loss-e4b64f6a4370", "diou_loss-ff134059db8b"), "torch", "agrees"),
        Row("torchvision", "`complete_box_iou_loss` does not pass its `eps` to its DIoU part, which keeps "
            "$10^{-7}$.", "`ciou_loss(a, b, eps=ε)` uses `eps` everywhere", ("ciou_loss-58b1372e578e",), "torch",
            "differs"),
        Row("mmdet", "`iou_loss` clamps the union at `eps` (a maximum) instead of adding it; the loss classes "
            "default to `eps=1e-6`.", "`iou_loss(a, b, eps=ε)` adds `eps`: equal up to $O(\\epsilon)$"),
        Row("Keras 3", "One global `keras.config.epsilon()` for every clip.",
            "an `epsilon=` parameter per call: `binary_cross_entropy_keras(p, y, epsilon=ε)`",
            ("binary_cross_entropy_keras-34a2a7d77c6f",), "keras", "agrees"),
    )),
    Topic("empty", "Empty inputs", (
        Row("PyTorch", "The mean over no elements is NaN ($0/0$); the sum is 0.", "`l1_loss(x, y)` of shape `(0,)`",
            ("l1_loss-e2ecb9a526e4", "l1_loss-a4f7fb55a656", "binary_cross_entropy-fb1adc700610"), "torch",
            "agrees"),
        Row("torchvision", "The IoU-family losses return `0.0 * loss.sum()`: 0 for the mean too.",
            "`giou_loss(a, b, reduction=\"mean\")` of shape `(0, 4)`",
            ("giou_loss-47aa9ce8c889", "diou_loss-555cf5eba096"), "torch", "agrees"),
        Row("torchvision", "`sigmoid_focal_loss` takes a plain `loss.mean()`: NaN.",
            "`sigmoid_focal_loss(x, y, reduction=\"mean\")`", ("sigmoid_focal_loss-78fd5e17e15f",), "torch",
            "agrees"),
        Row("PyTorch", "`ctc_loss` refuses empty log-probabilities.", "`ctc_loss` returns NaN (mean) or 0 (sum)",
            ("ctc_loss-6f66d0751b2c",), "torch", "differs"),
        Row("Keras 3, mmdet 3.x", "`divide_no_nan` (Keras) and `pred.sum() * 0` (mmdet) make the mean over "
            "nothing 0.", "the vectors accept 0 as the named alternative `empty-mean-is-zero`",
            ("l1_loss-e2ecb9a526e4",)),
    )),
    Topic("nan-slope", "The slope of |d| at NaN", (
        Row("PyTorch", "`torch.sgn(nan)` is 0, so `l1_loss` gives a zero gradient at a NaN residual.",
            "`l1_loss` gives NaN; the vectors accept 0 as `sign-of-nan-is-zero`",
            ("l1_loss-bb81c53454aa",), "torch", "agrees"),
        Row("Keras 3", "JAX's derivative of `abs` at NaN has magnitude $g$ (neither NaN nor 0).", "—",
            ("l1_loss-bb81c53454aa",), "keras", "differs"),
    )),
    Topic("shapes", "Shapes that do not match", (
        Row("PyTorch", "Warns, then broadcasts a `(3, 1)` input against a `(3,)` target into a `(3, 3)` loss.",
            "refloss raises `ValueError`", ("mse_loss-0c488db05bce",), "torch", "differs"),
        Row("Keras 3", "`squeeze_or_expand_to_same_rank` pairs `(3, 1)` with `(3,)` element by element.",
            "refloss raises `ValueError`", ("mse_loss-0c488db05bce",), "keras", "differs"),
        Row("optax", "`squared_error` checks that the shapes are equal.", "refloss raises `ValueError`",
            ("mse_loss-0c488db05bce",), "jax", "agrees"),
    )),
    Topic("focal-alpha", "Focal loss: is α on by default?", (
        Row("torchvision", "`sigmoid_focal_loss(alpha=0.25)`: on; a negative `alpha` turns it off.",
            "`sigmoid_focal_loss(x, y)`, `alpha=-1` to turn it off",
            ("sigmoid_focal_loss-b9e7114c75d0", "sigmoid_focal_loss-15856ea9d062"), "torch", "agrees"),
        Row("optax", "`sigmoid_focal_loss(alpha=None)`: off.", "`sigmoid_focal_loss(x, y, alpha=-1)`",
            ("sigmoid_focal_loss-907b9b06eaf3", "sigmoid_focal_loss-15856ea9d062"), "jax", "agrees"),
        Row("fvcore", "`alpha=-1`: off.", "`sigmoid_focal_loss(x, y, alpha=-1)`"),
        Row("Keras 3", "`BinaryFocalCrossentropy` applies `alpha` only with `apply_class_balancing=True`.",
            "`sigmoid_focal_loss(x, y, alpha=-1)` for Keras's default"),
        Row("mmdet", "`FocalLoss(alpha=0.25)`: always on.", "`sigmoid_focal_loss(x, y)`"),
    )),
)


# ---- the tables ------------------------------------------------------------------------------------------------

HEADER = ["Framework", "What it does", "In refloss", "Golden vectors", "Conformance report"]


def _loss_of(uid: str) -> str:
    """The function a vector uid belongs to: uids are ``<function>-<12 hex digits>``."""
    return uid.rpartition("-")[0]


def report_losses(impl: str) -> list[str]:
    """The losses whose vectors the tables need from ``impl``'s report (the ``--only`` of its CI run)."""
    if impl not in ADAPTERS:
        raise ValueError(f"unknown adapter {impl!r}; choose one of {', '.join(ADAPTERS)}")
    return sorted({_loss_of(uid) for topic in TOPICS for row in topic.rows if row.impl == impl
                   for uid in row.vectors})


def _expectations(impl: str) -> dict[str, dict]:
    document = json.loads((suite_directory() / "expectations" / f"{impl}.json").read_text())
    return {entry["uid"]: entry for entry in document["deviations"]}


def _load_report(directory: Path, impl: str) -> dict:
    """``impl``'s report from ``directory``, checked to cover this suite and every vector the tables need."""
    path = directory / f"{impl}.json"
    run = f"refloss conformance check --impl {impl} --only {' '.join(report_losses(impl))} --json {path}"
    if not path.is_file():
        raise ReportError(f"{REPORTS_VARIABLE} is set but {path} does not exist; run: {run}")
    report = json.loads(path.read_text())
    manifest = hashlib.sha256((suite_directory() / "MANIFEST.json").read_bytes()).hexdigest()
    if report.get("manifestSha256") != manifest:
        raise ReportError(f"{path} was run on another conformance suite (manifest {report.get('manifestSha256')}, "
                          f"this one {manifest}); run again: {run}")
    found = {outcome["uid"] for outcome in report["outcomes"]}
    missing = [uid for uid in _row_vectors(impl) if uid not in found]
    if missing:
        raise ReportError(f"{path} has no outcome for {', '.join(missing)}; run: {run}")
    return report


def _row_vectors(impl: str) -> list[str]:
    return list(dict.fromkeys(uid for topic in TOPICS for row in topic.rows if row.impl == impl
                              for uid in row.vectors))


def observed_claim(statuses: list[str]) -> str:
    """What a row's outcomes (every vector, dtype and defaults re-run) show: agrees, differs or skipped."""
    if any(status in ("xfail", "fail", "error") for status in statuses):
        return "differs"
    if all(status == "skip" for status in statuses):
        return "skipped"
    if all(status in _AGREES or status.startswith("acceptable:") or status == "skip" for status in statuses):
        return "agrees"
    return "unclear"  # xpass, not-run: a deviation that no longer holds, or a run that stopped


def _status_summary(statuses: list[str]) -> str:
    counts = Counter(status.replace("acceptable:", "acceptable as ") for status in statuses)
    return ", ".join(f"{status} ×{n}" for status, n in sorted(counts.items()))


def _report_cell(row: Row, reports: dict[str, dict] | None) -> str:
    if row.impl is None:
        return "no report: no adapter runs this framework's convention" + (
            "; the vectors pin down the refloss call" if row.vectors else "")
    if reports is None:
        recorded = [uid for uid in row.vectors if uid in _expectations(row.impl)]
        record = (f"`expectations/{row.impl}.json` records a deviation" if recorded else
                  f"`expectations/{row.impl}.json` records no deviation")
        skipped = " (the adapter skips this call)" if row.claim == "skipped" else ""
        return f"{row.impl}: not run in this build; {record}{skipped}"
    report = reports[row.impl]
    statuses = [o["status"] for o in report["outcomes"] if o["uid"] in row.vectors]
    observed = observed_claim(statuses)
    if observed != row.claim:
        raise ReportError(f"the conventions table says {row.impl} {row.claim} on {', '.join(row.vectors)} "
                          f"({row.framework}: {row.does}), but its report shows {_status_summary(statuses)}")
    return f"{report['adapter']}: {observed} ({_status_summary(statuses)})"


def _reports_from_environment() -> dict[str, dict] | None:
    directory = os.environ.get(REPORTS_VARIABLE)
    if not directory:
        return None
    return {impl: _load_report(Path(directory), impl) for impl in ADAPTERS}


def _rows(topic: Topic, reports: dict[str, dict] | None) -> list[list[str]]:
    return [[row.framework, row.does, row.refloss, ", ".join(f"`{uid}`" for uid in row.vectors) or "—",
             _report_cell(row, reports)] for row in topic.rows]


def topic_table(topic_id: str) -> tuple[list[str], list[list[str]]]:
    """The (header, rows) of one topic's table, with the reports of ``$REFLOSS_CONFORMANCE_REPORTS`` if set."""
    topic = next((t for t in TOPICS if t.id == topic_id), None)
    if topic is None:
        raise ValueError(f"no topic {topic_id!r}; the topics are {', '.join(t.id for t in TOPICS)}")
    return HEADER, _rows(topic, _reports_from_environment())


def conventions_table() -> tuple[list[str], list[list[str]]]:
    """Every topic in one table, the topic's title leading its first row."""
    reports = _reports_from_environment()
    rows = []
    for topic in TOPICS:
        for index, cells in enumerate(_rows(topic, reports)):
            rows.append([f"**{topic.title}**" if index == 0 else ""] + cells)
    return ["Topic"] + HEADER, rows


# One function per topic, for ```{refloss-table} refloss_conventions.table_<topic>``` on the page.

def table_weighted_means() -> tuple[list[str], list[list[str]]]:
    return topic_table("weighted-means")


def table_ignore_index() -> tuple[list[str], list[list[str]]]:
    return topic_table("ignore-index")


def table_label_smoothing() -> tuple[list[str], list[list[str]]]:
    return topic_table("label-smoothing")


def table_clamping() -> tuple[list[str], list[list[str]]]:
    return topic_table("clamping")


def table_ciou_alpha() -> tuple[list[str], list[list[str]]]:
    return topic_table("ciou-alpha")


def table_eps() -> tuple[list[str], list[list[str]]]:
    return topic_table("eps")


def table_empty() -> tuple[list[str], list[list[str]]]:
    return topic_table("empty")


def table_nan_slope() -> tuple[list[str], list[list[str]]]:
    return topic_table("nan-slope")


def table_shapes() -> tuple[list[str], list[list[str]]]:
    return topic_table("shapes")


def table_focal_alpha() -> tuple[list[str], list[list[str]]]:
    return topic_table("focal-alpha")


if __name__ == "__main__":
    # python docs/_ext/refloss_conventions.py IMPL: the losses for --only, space-separated
    if len(sys.argv) != 2 or sys.argv[1] not in ADAPTERS:
        raise SystemExit(f"usage: python {sys.argv[0]} {{{','.join(ADAPTERS)}}}")
    print(" ".join(report_losses(sys.argv[1])))

"""Independent high-precision oracles: the textbook formula of each loss in mpmath, with no stability tricks.

An oracle never imports the NumPy reference. It evaluates each elementwise loss at the exact inputs, takes
derivatives numerically at high precision (``mpmath.diff``; one-sided at declared kinks), and applies the
reductions exactly. Its results are what the golden vectors expect.
"""

from refloss.conformance.oracle import anchors
from refloss.conformance.oracle import boxes
from refloss.conformance.oracle import classification
from refloss.conformance.oracle import coders
from refloss.conformance.oracle import ctc
from refloss.conformance.oracle import detectors
from refloss.conformance.oracle import embedding
from refloss.conformance.oracle import functions
from refloss.conformance.oracle import geometry
from refloss.conformance.oracle import keras_a
from refloss.conformance.oracle import keras_b
from refloss.conformance.oracle import margins
from refloss.conformance.oracle import multilabel
from refloss.conformance.oracle import poisson
from refloss.conformance.oracle import regression
from refloss.conformance.oracle import selection
from refloss.conformance.oracle import tensor

# one module per line
_MODULES = (
    regression,
    classification,
    tensor,
    boxes,
    geometry,
    coders,
    selection,
    detectors,
    anchors,
    keras_b,
    poisson,
    margins,
    multilabel,
    keras_a,
    embedding,
    ctc,
)
ORACLES = {name: oracle for module in _MODULES for name, oracle in module.ORACLES.items()}

__all__ = ["ORACLES", "evaluate_oracle"]


def evaluate_oracle(oracle, *args, **kwargs):
    """Evaluate any oracle: elementwise ones with the elementwise evaluator, per-sample ones with their own."""
    from refloss.conformance.oracle.evaluate import evaluate

    # oracles of losses whose inputs fit none of the shared evaluators evaluate themselves (more than two inputs,
    # or integer lengths): poisson.PointwiseOracle, margins.LabelledPairOracle, embedding.SampleLossOracle and
    # ctc.CtcOracle
    if hasattr(oracle, "evaluate"):
        return oracle.evaluate(*args, **kwargs)
    if isinstance(oracle, tensor.SampleOracle):
        return tensor.evaluate_samples(oracle, *args, **kwargs)
    if isinstance(oracle, boxes.BoxOracle):
        return boxes.evaluate_boxes(oracle, *args, **kwargs)
    if isinstance(oracle, detectors.DetectorOracle):
        return detectors.evaluate_detector(oracle, *args, **kwargs)
    evaluators = {functions.RowOracle: functions.evaluate_rows, functions.PairwiseOracle: functions.evaluate_pairwise,
                  functions.SelectionOracle: functions.evaluate_selection}
    if type(oracle) in evaluators:
        return evaluators[type(oracle)](oracle, *args, **kwargs)
    return evaluate(oracle, *args, **kwargs)

"""The declared flags: every flag a golden vector carries must be here, with its category and description."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FLAGS", "Flag"]


@dataclass(frozen=True)
class Flag:
    category: str
    description: str
    effect: str = ""


FLAGS = {
    "Basic": Flag("BASIC", "Plain values of moderate size on the float16/bfloat16 grid."),
    "Reduction": Flag("REDUCTION", "Checks a reduction: none, sum or mean (weighted: divided by the weight sum or "
                                   "the count, as the loss specifies)."),
    "Shape": Flag("BROADCAST_SHAPE", "Scalar inputs or several leading dimensions."),
    "ParameterGrid": Flag("BASIC", "A non-default value of a loss parameter (beta, delta, alpha, gamma)."),
    "Weighted": Flag("WEIGHTED", "An elementwise weight, including zero weights."),
    "WeightsSumToZero": Flag("WEIGHTED", "Every weight is 0: a weighted mean over the weight sum is 0/0 = NaN.",
                             "a NaN mean, or a division-by-zero error"),
    "ZeroCotangent": Flag("REDUCTION", "grad_output is 0: every gradient must be exactly 0.",
                          "a backward that ignores grad_output"),
    "ZeroResidual": Flag("NONDIFFERENTIABLE_POINT", "input == target exactly: the loss is 0 and, for L1-like "
                         "losses, |d| is not differentiable there.", "a gradient of +-1 instead of 0"),
    "AtKink": Flag("NONDIFFERENTIABLE_POINT", "Inputs exactly at a kink the registry declares (|d| = beta or delta, "
                   "d = 0, a margin met exactly, a clip or clamp bound): the branch chosen by < versus <= matters "
                   "for the second derivative, or for the gradient when it jumps.",
                   "a wrong branch or a discontinuity"),
    "NearKink": Flag("NONDIFFERENTIABLE_POINT", "Inputs one or two ulps either side of a branch point (beta, delta, "
                     "a margin, a clip or clamp bound): each element must take its own side's branch, and the two "
                     "branches' formulas must agree to a few ulps where the loss is continuous.",
                     "a branch decided on a rounded quantity (d * d < beta * beta, |d| / beta < 1, log p > -100)"),
    "SubgradientInterval": Flag("NONDIFFERENTIABLE_POINT", "Some gradient entries are at a point where the loss is "
                                "not differentiable; any value between the one-sided derivatives is accepted."),
    "SingleElement": Flag("REDUCTION", "The mean over a single element."),
    "Empty": Flag("EMPTY", "No elements: sum is 0, mean is NaN (PyTorch) or 0 (Keras, mmdetection 3.x).",
                  "an exception, or the wrong convention"),
    "Float16Overflow": Flag("OVERFLOW", "A value whose square (or loss) exceeds float16's maximum 65504, so the "
                            "float16 result is inf while bfloat16 and wider stay finite.", "inf where a finite "
                            "value is expected, or the reverse"),
    "HugeMagnitude": Flag("OVERFLOW", "Residuals near the float64 limits (1e150 to 1e300): naive cosh or squaring "
                          "overflows.", "inf or NaN where a finite value is expected"),
    "TinyMagnitude": Flag("UNDERFLOW", "Values far below 1 (residuals, logits, probabilities, margins), down to "
                          "subnormals: naive formulas such as log(cosh(d)) or log(1 - p) cancel to 0.",
                          "0 or a large relative error"),
    "Subnormal": Flag("UNDERFLOW", "A subnormal float64 input."),
    "NonDyadic": Flag("PRECISION", "Float64-only inputs that use all 53 significand bits (0.1, 1/3, -2.7, random "
                      "float64 values): every operation rounds, unlike on the n/32 grid where most are exact.",
                      "an intermediate kept in lower precision, or a rearranged formula that loses low bits"),
    "MixedMagnitude": Flag("PRECISION", "Entries of very different sizes in one tensor (1e-9 next to 1e9): each "
                           "entry must be accurate on its own scale, not only relative to the largest.",
                           "small entries flushed to 0, or computed with an absolute error set by the large ones"),
    "Cancellation": Flag("CANCELLATION", "Inputs where a naive formula subtracts nearly equal numbers (log(1 - p) "
                         "for tiny p, log(1 + e^-|x|) for large |x|, x^2 - 2xy + y^2 for x close to y, log(cosh d) "
                         "for tiny d, softmax - one_hot for a confident row): the exact result is tiny or "
                         "ill-conditioned in that form.", "few or no correct digits, or 0 instead of a tiny value"),
    "IntermediateOverflow": Flag("OVERFLOW", "A moderate input whose naive intermediate overflows although the "
                                 "result is finite (cosh(800), e^800).", "inf or NaN where a finite value is expected"),
    "NaNInput": Flag("NONFINITE_INPUT", "A NaN input: the loss, and its gradient, are NaN."),
    "InfInput": Flag("NONFINITE_INPUT", "An infinite input: the loss is inf and the gradient its limit."),
    "FocalSaturation": Flag("CANCELLATION", "Logits so confident that 1 - p_t rounds to 0: the chain rule through "
                            "(1 - p_t)^gamma multiplies inf by 0 for 0 < gamma < 1.", "a NaN gradient"),
    "AllIgnored": Flag("IGNORE_INDEX", "Every target equals ignore_index: nothing is left, so mean is 0/0.",
                       "an exception, 0, or NaN"),
    "IgnoreIndex": Flag("IGNORE_INDEX", "Some targets equal ignore_index: they add nothing to the loss, the mean's "
                        "denominator or the gradient.", "ignored samples counted in the mean"),
    "ProbabilityTargets": Flag("BASIC", "Class probabilities instead of class indices (the mean then divides by the "
                               "number of samples, weights not included)."),
    "SingleClass": Flag("EMPTY", "C = 1: the softmax is 1 and the cross-entropy 0."),
    "LogClamp": Flag("CONVENTION", "A probability of 0 or 1 (or below e^-100): PyTorch clamps each log term at "
                     "-100, so the loss is finite and a clamped term is constant.", "inf, NaN, or a gradient of 1e12"),
    "ZeroOneLabels": Flag("CONVENTION", "Hinge labels given as 0/1 instead of -1/+1: 0 means -1 (Keras's rule).",
                          "a zero label treated as 0, so its loss is always 1"),
    "SoftLabels": Flag("BASIC", "Labels strictly between 0 and 1 (smoothed or distilled targets), which get a "
                       "gradient of their own.", "no gradient for the targets, or one taken as -x (the focal factor's "
                       "dependence on the label forgotten)"),
    "HardTargets": Flag("BASIC", "Targets exactly 0 and 1, with confident logits of both signs: one of the two "
                        "log terms must vanish exactly.", "0 * log(0) = NaN"),
    "IdenticalBoxes": Flag("NONDIFFERENTIABLE_POINT", "The two boxes of a pair are identical: every max and min of "
                           "the intersection and the enclosing box ties (the gradient splits equally; one-sided "
                           "derivatives bound the accepted interval)."),
    "TouchingBoxes": Flag("NONDIFFERENTIABLE_POINT", "The boxes share an edge or a corner: the overlap has zero "
                          "width, so the intersection is 0 and, by torchvision's strict mask, has no gradient."),
    "DisjointBoxes": Flag("BASIC", "The boxes do not overlap: IoU is 0 and only the enclosing-box and distance terms "
                          "have a gradient."),
    "NestedBoxes": Flag("BASIC", "One box lies inside the other: the intersection is the smaller box."),
    "SharedEdge": Flag("NONDIFFERENTIABLE_POINT", "A coordinate of one box equals the same coordinate of the other "
                       "(a tie in the intersection's and the enclosing box's max/min) while the rest differ."),
    "DegenerateBox": Flag("EMPTY", "A box of zero width or height (a segment) or zero size (a point): areas of 0, "
                          "and eps keeps every ratio finite."),
    "InvertedBox": Flag("INVALID_INPUT", "A box with x2 < x1 or y2 < y1: an error naming the box."),
    "InvalidInput": Flag("INVALID_INPUT", "The call must raise an error of the given category."),
    "ShapeMismatch": Flag("INVALID_INPUT", "input and target shapes differ in a way PyTorch would broadcast "
                          "((N, 1) against (N,)); refloss requires equal shapes.", "a silently broadcast loss"),
    "Convention": Flag("CONVENTION", "Frameworks legitimately differ here; named alternatives are acceptable."),
    "DetectorScene": Flag("ASSIGNMENT", "A small detection scene: the output vector is (total, *terms) and the "
                          "gradient is w.r.t. the raw head output with the assignment held constant."),
    "NoObjects": Flag("EMPTY", "An image with no objects (padding rows only, or M = 0): only the no-object term "
                      "is left, and only the confidences or objectness logits get a gradient."),
    "SharedCell": Flag("ASSIGNMENT", "Two objects fall in one cell (YOLOv1: the first keeps it, the later is "
                       "dropped) or take one prediction (YOLOv3: the later box target wins, classes add up)."),
    "AssignmentTie": Flag("ASSIGNMENT", "Two predictors tie for responsibility (equal IoU): the lower index wins."),
    "RmseFallback": Flag("ASSIGNMENT", "Every predictor of a cell has IoU 0 with its object: darknet picks the one "
                         "of smallest RMSE."),
    "CrossScale": Flag("ASSIGNMENT", "An object's best anchor (over all scales) lies on another scale than its "
                       "size suggests or than the other objects': it is positive at that scale only."),
    "IgnoredPrediction": Flag("ASSIGNMENT", "A prediction that is not responsible overlaps an object above "
                              "ignore_thresh: its objectness gets no loss and no gradient."),
    "Variant": Flag("CONVENTION", "A named variant of a detector loss (paper, darknet, a popular "
                    "re-implementation), selected by its parameters."),
}

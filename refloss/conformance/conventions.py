"""Named framework conventions that golden vectors accept as alternatives (verdict ``acceptable``).

The oracle computes the expectation under refloss's conventions (PyTorch's, unless a docstring says otherwise);
a case that lists one of these names also accepts the result computed under that convention.
"""

CONVENTIONS = {
    "empty-mean-is-zero": "The mean over no elements is 0 instead of NaN (Keras's divide_no_nan, mmdetection "
                          "3.x's pred.sum() * 0).",
    "nan-mean-zero-gradient": "The mean over nothing is NaN, but its gradient is 0 instead of NaN (PyTorch's "
                              "cross_entropy and nll_loss backward return zeros when every sample is ignored).",
    "sign-of-nan-is-zero": "The derivative of |d| at d = NaN is 0 instead of NaN (PyTorch: torch.sgn(nan) == 0, "
                           "so l1_loss and smooth_l1_loss with beta = 0 give a zero gradient there).",
}

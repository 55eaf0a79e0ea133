"""Mutation testing of the conformance suite: a library of realistic wrong implementations ("mutants").

The golden vectors promise that an implementation which passes them is right. Each mutant here is a complete
implementation of one registered function with one bug of the kind real ports make (PyTorch, TensorFlow, JAX and C++
kernels have shipped most of them), written in the ``module:`` adapter's calling convention:

* ``forward(*inputs, reduction=..., **params)`` and ``vjp(grad_output, *inputs, reduction=..., **params)``, as
  ``refloss.<name>`` and ``refloss.<name>_vjp``; ``None`` for the part that is refloss's own (correct) function.
* The bug lives in the formula, in plain NumPy; the plumbing that is right (validation, reductions) comes from
  ``mutants._port``, so that every mutant has exactly the one bug it describes.

``tests/test_mutants.py`` runs every mutant through ``refloss.conformance.check`` and requires the report to
fail. Every new function adds at least three mutants here.
"""

from __future__ import annotations

from ._base import CATEGORIES, Mutant, harness_module
from . import anchors
from . import binary
from . import boxes
from . import coders
from . import ctc
from . import detectors
from . import embedding
from . import geometry
from . import keras_b
from . import margins
from . import multiclass
from . import poisson
from . import multilabel
from . import regression
from . import selection
from . import keras_a

__all__ = ["CATEGORIES", "MUTANTS", "Mutant", "harness_module"]


# one module per line, in report order
_FAMILIES = (
    regression,
    binary,
    multiclass,
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


def _collect() -> dict[str, Mutant]:
    collected: dict[str, Mutant] = {}
    for family in _FAMILIES:
        for mutant in family.MUTANTS:
            if mutant.name in collected:
                raise ValueError(f"two mutants are named {mutant.name!r}")
            collected[mutant.name] = mutant
    return collected


MUTANTS = _collect()

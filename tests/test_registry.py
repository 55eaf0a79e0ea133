"""Every public loss is registered once, with a VJP, a complete docstring and a derivation page."""

import inspect
from pathlib import Path

import numpy as np
import pytest

import refloss
from refloss._docstring import REQUIRED_SECTIONS, sections
from refloss._registry import REDUCTIONS, Interval, LossSpec, Param, register

ROOT = Path(__file__).resolve().parents[1]
BUILDING_BLOCKS = {"sigmoid", "log_sigmoid", "softmax", "log_softmax", "one_hot",  # refloss.activations
                   *refloss.boxes.matching.__all__}  # matching, sampling, mining: the anchor detectors' steps
# A detector loss's public steps (its target builder, its head layout): named after it, not registered themselves.
DETECTOR_STEPS = {n for n in refloss.__all__ if n.endswith(("_targets", "_layout", "_sample"))} - BUILDING_BLOCKS
PUBLIC_FUNCTIONS = sorted(n for n in refloss.__all__ if n != "registry" and not n.endswith("_vjp")
                          and n not in BUILDING_BLOCKS | DETECTOR_STEPS)


def test_each_detector_step_belongs_to_a_registered_detector_loss():
    for name in DETECTOR_STEPS:
        loss = name.rsplit("_", 1)[0] + "_loss"
        assert refloss.registry.get(loss).kind == "detector", name
        assert f":func:`{name}`" in refloss.registry.get(loss).forward.__doc__, name


def test_registry_holds_exactly_the_public_functions():
    assert sorted(refloss.registry.names(kind=None)) == PUBLIC_FUNCTIONS
    assert set(refloss.registry.names()) == {n for n in PUBLIC_FUNCTIONS if refloss.registry.get(n).kind == "loss"}


def test_every_function_has_its_public_vjp_or_says_it_has_none(any_spec):
    assert getattr(refloss, any_spec.name) is any_spec.forward
    if any_spec.vjp is None:  # NMS and the pairwise IoU matrices: no gradient, and no function pretending one
        assert any_spec.kind in ("geometry", "selection")
        assert not hasattr(refloss, any_spec.name + "_vjp")
        assert "no" in sections(any_spec.forward.__doc__)["Gradient"].lower()
        return
    assert getattr(refloss, any_spec.name + "_vjp") is any_spec.vjp
    assert any_spec.name + "_vjp" in refloss.__all__


def test_docstring_has_formula_gradient_conventions_shapes_references(any_spec):
    doc = sections(any_spec.forward.__doc__)
    missing = [s for s in REQUIRED_SECTIONS if not doc.get(s)]
    assert not missing, f"{any_spec.name} docstring lacks sections {missing}"
    if any_spec.vjp is not None:
        assert ".. math::" in doc["Definition"] and ".. math::" in doc["Gradient"]
        assert any_spec.vjp.__doc__ and f":func:`{any_spec.name}`" in any_spec.vjp.__doc__


def test_derivation_page_exists_and_numbers_its_steps(any_spec):
    page = ROOT / any_spec.derivation
    assert page.is_file(), f"missing derivation page {any_spec.derivation}"
    text = page.read_text()
    for heading in ("## Definition", "## Gradient", "## Numerics", "## Conventions", "## References"):
        assert heading in text, f"{any_spec.derivation} lacks '{heading}'"
    # The code's comments cite numbered steps such as (G1); every cited step must be on the page, or on the page of
    # another function of the same module (geometry.py holds box_convert and box_area, each with its own page).
    module = inspect.getmodule(any_spec.forward)
    pages = {ROOT / refloss.registry.get(n).derivation for n in refloss.registry.names(kind=None)
             if inspect.getmodule(refloss.registry.get(n).forward) is module}
    texts = " ".join(p.read_text() for p in pages if p.is_file())
    import re
    for tag in set(re.findall(r"\(([A-Z]\d+)\)", inspect.getsource(module))):
        assert f"({tag})" in texts, f"{any_spec.derivation} lacks step ({tag}) cited in the code"


def test_signature_follows_the_contract(spec):
    forward = inspect.signature(spec.forward).parameters
    vjp = inspect.signature(spec.vjp).parameters
    positional = [n for n, p in forward.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [i.name for i in spec.inputs]
    keyword_only = {n: p.default for n, p in forward.items() if p.kind is p.KEYWORD_ONLY}
    assert keyword_only == {"reduction": spec.default_reduction, **{p.name: p.default for p in spec.params}}
    assert list(vjp) == ["grad_output", *positional, *keyword_only]
    assert {n: p.default for n, p in vjp.items() if p.kind is p.KEYWORD_ONLY} == keyword_only
    assert set(spec.reductions) <= set(REDUCTIONS) | ({"batchmean"} if spec.name == "kl_div" else set())


OTHER_KINDS = [n for n in refloss.registry.names(kind=None) if refloss.registry.get(n).kind != "loss"]


@pytest.mark.parametrize("name", OTHER_KINDS)
def test_functions_other_than_losses_take_their_inputs_first_and_every_parameter_with_its_default(name):
    spec = refloss.registry.get(name)
    forward = inspect.signature(spec.forward).parameters
    assert list(forward)[:len(spec.inputs)] == [i.name for i in spec.inputs]
    assert "reduction" not in forward and not spec.reductions
    for param in spec.params:
        expected = inspect.Parameter.empty if param.required else param.default
        assert forward[param.name].default == expected, (name, param.name)
    if spec.vjp is not None:
        vjp = inspect.signature(spec.vjp).parameters
        assert list(vjp)[0] == "grad_output" and list(vjp)[1:] == list(forward)


def test_every_function_has_references_and_documented_kinks(any_spec):
    assert any_spec.references and all(r.url.startswith("https://") for r in any_spec.references)
    assert all(k.where and k.convention for k in any_spec.kinks)
    for param in any_spec.params:
        if param.kind in ("scalar", "choice") and not param.required:
            assert param.check(param.default) == param.default
        if param.kind in ("scalar", "choice"):
            assert all(param.check(v) == v for v in param.grid + param.choices)


def test_registering_a_name_twice_is_refused(spec):
    with pytest.raises(ValueError, match="already registered"):
        register(spec)


def test_forward_and_vjp_names_must_match():
    spec = refloss.registry.get("l1_loss")
    with pytest.raises(ValueError, match="must be named"):
        register(LossSpec(name="renamed", family="x", forward=spec.forward, vjp=spec.vjp, inputs=spec.inputs,
                          params=(), smoothness="", references=()))


def test_unknown_name_suggests_close_matches():
    with pytest.raises(KeyError, match="did you mean huber_loss"):
        refloss.registry.get("hubber_loss")


def test_interval_membership_and_text():
    half_open = Interval(0.0, float("inf"), low_closed=True)
    assert 0.0 in half_open and float("nan") not in half_open and -1e-300 not in half_open
    assert str(half_open) == "[0, inf)"
    assert str(Interval(0.5, 2.0, False, True)) == "(0.5, 2]"
    with pytest.raises(TypeError, match="is elementwise"):
        Param("weight", None, half_open, "", kind="elementwise").check(1.0)


def test_a_boolean_parameter_takes_only_true_or_false():
    flag = Param("log_input", True, Interval(), "", kind="boolean")
    assert flag.check(False) is False and flag.check(np.bool_(True)) is True
    # 1, 1.0 and "True" would pass a truthiness test; a flag written as a number is a porting bug to report
    for wrong in (1, 1.0, "True", None, np.array([True])):
        with pytest.raises(TypeError, match="log_input must be True or False"):
            flag.check(wrong)


def test_flags_travel_as_booleans_in_vectors_and_requests():
    from refloss.adapters.jsonl import _encode_param
    from refloss.conformance.check import VectorTest
    from refloss.conformance.generate import _attribute

    assert _attribute(True) == {"boolean": True} and _attribute(np.bool_(False)) == {"boolean": False}
    assert _attribute(2.0)["bits"] and _attribute("xywh") == {"choice": "xywh"}
    assert _encode_param(np.bool_(True), "float32") == {"boolean": True}
    test = VectorTest("hinge_embedding_loss", "f.json", ("float64",), (), {"attributes": {"reduction": "sum", "swap": {"boolean": True}, "margin": _attribute(0.5)}})
    assert test.decoded_params() == {"swap": True, "margin": 0.5}

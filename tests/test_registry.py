"""Every public loss is registered once, with a VJP, a complete docstring and a derivation page."""

import inspect
from pathlib import Path

import pytest

import refloss
from refloss._docstring import REQUIRED_SECTIONS, sections
from refloss._registry import REDUCTIONS, Interval, LossSpec, Param, register

ROOT = Path(__file__).resolve().parents[1]
BUILDING_BLOCKS = {"sigmoid", "log_sigmoid", "softmax", "log_softmax", "one_hot"}  # refloss.activations
PUBLIC_LOSSES = sorted(n for n in refloss.__all__
                       if n != "registry" and not n.endswith("_vjp") and n not in BUILDING_BLOCKS)


def test_registry_holds_exactly_the_public_losses():
    assert sorted(refloss.registry.names()) == PUBLIC_LOSSES


def test_every_loss_has_a_public_vjp(spec):
    assert getattr(refloss, spec.name) is spec.forward
    assert getattr(refloss, spec.name + "_vjp") is spec.vjp
    assert spec.name + "_vjp" in refloss.__all__


def test_docstring_has_formula_gradient_conventions_shapes_references(spec):
    doc = sections(spec.forward.__doc__)
    missing = [s for s in REQUIRED_SECTIONS if not doc.get(s)]
    assert not missing, f"{spec.name} docstring lacks sections {missing}"
    assert ".. math::" in doc["Definition"] and ".. math::" in doc["Gradient"]
    assert spec.vjp.__doc__ and f":func:`{spec.name}`" in spec.vjp.__doc__


def test_derivation_page_exists_and_numbers_its_steps(spec):
    page = ROOT / spec.derivation
    assert page.is_file(), f"missing derivation page {spec.derivation}"
    text = page.read_text()
    for heading in ("## Definition", "## Gradient", "## Numerics", "## Conventions", "## References"):
        assert heading in text, f"{spec.derivation} lacks '{heading}'"
    # The code's comments cite numbered steps such as (G1); every cited step must be on the page.
    source = inspect.getsource(inspect.getmodule(spec.forward))
    import re
    for tag in set(re.findall(r"\(([A-Z]\d+)\)", source)):
        assert f"({tag})" in text, f"{spec.derivation} lacks step ({tag}) cited in the code"


def test_signature_follows_the_contract(spec):
    forward = inspect.signature(spec.forward).parameters
    vjp = inspect.signature(spec.vjp).parameters
    positional = [n for n, p in forward.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [i.name for i in spec.inputs]
    keyword_only = {n: p.default for n, p in forward.items() if p.kind is p.KEYWORD_ONLY}
    assert keyword_only == {"reduction": spec.default_reduction, **{p.name: p.default for p in spec.params}}
    assert list(vjp) == ["grad_output", *positional, *keyword_only]
    assert {n: p.default for n, p in vjp.items() if p.kind is p.KEYWORD_ONLY} == keyword_only
    assert set(spec.reductions) <= set(REDUCTIONS)


def test_every_loss_has_references_and_documented_kinks(spec):
    assert spec.references and all(r.url.startswith("https://") for r in spec.references)
    assert all(k.where and k.convention for k in spec.kinks)
    for param in spec.params:
        if param.kind == "scalar":
            assert param.check(param.default) == param.default
            assert all(param.check(v) == v for v in param.grid)


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

"""``refloss conformance check`` as a tool people rely on: invalid tests need both the forward and the VJP to
raise, error categories are checked or reported as unchecked, default parameters are checked, a run that checks
nothing fails, and broken engines, modules and files give messages instead of tracebacks or hangs."""

import json
import re
import shlex
import sys
import textwrap
import time
import types
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

import refloss
from refloss.adapters import get_adapter
from refloss.adapters.base import Adapter
from refloss.adapters.module import ModuleAdapter
from refloss.adapters.reference import ReferenceAdapter
from refloss.cli import main
from refloss.conformance import check as validator
from refloss.conformance.errors import CATEGORIES, classify
from refloss.testing import assert_conforms, conformance_vectors

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance"
ENGINE = SUITE / "examples" / "jsonl_engine.py"


def _module(loss, forward=None, vjp=None, name="user_losses", **attributes):
    module = types.ModuleType(name)
    spec = refloss.registry.get(loss)
    module.LOSSES = {loss: (forward or spec.forward, vjp or spec.vjp)}
    for key, value in attributes.items():
        setattr(module, key, value)
    return ModuleAdapter(module)


def _invalid_outcomes(report):
    return [o for o in report.outcomes if o.uid in _INVALID_UIDS]


_INVALID_UIDS = {t.uid for t in validator.load_tests(SUITE) if t.data["result"] == "invalid"}


# ---- 1. invalid tests: the forward and the VJP must each raise --------------------------------------------------

def _mse_vjp_without_validation(g, input, target, *, reduction="mean", weight=None):
    x, y = np.broadcast_arrays(np.asarray(input, float), np.asarray(target, float))  # no check of shapes, ...
    g = np.asarray(g, float)
    gradient = 2 * (x - y) * (g / max(x.size, 1) if reduction == "mean" else g)  # ... reduction or weight
    return gradient, -gradient


def _mse_forward_without_validation(input, target, *, reduction="mean", weight=None):
    x, y = np.broadcast_arrays(np.asarray(input, float), np.asarray(target, float))
    with np.errstate(over="ignore"):
        loss = (x - y) ** 2
    if reduction == "none":
        return loss
    return np.sum(loss) / (loss.size if reduction == "mean" else 1) if loss.size or reduction == "sum" else np.nan


def test_an_invalid_test_fails_when_only_the_forward_raises():
    report = validator.check(_module("mse_loss", vjp=_mse_vjp_without_validation), SUITE, only=["mse_loss"],
                             consistency=False)
    failures = [o for o in _invalid_outcomes(report) if o.failed]
    assert failures and len(failures) == len(_invalid_outcomes(report)), validator.format_table(report)
    assert all("the VJP did not raise" in o.message and "the forward raised" in o.message for o in failures)


def test_an_invalid_test_fails_when_only_the_vjp_raises():
    report = validator.check(_module("mse_loss", forward=_mse_forward_without_validation), SUITE, only=["mse_loss"],
                             consistency=False)
    failures = [o for o in _invalid_outcomes(report) if o.failed]
    assert failures and len(failures) == len(_invalid_outcomes(report))
    assert all("the forward did not raise" in o.message and "the VJP raised" in o.message for o in failures)


def test_an_invalid_test_passes_when_both_raise():
    report = validator.check(get_adapter("refloss"), SUITE, only=["mse_loss"])
    statuses = {o.status for o in _invalid_outcomes(report)}
    assert statuses == {"invalid-ok"}


class _RecordingAdapter(Adapter):
    """The reference, recording what each call asked for."""

    name = "recording"

    def __init__(self):
        self.inner, self.calls = ReferenceAdapter(), []

    def supports(self, loss):
        return loss == "huber_loss"

    def run(self, loss, inputs, params, reduction, cotangent, dtype, *, value=True, grads=None):
        self.calls.append({"value": value, "grads": grads, "reduction": reduction})
        return self.inner.run(loss, inputs, params, reduction, cotangent, dtype, value=value, grads=grads)


def test_the_validator_runs_an_invalid_test_as_forward_alone_then_vjp_alone():
    adapter = _RecordingAdapter()
    test = next(t for t in validator.load_tests(SUITE, ["huber_loss"]) if t.data["result"] == "invalid")
    assert validator.run_test(adapter, test, "float64").status == "invalid-ok"
    assert adapter.calls == [{"value": True, "grads": (), "reduction": test.data["attributes"]["reduction"]},
                             {"value": False, "grads": test.gradients,
                              "reduction": test.data["attributes"]["reduction"]}]


ADAPTERS = [
    pytest.param(lambda: get_adapter("refloss"), "float64", id="refloss"),
    pytest.param(lambda: _module("huber_loss", DTYPES=("float64", "float32")), "float32", id="module"),
    pytest.param(lambda: get_adapter(f"exec:{shlex.quote(sys.executable)} {shlex.quote(str(ENGINE))}"), "float32",
                 id="exec"),
    pytest.param(lambda: pytest.importorskip("torch") and get_adapter("torch"), "float32", id="torch"),
    pytest.param(lambda: pytest.importorskip("optax") and get_adapter("jax"), "float32", id="jax"),
]


@pytest.mark.parametrize("make, dtype", ADAPTERS)
def test_every_adapter_runs_the_forward_alone_and_the_vjp_alone(make, dtype):
    adapter = make()
    try:
        x, y = np.array([0.5, -2.0, 3.0]), np.array([0.25, 1.0, 3.0])
        inputs, g = {"input": x, "target": y}, np.float64(0.75)
        both = adapter.run("huber_loss", inputs, {}, "sum", g, dtype)
        value_only = adapter.run("huber_loss", inputs, {}, "sum", g, dtype, grads=())
        grads_only = adapter.run("huber_loss", inputs, {}, "sum", g, dtype, value=False)
        default = adapter.run("huber_loss", inputs, {}, "mean", g, dtype)
        assert grads_only.value is None and value_only.grads == {}
        assert np.array_equal(value_only.value, both.value)
        assert set(grads_only.grads) == {"input", "target"}
        for name in ("input", "target"):
            assert np.array_equal(grads_only.grads[name], both.grads[name])
        assert float(both.value) == pytest.approx(float(refloss.huber_loss(x, y, reduction="sum")), rel=1e-6)
        assert float(default.value) == pytest.approx(float(both.value) / 3, rel=1e-6)
    finally:
        adapter.close()


# ---- 2. error categories ----------------------------------------------------------------------------------------

class _CategorisedError(ValueError):
    def __init__(self, message, category):
        super().__init__(message)
        self.category = category


def _with_category(function, category=None):
    """``function`` whose ValueErrors carry a category: refloss's own (``classify``) or the one given."""
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ValueError as error:
            raise _CategorisedError(str(error), category or classify(error)) from error
    return wrapped


def test_a_module_exception_category_is_checked():
    spec = refloss.registry.get("mse_loss")
    right = validator.check(_module("mse_loss", _with_category(spec.forward), _with_category(spec.vjp)), SUITE,
                            only=["mse_loss"], consistency=False)
    assert {o.status for o in _invalid_outcomes(right)} == {"invalid-ok"}

    wrong = validator.check(_module("mse_loss", _with_category(spec.forward, "invalid_target"),
                                    _with_category(spec.vjp, "invalid_target")), SUITE, only=["mse_loss"],
                            consistency=False)
    failures = [o for o in _invalid_outcomes(wrong) if o.failed]
    assert failures and all("raised invalid_target, expected" in o.message for o in failures)


def test_a_category_outside_the_vocabulary_fails_and_names_the_allowed_ones():
    spec = refloss.registry.get("mse_loss")
    report = validator.check(_module("mse_loss", _with_category(spec.forward, "bad_shape"),
                                     _with_category(spec.vjp, "bad_shape")), SUITE, only=["mse_loss"],
                             consistency=False)
    failures = [o for o in _invalid_outcomes(report) if o.failed]
    assert len(failures) == len(_invalid_outcomes(report))
    assert all("'bad_shape', which is not one of " + ", ".join(CATEGORIES) in o.message for o in failures)


def test_an_unknown_category_is_reported_as_unchecked_everywhere(tmp_path, capsys, monkeypatch):
    import refloss.adapters as adapters

    adapter = _module("mse_loss")  # refloss's own functions: plain ValueErrors without a category attribute
    monkeypatch.setattr(adapters, "get_adapter", lambda spec, **options: adapter)
    json_path, junit_path = tmp_path / "report.json", tmp_path / "report.xml"
    assert main(["conformance", "check", "--impl", "module:x", "--only", "mse_loss", "--json", str(json_path),
                 "--junit", str(junit_path)]) == 0
    out = capsys.readouterr().out
    invalid = sum(1 for t in validator.load_tests(SUITE, ["mse_loss"]) if t.data["result"] == "invalid")
    assert f"{invalid} raised as required with the error category unchecked" in out
    assert "unchecked" in out.splitlines()[0]  # a column of the table
    document = json.loads(json_path.read_text())
    assert document["counts"]["unchecked"] == invalid and document["summary"]["invalid-unchecked"] == invalid
    assert "invalid-ok" not in document["summary"]
    unchecked_cases = [case for case in ElementTree.parse(junit_path).iter("testcase")
                       if case.find("properties/property[@name='errorCategory']") is not None]
    assert len(unchecked_cases) == invalid
    assert all("unchecked" in case.find("system-out").text for case in unchecked_cases)


def test_the_reference_adapter_reports_every_category():
    report = validator.check(get_adapter("refloss"), SUITE, consistency=False)
    assert report.counts()["unchecked"] == 0 and not report.failed


def test_the_spec_page_lists_every_category_with_its_meaning():
    readme = (SUITE / "README.md").read_text()
    for category, meaning in CATEGORIES.items():
        assert f"| `{category}` | {meaning} |" in readme


def test_an_engine_category_outside_the_vocabulary_fails(tmp_path):
    engine = _engine(tmp_path, """
        def run(request):
            try:
                return engine.run(request)
            except engine.Rejected as rejection:
                rejection.category = "bad_shape" if rejection.category == "shape_mismatch" else rejection.category
                raise
        serve(run)
    """)
    report = _check_engine(engine, only=["mse_loss"])
    failures = [o for o in report.outcomes if o.failed]
    assert failures and all("'bad_shape', which is not one of shape_mismatch, invalid_parameter" in o.message
                            for o in failures)


# ---- 3. default parameters --------------------------------------------------------------------------------------

def _huber_with_default_sum(input, target, *, reduction="sum", delta=1.0, weight=None):
    return refloss.huber_loss(input, target, reduction=reduction, delta=delta, weight=weight)


def _huber_vjp_with_default_sum(g, input, target, *, reduction="sum", delta=1.0, weight=None):
    return refloss.huber_loss_vjp(g, input, target, reduction=reduction, delta=delta, weight=weight)


def _default_outcomes(report):
    return [o for o in report.outcomes if o.name.endswith(validator.DEFAULTS_SUFFIX)]


def test_defaults_are_checked_for_the_tests_that_set_only_the_default_reduction():
    report = validator.check(get_adapter("refloss"), SUITE, only=["huber_loss", "sigmoid_focal_loss"])
    expected = {t.uid for t in validator.load_tests(SUITE, ["huber_loss", "sigmoid_focal_loss"])
                if t.data["result"] != "invalid" and t.data["attributes"] == {"reduction": t.default_reduction}}
    assert expected and {o.uid for o in _default_outcomes(report)} == expected
    assert all(o.status == "pass" for o in _default_outcomes(report))
    # sigmoid_focal_loss's default reduction is torchvision's "none", not "mean"
    assert any(o.loss == "sigmoid_focal_loss" for o in _default_outcomes(report))


def test_an_implementation_whose_default_reduction_is_sum_fails():
    report = validator.check(_module("huber_loss", _huber_with_default_sum, _huber_vjp_with_default_sum), SUITE,
                             only=["huber_loss"])
    failures = [o for o in report.outcomes if o.failed]
    # Only the re-runs without reduction fail: all of them but where a sum is a mean (one element, or none)
    assert failures and all(o.name.endswith(validator.DEFAULTS_SUFFIX) for o in failures)
    assert all("whose default should be 'mean'" in o.message for o in failures)
    sizes = {t.uid: np.size(t.decoded_inputs()["input"]) for t in validator.load_tests(SUITE, ["huber_loss"])}
    assert all(sizes[o.uid] <= 1 for o in _default_outcomes(report) if not o.failed)


def test_a_required_reduction_skips_the_defaults_check():
    def forward(input, target, *, reduction, delta=1.0, weight=None):
        return refloss.huber_loss(input, target, reduction=reduction, delta=delta, weight=weight)

    report = validator.check(_module("huber_loss", forward), SUITE, only=["huber_loss"])
    assert not report.failed
    assert _default_outcomes(report) and all(o.status == "skip" and "no default for reduction" in o.message
                                             for o in _default_outcomes(report))


def test_defaults_through_torch():
    pytest.importorskip("torch")
    report = validator.check(get_adapter("torch"), SUITE, only=["huber_loss"], dtypes=["float64"])
    assert _default_outcomes(report) and all(o.status == "pass" for o in _default_outcomes(report))


def test_an_engine_whose_default_reduction_is_sum_fails_and_defaults_false_skips(tmp_path):
    summing = _engine(tmp_path, """
        def run(request):
            request.setdefault("reduction", "sum")
            return engine.run(request)
        serve(run)
    """)
    report = _check_engine(summing, only=["l1_loss"])
    failures = [o for o in report.outcomes if o.failed]
    assert failures and all(o.name.endswith(validator.DEFAULTS_SUFFIX) for o in failures)
    without_defaults = _engine(tmp_path, "serve(engine.run, defaults=False)")
    report = _check_engine(without_defaults, only=["l1_loss"])
    assert not report.failed
    assert _default_outcomes(report) and all(o.status == "skip" for o in _default_outcomes(report))


def test_assert_conforms_checks_the_default_reduction():
    vector = next(v for v in conformance_vectors("huber_loss") if v.checks_defaults
                  and np.size(v.decoded_inputs()["input"]) > 1)  # where the sum is not the mean
    assert_conforms(vector, refloss.huber_loss, refloss.huber_loss_vjp)
    with pytest.raises(AssertionError, match="called without reduction"):
        assert_conforms(vector, _huber_with_default_sum, _huber_vjp_with_default_sum)


# ---- 4. vacuous runs --------------------------------------------------------------------------------------------

def test_a_float32_run_of_the_float64_reference_checks_nothing_and_fails(capsys):
    assert main(["conformance", "check", "--dtype", "float32"]) == 1
    out = capsys.readouterr().out
    assert "nothing was checked: dtype float32 skipped: refloss computes in float64 only" in out


def test_only_a_loss_the_implementation_lacks_checks_nothing_and_fails(capsys, monkeypatch):
    import refloss.adapters as adapters

    monkeypatch.setattr(adapters, "get_adapter", lambda spec, **options: _module("mse_loss"))
    assert main(["conformance", "check", "--impl", "module:x", "--only", "l1_loss"]) == 1
    out = capsys.readouterr().out
    assert "nothing was checked: l1_loss skipped: not implemented by module:user_losses" in out
    assert "all: not implemented" in out  # listed in the table, not dropped


def test_a_missing_expectations_file_is_an_error_but_the_default_may_be_absent(tmp_path):
    with pytest.raises(SystemExit, match="expectations file .*nope.json does not exist"):
        main(["conformance", "check", "--only", "l1_loss", "--expectations", str(tmp_path / "nope.json")])
    assert validator.load_expectations(tmp_path / "absent.json") == {}


def test_assert_conforms_skips_a_dtype_outside_the_group():
    vector = next(v for v in conformance_vectors("mse_loss") if v.dtypes == ("float64",))
    with pytest.raises(pytest.skip.Exception, match="float64 only, not in float32"):
        assert_conforms(vector, refloss.mse_loss, refloss.mse_loss_vjp, dtype="float32")


def test_assert_conforms_rejects_an_unknown_dtype():
    vector = conformance_vectors("mse_loss")[0]
    with pytest.raises(ValueError, match="dtype must be one of float64, float32, float16.*'float128'"):
        assert_conforms(vector, refloss.mse_loss, refloss.mse_loss_vjp, dtype="float128")


def test_conformance_vectors_refuses_unknown_losses_and_losses_without_vectors(tmp_path):
    with pytest.raises(ValueError, match="unknown loss 'mse'; did you mean .*mse_loss"):
        conformance_vectors("mse")
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"files": {}}))
    with pytest.raises(ValueError, match="no conformance vectors for huber_loss"):
        conformance_vectors("huber_loss", directory=tmp_path)


# ---- 5. messages instead of tracebacks --------------------------------------------------------------------------

_PRELUDE = """
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("example_engine", {engine!r})
engine = importlib.util.module_from_spec(spec)
spec.loader.exec_module(engine)


def serve(run, **hello):
    hello = {{"protocol": "lossvec-jsonl/1", "name": "test engine", "functions": list(engine.FUNCTIONS),
             "dtypes": list(engine.DTYPES), **hello}}
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            response = {{"id": request["id"], **run(request)}}
        except engine.Rejected as rejection:
            response = {{"id": request["id"], "error": {{"category": rejection.category, "message": str(rejection)}}}}
        print(json.dumps(response), flush=True)
"""


def _engine(tmp_path, body, name=None):
    """The spec of an engine: the example engine's functions, served by ``body``."""
    path = tmp_path / (name or f"engine_{len(list(tmp_path.glob('engine_*.py')))}.py")
    path.write_text(_PRELUDE.format(engine=str(ENGINE)) + textwrap.dedent(body))
    return f"exec:{shlex.quote(sys.executable)} {shlex.quote(str(path))}"


def _check_engine(spec, **options):
    adapter = get_adapter(spec, timeout=options.pop("timeout", 20))
    try:
        return validator.check(adapter, SUITE, **options)
    finally:
        adapter.close()


def _cli_error(*args):
    with pytest.raises(SystemExit) as raised:
        main(["conformance", "check", *args])
    return str(raised.value.code)


def test_a_missing_engine_command():
    assert "no program './no_such_engine' found" in _cli_error("--impl", "exec:./no_such_engine")


def test_exec_without_a_command():
    assert "exec: needs the command that starts the engine" in _cli_error("--impl", "exec:")


def test_an_engine_that_exits_before_its_hello(tmp_path):
    script = tmp_path / "dies.py"
    script.write_text("import sys\nprint('error: libloss.so not found', file=sys.stderr)\nsys.exit(3)\n")
    message = _cli_error("--impl", f"exec:{sys.executable} {script}")
    assert "exited before sending its hello line (exit status 3)" in message
    assert "error: libloss.so not found" in message


def test_an_engine_that_speaks_another_protocol_version(tmp_path):
    engine = _engine(tmp_path, 'serve(engine.run, protocol="lossvec-jsonl/2")')
    message = _cli_error("--impl", engine)
    assert "speaks 'lossvec-jsonl/2', not 'lossvec-jsonl/1'" in message


def test_a_hello_that_is_not_json(tmp_path):
    script = tmp_path / "chatty.py"
    script.write_text("print('MyEngine 2.1 starting up...', flush=True)\nimport time\ntime.sleep(30)\n")
    message = _cli_error("--impl", f"exec:{sys.executable} {script}")
    assert "not JSON as its hello line" in message and "'MyEngine 2.1 starting up...'" in message


def test_a_response_that_is_not_json_shows_the_line_truncated(tmp_path):
    engine = _engine(tmp_path, """
        def run(request):
            print("debug: " + "x" * 500, flush=True)  # a log line on stdout breaks the protocol
            return engine.run(request)
        serve(run)
    """)
    report = _check_engine(engine, only=["mse_loss"])
    errors = [o for o in report.outcomes if o.failed]
    assert len(errors) == 1 and "not JSON as the answer to request 1" in errors[0].message
    assert "'debug: xxx" in errors[0].message and "(507 characters)" in errors[0].message
    assert all(o.status == "not-run" for o in report.outcomes if o is not errors[0])


def test_a_response_with_the_wrong_shape_gives_a_clear_message(tmp_path):
    engine = _engine(tmp_path, """
        def run(request):
            response = engine.run(request)
            if "value" in response and response["value"]["bits"]:
                response["value"]["shape"] = [len(response["value"]["bits"]) + 1]
            return response
        serve(run)
    """)
    report = _check_engine(engine, only=["mse_loss"], consistency=False)
    errors = [o for o in report.outcomes if o.status == "error"]
    assert errors and not report.aborted
    assert all("the value has" in o.message and "bit patterns for shape" in o.message and "reshape" not in o.message
               for o in errors)


def test_reports_into_a_missing_folder_are_written_after_the_summary(tmp_path, capsys):
    report_path = tmp_path / "new" / "folder" / "report.json"
    assert main(["conformance", "check", "--only", "l1_loss", "--json", str(report_path)]) == 0
    assert json.loads(report_path.read_text())["counts"]["failed"] == 0
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit, match="cannot write --junit .*a_file/report.xml"):
        main(["conformance", "check", "--only", "l1_loss", "--junit", str(blocker / "report.xml")])
    assert "0 failed" in capsys.readouterr().out  # the table and summary came first


def test_a_missing_suite_directory(tmp_path):
    assert f"--dir {tmp_path / 'nope'}: no such directory" in _cli_error("--dir", str(tmp_path / "nope"))
    assert "has no MANIFEST.json" in _cli_error("--dir", str(tmp_path))


@pytest.mark.parametrize("content, problem", [
    ("{not json", "is not valid JSON"),
    ('{"deviation": []}', 'must be a JSON object with a "deviations" list'),
    ('{"deviations": [{"reason": "x"}]}', 'deviation 0: an entry must be an object with a "uid" string'),
    ('{"deviations": [{"uid": "mse_loss-0c488db05bce"}]}', 'deviation 0 \\(mse_loss-0c488db05bce\\): "reason"'),
    ('{"deviations": [{"uid": "u", "reason": "r", "dtypes": ["float128"]}]}', '"dtypes" must be a list'),
])
def test_a_malformed_expectations_file_is_named_with_what_is_wrong(tmp_path, content, problem):
    path = tmp_path / "torch.json"
    path.write_text(content)
    message = _cli_error("--only", "l1_loss", "--expectations", str(path))
    assert str(path) in message
    assert re.search(problem, message), message


def test_a_module_without_losses_or_with_a_bad_entry():
    with pytest.raises(ValueError, match="module:empty defines no LOSSES"):
        ModuleAdapter(types.ModuleType("empty"))
    module = types.ModuleType("bad")
    module.LOSSES = {"mse_loss": refloss.mse_loss}
    with pytest.raises(ValueError, match=r"LOSSES\['mse_loss'\] must be a \(forward, vjp\) pair"):
        ModuleAdapter(module)
    module.LOSSES = {"mse": (refloss.mse_loss, refloss.mse_loss_vjp)}
    with pytest.raises(ValueError, match="did you mean .*mse_loss"):
        ModuleAdapter(module)
    assert "cannot import 'no_such_module_xyz'" in _cli_error("--impl", "module:no_such_module_xyz")
    assert "module: needs the name of a module" in _cli_error("--impl", "module:")


def test_module_is_imported_from_the_current_directory(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_local_losses.py").write_text(
        "import refloss\nLOSSES = {'l1_loss': (refloss.l1_loss, refloss.l1_loss_vjp)}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "my_local_losses", raising=False)
    assert main(["conformance", "check", "--impl", "module:my_local_losses"]) == 0
    assert "l1_loss" in capsys.readouterr().out
    sys.modules.pop("my_local_losses", None)


# ---- 6. exec: robustness ----------------------------------------------------------------------------------------

def test_a_hung_engine_is_killed_after_the_timeout(tmp_path, capsys):
    engine = _engine(tmp_path, """
        def run(request):
            if request["id"] == 2:
                time.sleep(600)
            return engine.run(request)
        serve(run)
    """)
    start = time.perf_counter()
    assert main(["conformance", "check", "--impl", engine, "--only", "mse_loss", "--timeout", "1"]) == 1
    assert time.perf_counter() - start < 20
    out = capsys.readouterr().out
    assert "sent nothing for 1 s while the validator waited for the answer to request 2" in out
    assert "killed" in out and "not run (the engine failed)" in out


def test_a_hello_that_never_comes_times_out(tmp_path):
    script = tmp_path / "silent.py"
    script.write_text("import time\ntime.sleep(600)\n")
    start = time.perf_counter()
    message = _cli_error("--impl", f"exec:{sys.executable} {script}", "--timeout", "0.5")
    assert time.perf_counter() - start < 20
    assert "sent nothing for 0.5 s while the validator waited for its hello line" in message


def test_an_engine_that_crashes_mid_run_gives_one_failure(tmp_path, capsys):
    engine = _engine(tmp_path, """
        def run(request):
            if request["id"] == 4:
                print("fatal: simulated out-of-memory in request 4", file=sys.stderr, flush=True)
                sys.exit(7)
            return engine.run(request)
        serve(run)
    """)
    for consistency in (True, False):  # request 4 falls in the consistency checks, then in the vectors
        report = _check_engine(engine, only=["mse_loss", "l1_loss"], consistency=consistency)
        failures = [o.message for o in report.outcomes if o.failed] + report.consistency_failures
        assert len(failures) == 1, failures
        assert "exited before sending the answer to request 4" in failures[0]
        assert "exit status 7" in failures[0] and "simulated out-of-memory" in failures[0]
        counts = report.counts()
        assert counts["not_run"] == len(report.outcomes) - counts["passed"] - counts["failed"] > 100
    assert "the run stopped early" in validator.format_summary(report)


def test_unsupported_losses_and_dtypes_are_listed_as_skipped(tmp_path):
    report = _check_engine(_engine(tmp_path, "serve(engine.run)"), only=["mse_loss", "cross_entropy"])
    assert list(report.skipped_losses) == ["cross_entropy"]
    assert report.skipped_losses["cross_entropy"].startswith("not implemented by exec:")
    assert set(report.skipped_dtypes) == {"float16", "bfloat16"}
    table = validator.format_table(report)
    assert "cross_entropy" in table and "SKIP dtype bfloat16" in table
    junit = ElementTree.fromstring(report.to_junit())
    assert junit.find("testsuite[@name='cross_entropy']/testcase/skipped") is not None


def test_a_hello_with_unknown_losses_or_dtypes_is_rejected(tmp_path):
    engine = _engine(tmp_path, 'serve(engine.run, functions=["mse_loss", "mse", "focal"], dtypes=["float64", '
                               '"float128"])')
    message = _cli_error("--impl", engine)
    assert "unknown functions mse, focal" in message and "unknown dtypes float128" in message


def test_the_protocol_requests_for_value_alone_gradients_alone_and_defaults(tmp_path):
    log = tmp_path / "requests.jsonl"
    engine = _engine(tmp_path, f"""
        def run(request):
            with open({str(log)!r}, "a") as file:
                file.write(json.dumps(request) + "\\n")
            return engine.run(request)
        serve(run)
    """)
    report = _check_engine(engine, only=["huber_loss"], dtypes=["float32"])
    assert not report.failed
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    value_only = [r for r in requests if r["grads"] == []]
    grads_only = [r for r in requests if r.get("value") is False]
    no_reduction = [r for r in requests if "reduction" not in r]
    invalid = sum(o.uid in _INVALID_UIDS for o in report.outcomes)
    assert len(value_only) == len(grads_only) == invalid
    assert all("cotangent" not in r for r in value_only) and all(r["grads"] for r in grads_only)
    assert len(no_reduction) == len(_default_outcomes(report)) > 0
    assert all(isinstance(r["id"], int) for r in requests)
    assert [r["id"] for r in requests] == list(range(1, len(requests) + 1))


def test_the_example_engine_still_passes_in_float64_and_float32():
    report = _check_engine(f"exec:{shlex.quote(sys.executable)} {shlex.quote(str(ENGINE))}")
    assert not report.failed and not report.nothing_checked, validator.format_table(report)
    assert {o.dtype for o in report.outcomes} == {"float64", "float32"}
    assert _default_outcomes(report) and all(o.status == "pass" for o in _default_outcomes(report))
    assert report.counts()["unchecked"] == 0  # it reports every category

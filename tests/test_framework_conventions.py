"""The framework-conventions page's data (docs/_ext/refloss_conventions.py) against the suite and the frameworks.

Every vector the tables cite exists; every "differs" is a deviation recorded in conformance/expectations/IMPL.json
and every "agrees" or "skipped" is not; the tables read the reports CI writes, and refuse missing, stale,
incomplete or contradicting ones. With a framework installed, its adapter runs the cited vectors and must show
what each row claims.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from refloss import _registry
from refloss.conformance import check

EXT = Path(__file__).resolve().parents[1] / "docs" / "_ext"
sys.path.insert(0, str(EXT))
import refloss_conventions as conventions  # noqa: E402

ROWS = [(topic.id, row) for topic in conventions.TOPICS for row in topic.rows]
ADAPTER_ROWS = [(topic_id, row) for topic_id, row in ROWS if row.impl]


def _deviations(impl: str) -> dict[str, dict]:
    path = check.suite_directory() / "expectations" / f"{impl}.json"
    return check.load_expectations(path, required=True)


@pytest.fixture(scope="module")
def suite_uids() -> set[str]:
    losses = {uid.rpartition("-")[0] for _, row in ROWS for uid in row.vectors}
    return {test.uid for test in check.load_tests(only=losses)}


def test_every_cited_vector_exists(suite_uids):
    cited = {uid for _, row in ROWS for uid in row.vectors}
    assert cited, "the tables cite no vectors"
    assert sorted(cited - suite_uids) == []


def test_every_row_is_complete_and_its_claim_known():
    for topic_id, row in ROWS:
        assert row.framework and row.does and row.refloss, (topic_id, row)
        assert (row.impl is None) == (row.claim is None), (topic_id, row)
        if row.impl:
            assert row.impl in conventions.ADAPTERS and row.claim in conventions.CLAIMS, (topic_id, row)
            assert row.vectors, f"{topic_id}: a row backed by the {row.impl} report needs vectors"


@pytest.mark.parametrize("topic_id, row", ADAPTER_ROWS, ids=[f"{t}-{r.impl}-{r.claim}" for t, r in ADAPTER_ROWS])
def test_claims_match_the_recorded_deviations(topic_id, row):
    recorded = [uid for uid in row.vectors if uid in _deviations(row.impl)]
    if row.claim == "differs":
        assert recorded, f"{topic_id}: {row.impl} is said to differ, but expectations/{row.impl}.json is silent"
    else:
        assert recorded == [], f"{topic_id}: {row.impl} is said to {row.claim}, but a deviation is recorded"


@pytest.mark.parametrize("topic_id, row", ADAPTER_ROWS, ids=[f"{t}-{r.impl}-{r.claim}" for t, r in ADAPTER_ROWS])
def test_the_adapter_has_an_equivalent_for_each_cited_loss(topic_id, row):
    # otherwise its report would list the loss as skipped and hold no outcome for the vector
    for uid in row.vectors:
        equivalents = {e.framework for e in _registry.get(uid.rpartition("-")[0]).equivalents}
        assert equivalents & set(conventions.ADAPTERS[row.impl]), (topic_id, uid)


def test_report_losses_and_the_command_line_agree():
    for impl in conventions.ADAPTERS:
        losses = conventions.report_losses(impl)
        cited = {uid.rpartition("-")[0] for _, row in ROWS if row.impl == impl for uid in row.vectors}
        assert losses == sorted(cited)
        printed = subprocess.run([sys.executable, str(EXT / "refloss_conventions.py"), impl], check=True,
                                 capture_output=True, text=True).stdout
        assert printed.split() == losses
    with pytest.raises(ValueError, match="unknown adapter"):
        conventions.report_losses("tensorflow")


def test_observed_claim():
    assert conventions.observed_claim(["pass", "acceptable:empty-mean-is-zero", "invalid-unchecked"]) == "agrees"
    assert conventions.observed_claim(["pass", "skip", "xfail"]) == "differs"
    assert conventions.observed_claim(["skip", "skip"]) == "skipped"
    assert conventions.observed_claim(["xpass"]) == "unclear"


# ---- the tables, with and without reports ------------------------------------------------------------------------

def _fake_report(impl: str, status_of=None) -> dict:
    """A report as `refloss conformance check --json` writes it, with each row's claimed outcome for its vectors."""
    status = {"agrees": "pass", "differs": "xfail", "skipped": "skip"}
    outcomes = [{"uid": uid, "dtype": "float32", "status": (status_of or {}).get(uid, status[row.claim])}
                for _, row in ADAPTER_ROWS if row.impl == impl for uid in row.vectors]
    manifest = hashlib.sha256((check.suite_directory() / "MANIFEST.json").read_bytes()).hexdigest()
    return {"adapter": f"{impl} 1.0 (fake)", "manifestSha256": manifest, "outcomes": outcomes}


def _write_reports(directory: Path, **overrides) -> None:
    for impl in conventions.ADAPTERS:
        report = overrides.get(impl, _fake_report(impl))
        if report is not None:
            (directory / f"{impl}.json").write_text(json.dumps(report))


def test_without_reports_every_adapter_cell_says_not_run(monkeypatch):
    monkeypatch.delenv(conventions.REPORTS_VARIABLE, raising=False)
    header, rows = conventions.conventions_table()
    assert len(rows) == len(ROWS) and all(len(r) == len(header) for r in rows)
    for (_, row), cells in zip(ROWS, rows):
        if row.impl:
            assert cells[-1].startswith(f"{row.impl}: not run in this build"), cells[-1]
            assert ("records a deviation" in cells[-1]) == (row.claim == "differs"), cells[-1]


def test_with_reports_every_adapter_cell_shows_its_report(monkeypatch, tmp_path):
    _write_reports(tmp_path)
    monkeypatch.setenv(conventions.REPORTS_VARIABLE, str(tmp_path))
    for topic in conventions.TOPICS:
        header, rows = getattr(conventions, "table_" + topic.id.replace("-", "_"))()
        for row, cells in zip(topic.rows, rows):
            if row.impl:
                assert cells[-1].startswith(f"{row.impl} 1.0 (fake): {row.claim} ("), cells[-1]


def test_a_missing_report_stops_the_build(monkeypatch, tmp_path):
    _write_reports(tmp_path, keras=None)
    monkeypatch.setenv(conventions.REPORTS_VARIABLE, str(tmp_path))
    with pytest.raises(conventions.ReportError, match=r"keras.json does not exist; run: refloss conformance check "
                                                      r"--impl keras --only "):
        conventions.conventions_table()


def test_a_report_without_a_cited_vector_stops_the_build(monkeypatch, tmp_path):
    report = _fake_report("jax")
    dropped = report["outcomes"].pop()["uid"]
    report["outcomes"] = [o for o in report["outcomes"] if o["uid"] != dropped]
    _write_reports(tmp_path, jax=report)
    monkeypatch.setenv(conventions.REPORTS_VARIABLE, str(tmp_path))
    with pytest.raises(conventions.ReportError, match=f"has no outcome for {dropped}"):
        conventions.conventions_table()


def test_a_report_of_another_suite_stops_the_build(monkeypatch, tmp_path):
    report = _fake_report("torch")
    report["manifestSha256"] = "0" * 64
    _write_reports(tmp_path, torch=report)
    monkeypatch.setenv(conventions.REPORTS_VARIABLE, str(tmp_path))
    with pytest.raises(conventions.ReportError, match="another conformance suite"):
        conventions.conventions_table()


def test_a_report_that_contradicts_a_row_stops_the_build(monkeypatch, tmp_path):
    agreeing = next(row for _, row in ADAPTER_ROWS if row.impl == "torch" and row.claim == "agrees")
    _write_reports(tmp_path, torch=_fake_report("torch", {agreeing.vectors[0]: "xfail"}))
    monkeypatch.setenv(conventions.REPORTS_VARIABLE, str(tmp_path))
    with pytest.raises(conventions.ReportError, match="says torch agrees .* its report shows"):
        conventions.conventions_table()


# ---- the frameworks themselves -----------------------------------------------------------------------------------

# One dtype per adapter keeps this quick: float64 for PyTorch and optax, float32 for Keras (its only full precision).
DTYPE = {"torch": "float64", "jax": "float64", "keras": "float32"}
FRAMEWORK_MODULE = {"torch": "torch", "jax": "optax", "keras": "keras"}


@pytest.mark.parametrize("impl", list(conventions.ADAPTERS))
def test_the_framework_shows_what_the_rows_claim(impl, monkeypatch):
    if impl == "keras":
        monkeypatch.setenv("KERAS_BACKEND", "jax")  # before Keras is imported: the adapter runs it on JAX
    pytest.importorskip(FRAMEWORK_MODULE[impl])
    from refloss.adapters import get_adapter

    adapter = get_adapter(impl)
    deviations = _deviations(impl)
    rows = [row for _, row in ADAPTER_ROWS if row.impl == impl]
    wanted = {uid for row in rows for uid in row.vectors}
    tests = {t.uid: t for t in check.load_tests(only=conventions.report_losses(impl)) if t.uid in wanted}
    try:
        for row in rows:
            statuses = []
            for uid in row.vectors:
                test = tests[uid]
                dtype = DTYPE[impl] if DTYPE[impl] in test.dtypes else test.dtypes[-1]
                outcome = check.run_test(adapter, test, dtype)
                check._apply_deviation(outcome, deviations.get(uid))
                statuses.append(outcome.status)
            assert conventions.observed_claim(statuses) == row.claim, (row.framework, row.does, statuses)
    finally:
        adapter.close()

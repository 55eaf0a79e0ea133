"""`refloss bench`: its report holds what docs/performance.md promises, its arguments are checked, and it runs
without torch. Timings are never asserted (they depend on the machine); sizes are tiny so the file runs in seconds.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refloss import bench
from refloss.cli import main as cli_main

TINY = ["--sizes", "100", "--repeats", "3"]


def _run(capsys, *arguments):
    assert bench.main([*TINY, *arguments]) == 0
    return capsys.readouterr()


def _positive(value):
    return isinstance(value, float) and math.isfinite(value) and value > 0


def test_json_holds_the_documented_fields_with_positive_figures(tmp_path, capsys):
    path = tmp_path / "out" / "bench.json"  # a missing folder is created
    out = _run(capsys, "--losses", "mse_loss", "cross_entropy", "--json", str(path)).out
    document = json.loads(path.read_text())
    assert document["format"] == "refloss-bench/1"
    assert {"cpu", "logical_cores", "python", "numpy", "torch", "torchvision", "refloss_commit"} <= \
        set(document["machine"])
    assert document["settings"]["sizes"] == [100] and document["settings"]["repeats"] == 3
    rows = {row["loss"]: row for row in document["results"]}
    assert list(rows) == ["mse_loss", "cross_entropy"]
    assert rows["cross_entropy"]["shape"] == "10 x 80, 10"  # size/10 samples x 80 classes, and the labels
    torch_present = document["machine"]["torch"] != "not installed"
    for row in rows.values():
        assert row["size"] == 100 and row["repeats"] == 3 and row["measures"] == "forward + VJP"
        for name in ("separate", "fused", "autograd", "memcpy", *(["torch"] if torch_present else [])):
            contender = row["contenders"][name]
            assert len(contender["samples"]) == 3 and all(map(_positive, contender["samples"]))
            assert contender["median_seconds"] == float(np.median(contender["samples"]))
            assert contender["ns_per_element"] == pytest.approx(contender["median_seconds"] / 100 * 1e9)
        expected_ratios = ["separate/memcpy", "fused/memcpy", "autograd/separate", "autograd/fused"]
        assert all(_positive(row["ratios"][key]) for key in expected_ratios)
        assert all(_positive(row["ratios"][key]) for key in ("separate/torch", "fused/torch")) == torch_present
    memory = rows["mse_loss"]["peak_extra_memory"]
    assert set(memory) == {"separate", "fused"} and all(0 <= value < 100 for value in memory.values())
    assert rows["cross_entropy"]["peak_extra_memory"] is None  # elementwise losses only
    targets = document["targets"]
    assert {t["target"] for t in targets if t["loss"] == "mse_loss"} >= {
        "separate <= 1.0x torch at 1e6", "fused <= 1.0x torch at 1e6", "autograd >= 5x separate at 1e6",
        "separate per call <= torch at 1e3", "peak extra memory <= 3x input at 1e6 (fused)"}
    assert all(t["measured"] is None and t["met"] is None for t in targets)  # size 100 is neither 1e3 nor 1e6
    # the table: the machine, a row per cell, the targets
    assert "logical cores" in out and "sep/torch" in out and "targets (issue 11" in out
    assert any(line.startswith("cross_entropy") and " 100 " in line for line in out.splitlines())


def test_json_to_stdout_leaves_the_table_to_stderr(capsys):
    captured = _run(capsys, "--losses", "mse_loss", "--no-torch", "--json", "-")
    assert json.loads(captured.out)["results"][0]["loss"] == "mse_loss"  # stdout is the JSON alone
    assert "sep/torch" in captured.err and "[1/1] mse_loss 100" in captured.err  # table and progress line


def test_markdown_table(tmp_path, capsys):
    path = tmp_path / "table.md"
    _run(capsys, "--losses", "mse_loss", "--no-torch", "--markdown", str(path))
    text = path.read_text()
    assert "| loss | size | separate |" in text and "| mse_loss | 100 |" in text and "- machine: " in text
    captured = _run(capsys, "--losses", "mse_loss", "--no-torch", "--markdown", "-")
    assert captured.out.startswith("- machine: ") and "sep/torch" in captured.err
    with pytest.raises(SystemExit, match="cannot both take stdout"):
        bench.main([*TINY, "--json", "-", "--markdown", "-"])


def test_targets_are_marked_met_or_not_met_and_never_fail_the_command(capsys):
    # 1e3 is a target size (per-call cost); with torch absent the verdict is "not measured", with torch present
    # it is met or NOT met: either way the exit status is 0
    out = _run(capsys, "--losses", "mse_loss", "--sizes", "1000", "--no-torch").out
    assert "separate per call <= torch at 1e3" in out and "not measured" in out


def test_without_torch_every_other_contender_still_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.setitem(sys.modules, "torchvision", None)
    path = tmp_path / "bench.json"
    out = _run(capsys, "--losses", "smooth_l1_loss", "--json", str(path)).out
    row = json.loads(path.read_text())["results"][0]
    assert row["contenders"]["torch"] is None and row["skipped"]["torch"] == "not installed (torch)"
    assert row["ratios"]["separate/torch"] is None
    assert all(row["contenders"][name] is not None for name in ("separate", "fused", "autograd", "memcpy"))
    assert "n/a  torch: not installed (torch)" in out


def test_no_torch_and_box_iou_forward_only(tmp_path, capsys):
    path = tmp_path / "bench.json"
    _run(capsys, "--losses", "box_iou", "--no-torch", "--json", str(path))
    row = json.loads(path.read_text())["results"][0]
    assert row["measures"] == "forward only" and row["shape"] == "10 x 4, 10 x 4"  # sqrt(100) boxes a side
    assert row["skipped"] == {"fused": "box_iou has no VJP (by design)", "autograd": "box_iou has no VJP (by design)",
                              "torch": "off (--no-torch)"}
    assert row["contenders"]["separate"] is not None and row["contenders"]["memcpy"] is not None


def test_default_caps_skip_large_cells_unless_the_sizes_are_given(monkeypatch, capsys):
    planned = []
    monkeypatch.setattr(bench, "measure", lambda case, size, **kw: planned.append((case.name, size)) or
                        bench.Cell(case.name, size, "", "forward + VJP"))
    monkeypatch.setattr(bench, "DEFAULT_SIZES", (10**6, 10**7))
    bench.main(["--losses", "mse_loss", "cross_entropy", "--no-torch", "--markdown", "-"])
    assert planned == [("mse_loss", 10**6), ("mse_loss", 10**7), ("cross_entropy", 10**6)]
    assert "- not run (default caps; pass --sizes to run them): cross_entropy 1e7: above its default cap 1e6" in \
        capsys.readouterr().out
    planned.clear()
    bench.main(["--losses", "cross_entropy", "--sizes", "1e7", "--no-torch", "--json", "-"])
    assert planned == [("cross_entropy", 10**7)]


@pytest.mark.parametrize("arguments, message", [
    (["--losses", "nope"], "invalid choice: 'nope'"),
    (["--sizes", "0"], "size must be a positive whole number (at least 1), got '0'"),
    (["--sizes", "1e3", "-5"], "size must be a positive whole number (at least 1), got '-5'"),
    (["--sizes", "1.5"], "got '1.5'"),
    (["--sizes", "big"], "size must be a positive whole number such as 1000 or 1e6, got 'big'"),
    (["--repeats", "0"], "--repeats: must be a positive integer (at least 1), got '0'"),
    (["--budget", "-1"], "--budget: must be a positive number of seconds, got '-1'"),
])
def test_bad_arguments_exit_2_naming_the_problem(capsys, arguments, message):
    for main in (bench.main, lambda argv: cli_main(["bench", *argv])):
        with pytest.raises(SystemExit) as exit_info:
            main(arguments)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_help_defines_size_and_the_command_to_reproduce():
    result = subprocess.run([sys.executable, "-m", "refloss", "bench", "--help"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "size/10 samples x 80 classes" in text and "sqrt(size) x sqrt(size)" in text and "--no-torch" in text
    assert "refloss bench --markdown bench-table.md --json bench.json" in text


def test_sizes_parse_in_the_ways_people_write_them():
    assert [bench._size(text) for text in ("1000", "1e6", "1_000_000", "2.5e3")] == [1000, 10**6, 10**6, 2500]
    assert [bench.size_text(n) for n in (100, 1000, 2_000_000, 1500)] == ["100", "1e3", "2e6", "1500"]


def test_ratios_are_medians_of_paired_ratios_not_ratios_of_medians():
    # per repetition 1/1, 3/6, 10/2 -> 1, 0.5, 5: median 1; the ratio of the medians would be 3/2
    assert bench._paired_ratio([1.0, 3.0, 10.0], [1.0, 6.0, 2.0]) == 1.0
    assert bench._paired_ratio(None, [1.0]) is None


def test_contenders_are_interleaved_in_a_rotating_order():
    log = []
    functions = {name: (lambda name=name: log.append(name)) for name in "ABC"}
    seconds = bench.interleaved(functions, {"A": 1, "B": 1, "C": 2}, repeats=3)
    assert "".join(log) == "ABCC" + "BCCA" + "CCAB"  # C is called twice per sample
    assert {name: len(values) for name, values in seconds.items()} == {"A": 3, "B": 3, "C": 3}


def test_peak_extra_memory_subtracts_what_the_call_returns():
    # a temporary of n float64 and a result of n float64 at the peak, the result returned: one input's bytes
    # extra (a named temporary: NumPy reuses an unnamed one in place, `np.ones(n) + 1.0` allocates once)
    n = 100_000

    def one_temporary():
        ones = np.ones(n)
        return ones + 1.0

    assert bench._peak_extra_memory(one_temporary, input_bytes=8 * n) == pytest.approx(1.0, abs=0.05)
    assert bench._peak_extra_memory(lambda: (np.ones(n), np.ones(n)), input_bytes=8 * n) == \
        pytest.approx(0.0, abs=0.05)


def test_targets_are_judged_as_printed():
    # the memory figures carry a constant few kB of Python objects: 3.0003x prints as 3.00x and meets "<= 3x"
    at_most = bench.Target("mse_loss", "", 10**6, "memory:fused", 3.0)
    assert at_most.met(3.0003) is True and at_most.met(3.006) is False and at_most.met(None) is None
    at_least = bench.Target("mse_loss", "", 10**6, "autograd/separate", 5.0, at_least=True)
    assert at_least.met(4.996) is True and at_least.met(4.99) is False and at_least.met(7.0) is True

"""The tutorials (docs/tutorials/) run as written.

Each tutorial keeps its shell commands in a ``commands.sh`` beside its code, in blocks marked ``# [name]`` ...
``# [/name]``; the pages include those blocks, and these tests run exactly those lines, in a copy of the folder
(so nothing is built or cached in the checkout). ``refloss`` and ``python`` at the start of a command run as this
interpreter's ``-m refloss`` and the interpreter itself, with this checkout on PYTHONPATH; ``cc`` is the C compiler
found on PATH. What each page says the commands print is asserted here.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "docs" / "tutorials"
CODE = TUTORIALS / "code"
ENGINE = TUTORIALS / "engine"
COMPILER = shutil.which("cc") or shutil.which("gcc")


def command_blocks(path):
    """{name: [command lines]} from a commands.sh with # [name] ... # [/name] blocks."""
    blocks, current = {}, None
    for line in path.read_text().splitlines():
        marker = re.fullmatch(r"# \[(/?)([\w-]+)\]", line.strip())
        if marker:
            current = None if marker.group(1) else blocks.setdefault(marker.group(2), [])
        elif current is not None and line.strip():
            current.append(line.strip())
    return blocks


def run_block(folder, name):
    """Run the commands of block ``name`` of ``folder``/commands.sh in ``folder``; the last one's result."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.setdefault("KERAS_BACKEND", "jax")
    result = None
    for line in command_blocks(folder / "commands.sh")[name]:
        words = shlex.split(line)
        program = {"refloss": [sys.executable, "-m", "refloss"], "python": [sys.executable], "cc": [COMPILER]}
        words = program.get(words[0], words[:1]) + words[1:]
        result = subprocess.run(words, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    return result


@pytest.fixture
def copy_of(tmp_path):
    def copy(folder):
        target = tmp_path / folder.name
        shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__", "lossvec_engine", "reports"))
        return target
    return copy


def fail_lines(output):
    return [line for line in output.splitlines() if line.startswith("FAIL ")]


def test_every_included_block_exists_and_every_page_is_in_the_index():
    """The pages include blocks by marker: a renamed marker would include the whole file, silently."""
    pages = sorted(TUTORIALS.glob("*.md"))
    index = (TUTORIALS / "index.md").read_text()
    for page in pages:
        text = page.read_text()
        if page.name != "index.md":
            assert f"\n{page.stem}\n" in index, f"{page.name} is not in the toctree of index.md"
        for path, name in re.findall(r"\{literalinclude\} (\S+/commands\.sh)\n[^`]*?:start-after: \"# \[([\w-]+)\]\"",
                                     text):
            assert name in command_blocks(TUTORIALS / path), f"{page.name} includes a missing block {name} of {path}"
        for path in re.findall(r"\{literalinclude\} (\S+)", text):
            assert (TUTORIALS / path).is_file(), f"{page.name} includes {path}, which does not exist"


# -- 1. PyTorch ----------------------------------------------------------------------------------------------------

def test_pytorch_tutorial(copy_of):
    pytest.importorskip("torch")
    folder = copy_of(CODE / "pytorch")

    builtin = run_block(folder, "torch-builtin")
    assert builtin.returncode == 0, builtin.stdout + builtin.stderr
    assert "unchecked" in builtin.stdout and "expected failures" in builtin.stdout  # as the page says

    first_try = run_block(folder, "first-try")
    assert first_try.returncode == 1, first_try.stdout + first_try.stderr
    failures = fail_lines(first_try.stdout)
    assert failures
    for line in failures:  # only gradients, all NaN, all at beta = 0 or an infinite residual
        assert ": grad input entry" in line and "got nan" in line, line
        assert "beta0" in line or "inf" in line, line
    assert any("beta0_none" in line for line in failures) and any("nan_inf_none" in line for line in failures)

    fixed = run_block(folder, "fixed")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert not fail_lines(fixed.stdout) and " 0 failed" in fixed.stdout
    assert "SKIP dtype float16" in fixed.stdout and "SKIP dtype bfloat16" in fixed.stdout


# -- 2. JAX --------------------------------------------------------------------------------------------------------

def test_jax_tutorial(copy_of):
    # The slowest tutorial (~20-50 s here): XLA compiles each of the vectors' shapes, in float64 and float32.
    pytest.importorskip("jax")
    folder = copy_of(CODE / "jax")

    first_try = run_block(folder, "first-try")
    assert first_try.returncode == 1, first_try.stdout + first_try.stderr
    failures = fail_lines(first_try.stdout)
    for name in ("confident_right_none", "saturated_logits_none", "logits_1e4_none"):  # NaN where the loss is tiny
        assert any(f" {name} " in line and "value entry 0: got nan" in line for line in failures), name
    assert any("ulps off" in line for line in failures)
    assert any(" tiny_logits_none " in line and "grad target" in line for line in failures)
    assert any(line.startswith("FAIL consistency:") and "zero cotangent" in line for line in failures)

    fixed = run_block(folder, "fixed")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert not fail_lines(fixed.stdout) and " 0 failed" in fixed.stdout
    assert "unchecked" not in fixed.stdout  # every rejection carried the category the vector asks for


# -- 3. the C engine -----------------------------------------------------------------------------------------------

@pytest.fixture
def engine_folder(copy_of):
    if COMPILER is None:
        pytest.skip("no C compiler (cc or gcc) on PATH: the tutorial's engine cannot be built")
    folder = copy_of(ENGINE)
    build = run_block(folder, "build")
    assert build.returncode == 0, build.stdout + build.stderr
    assert build.stderr == "", f"the engine compiles with warnings:\n{build.stderr}"  # -Wall -Wextra: clean
    return folder


def test_c_engine_passes_what_it_implements_and_skips_the_rest(engine_folder):
    check = run_block(engine_folder, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    rows = {line.split()[0]: line.split() for line in check.stdout.splitlines()
            if line.split() and line.split()[0].endswith("_loss")}
    for loss in ("l1_loss", "mse_loss", "smooth_l1_loss"):
        runs, passed, failed = rows[loss][1:4]
        assert int(runs) > 0 and passed == runs and failed == "0", rows[loss]
    assert "all: not implemented" in " ".join(rows["huber_loss"])
    assert "SKIP dtype float16" in check.stdout and "SKIP dtype bfloat16" in check.stdout

    reports = run_block(engine_folder, "reports")  # the whole suite: everything else skipped, nothing failed
    assert reports.returncode == 0, reports.stdout + reports.stderr
    report = json.loads((engine_folder / "reports" / "engine.json").read_text())
    assert report["counts"]["failed"] == 0 and report["counts"]["passed"] > 0
    assert {o["loss"] for o in report["outcomes"]} == {"l1_loss", "mse_loss", "smooth_l1_loss"}
    assert "cross_entropy" in report["skippedLosses"] and set(report["skippedDtypes"]) == {"float16", "bfloat16"}
    assert (engine_folder / "reports" / "engine.xml").is_file()
    # the invalid vectors were refused with the right categories, not merely refused
    assert any(o["status"] == "invalid-ok" for o in report["outcomes"])
    assert not any(o["status"] == "invalid-unchecked" for o in report["outcomes"])


def test_c_engine_with_the_pages_bug_fails_on_mse_gradients(engine_folder):
    """The page invites the reader to break the MSE gradient; the validator must then name those tests."""
    source = engine_folder / "lossvec_engine.c"
    text = source.read_text()
    assert text.count("*slope = round_to(p, 2 * d);") == 1
    source.write_text(text.replace("*slope = round_to(p, 2 * d);", "*slope = d;"))
    assert run_block(engine_folder, "build").returncode == 0
    check = run_block(engine_folder, "check")
    assert check.returncode == 1
    failures = fail_lines(check.stdout)
    assert failures and all("mse_loss" in line for line in failures)
    assert any("grad input" in line for line in failures)


# -- 4. pytest in another project ----------------------------------------------------------------------------------

def test_pytest_tutorial(copy_of):
    folder = copy_of(CODE / "pytest_project")
    result = run_block(folder, "pytest")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" in summary and "failed" not in summary, summary


def test_pytest_tutorial_catches_the_pages_bug(copy_of):
    folder = copy_of(CODE / "pytest_project")
    source = folder / "my_losses.py"
    text = source.read_text()
    assert text.count("g = g / d.size") == 1
    source.write_text(text.replace("g = g / d.size", "g = g"))
    result = run_block(folder, "pytest")
    assert result.returncode == 1
    failed = re.findall(r"^FAILED (.*?)(?: - .*)?$", result.stdout, flags=re.MULTILINE)
    assert failed and all("mean" in test_id for test_id in failed), failed
    assert any("test_huber_matches_reference[mean]" in test_id for test_id in failed)


# -- 5. golden fixtures --------------------------------------------------------------------------------------------

def test_fixtures_tutorial(copy_of):
    folder = copy_of(CODE / "fixtures")
    committed = (folder / "box_loss_fixtures.json").read_bytes()
    generate = run_block(folder, "generate")
    assert generate.returncode == 0, generate.stdout + generate.stderr
    assert (folder / "box_loss_fixtures.json").read_bytes() == committed, \
        "make_fixtures.py no longer writes the committed box_loss_fixtures.json: regenerate it and review the diff"
    pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    result = run_block(folder, "pytest")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout

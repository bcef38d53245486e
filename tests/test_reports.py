"""Reviewing a conversion: diffs (coloured or not), JSON, SARIF 2.1.0, Markdown, --check, pre-commit."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_cli import ROOT, TF_SOURCE, TORCH_EXPECTED, run

MIXED = (
    "import tensorflow as tf\n\n"
    "x = tf.reduce_sum(tf.ones([2, 3]), axis=1)\n"
    "y = tf.linalg.expm(x)\n"
    "z = tf.nn.gelu(x, approximate=True) + tf.signal.fft(x)\n"
)
ESC = "\x1b["


def tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mixed.py").write_text(MIXED)
    (root / "pkg" / "clean.py").write_text(TORCH_EXPECTED)
    (root / "pkg" / "plain.py").write_text("x = 1\n")
    (root / "pkg" / "bad.py").write_text("import tensorflow as tf\nx = (\n")
    return root / "pkg"


# -- diffs --------------------------------------------------------------------

def test_diff_is_plain_when_not_a_terminal(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(TF_SOURCE)
    proc = run("convert", f, "--to", "torch", "--diff", env={"NO_COLOR": ""})
    assert proc.returncode == 0
    assert ESC not in proc.stdout
    assert proc.stdout.startswith(f"--- {f}\n+++ {f}\n@@ ")
    assert "-import tensorflow as tf\n" in proc.stdout and "+import torch\n" in proc.stdout
    assert f.read_text() == TF_SOURCE  # --diff writes nothing


def test_diff_colour_always_and_never(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(TF_SOURCE)
    always = run("convert", f, "--to", "torch", "--diff", "--color", "always")
    assert f"{ESC}31m-import tensorflow as tf{ESC}0m\n" in always.stdout
    assert f"{ESC}32m+import torch{ESC}0m\n" in always.stdout
    assert f"{ESC}36m@@" in always.stdout
    never = run("convert", f, "--to", "torch", "--diff", "--color", "never")
    assert ESC not in never.stdout
    assert always.stdout.replace(f"{ESC}31m", "").replace(f"{ESC}32m", "").replace(f"{ESC}36m", "").replace(f"{ESC}0m", "") == never.stdout


def _run_on_a_terminal(args: list[str], env: dict) -> str:
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "transpiler", *args], stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode()


def test_diff_colour_auto_follows_the_terminal(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(TF_SOURCE)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TRANSPILER_SERVER"] = "0"
    on_tty = _run_on_a_terminal(["convert", str(f), "--to", "torch", "--diff"], env)
    assert f"{ESC}32m+import torch{ESC}0m" in on_tty
    no_color = _run_on_a_terminal(["convert", str(f), "--to", "torch", "--diff"], dict(env, NO_COLOR="1"))
    assert ESC not in no_color and "+import torch" in no_color
    piped = subprocess.run(
        [sys.executable, "-m", "transpiler", "convert", str(f), "--to", "torch", "--diff"],
        capture_output=True, text=True, env=env,
    )
    assert ESC not in piped.stdout and "+import torch" in piped.stdout


def test_diff_of_stdin_and_a_file_without_final_newline(tmp_path):
    proc = run("convert", "-", "--to", "torch", "--diff", "--stdin-filename", "m.py", stdin=TF_SOURCE.rstrip("\n"))
    assert proc.returncode == 0
    assert "+x = torch.sum(torch.ones([2, 3]), dim=1)\n\\ No newline at end of file\n" in proc.stdout


# -- --check ------------------------------------------------------------------

def test_check_exit_codes(tmp_path):
    pkg = tree(tmp_path)
    assert run("convert", pkg / "clean.py", pkg / "plain.py", "--to", "torch", "--check").returncode == 0
    would = run("convert", pkg / "clean.py", pkg / "mixed.py", "--to", "torch", "--check")
    assert would.returncode == 1
    assert "mixed.py: " in would.stdout
    left = tmp_path / "left.py"
    left.write_text(run("convert", pkg / "mixed.py", "--to", "torch").stdout)  # converted, two APIs left
    still = run("convert", left, "--to", "torch", "--check")
    assert still.returncode == 1 and "unconverted tensorflow.linalg.expm" in still.stdout
    errors = run("convert", pkg, "--to", "torch", "--check")
    assert errors.returncode == 2  # an error wins over "would change"
    assert {p.name: p.read_text() for p in pkg.iterdir()}["mixed.py"] == MIXED  # --check writes nothing


# -- JSON ---------------------------------------------------------------------

def test_json_report_structure(tmp_path):
    pkg = tree(tmp_path)
    proc = run("convert", pkg, "--to", "torch", "--check", "--report", "json")
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data["version"] == 1 and data["direction"] == "torch"
    files = {Path(f["path"]).name: f for f in data["files"]}
    assert set(files) == {"mixed.py", "clean.py", "plain.py", "bad.py"}
    assert files["bad.py"]["status"] == "error" and "does not parse" in files["bad.py"]["error"]
    mixed = files["mixed.py"]
    assert mixed["status"] == "would-convert" and mixed["source_framework"] == "tf"
    unconverted = [x for x in mixed["findings"] if x["kind"] == "unconverted"]
    assert [(x["line"], x["api"]) for x in unconverted] == [(4, "tensorflow.linalg.expm"), (5, "tensorflow.signal.fft")]
    assert all(set(x) == {"line", "col", "api", "kind", "message", "target"} for x in mixed["findings"])
    assert data["totals"] == {
        "files": 4, "changed": 1, "errors": 1,
        "converted": mixed["converted"], "unconverted": 2, "warnings": data["totals"]["warnings"],
    }


def test_report_file_gets_the_report_and_stdout_the_code(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(MIXED)
    out = tmp_path / "report.json"
    proc = run("convert", f, "--to", "torch", "--report", "json", "--report-file", out)
    assert proc.returncode == 0
    assert "x = torch.sum(torch.ones([2, 3]), dim=1)\n" in proc.stdout
    assert json.loads(out.read_text())["totals"]["unconverted"] == 2
    assert proc.stderr == ""


# -- SARIF 2.1.0 ----------------------------------------------------------------

LEVELS = {"none", "note", "warning", "error"}


def check_sarif(log: dict) -> None:
    """The SARIF 2.1.0 schema's required properties and enumerations, for what we emit."""
    assert set(log) >= {"version", "runs"} and log["version"] == "2.1.0"
    assert isinstance(log["runs"], list) and log["runs"]
    for run_ in log["runs"]:
        assert "tool" in run_ and "driver" in run_["tool"]
        driver = run_["tool"]["driver"]
        assert isinstance(driver["name"], str) and driver["name"]
        rules = driver.get("rules", [])
        ids = [r["id"] for r in rules]  # reportingDescriptor: id is required
        assert len(ids) == len(set(ids))
        for rule in rules:
            for key in ("shortDescription", "fullDescription"):
                if key in rule:
                    assert isinstance(rule[key]["text"], str)  # multiformatMessageString: text required
            if "defaultConfiguration" in rule:
                assert rule["defaultConfiguration"]["level"] in LEVELS
        if "columnKind" in run_:
            assert run_["columnKind"] in {"utf16CodeUnits", "unicodeCodePoints"}
        bases = run_.get("originalUriBaseIds", {})
        for base in bases.values():
            assert base["uri"].endswith("/")
        for result in run_.get("results", []):
            message = result["message"]  # required
            assert "text" in message or "id" in message
            if "level" in result:
                assert result["level"] in LEVELS
            if "ruleIndex" in result:
                assert 0 <= result["ruleIndex"] < len(rules)
                assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            for location in result.get("locations", []):
                physical = location["physicalLocation"]
                assert "artifactLocation" in physical or "address" in physical
                artifact = physical["artifactLocation"]
                assert isinstance(artifact["uri"], str) and " " not in artifact["uri"]
                if "uriBaseId" in artifact:
                    assert artifact["uriBaseId"] in bases
                region = physical.get("region")
                if region is not None:
                    assert region["startLine"] >= 1 and region.get("startColumn", 1) >= 1


def test_sarif_has_one_result_per_unconverted_use_with_locations(tmp_path):
    pkg = tree(tmp_path)
    spaced = pkg / "with space.py"
    spaced.write_text("import tensorflow as tf\ny = tf.linalg.expm(x)\n")
    proc = run("convert", "pkg", "--to", "torch", "--check", "--report", "sarif", cwd=tmp_path)
    log = json.loads(proc.stdout)
    check_sarif(log)
    results = log["runs"][0]["results"]
    unconverted = sorted(
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["locations"][0]["physicalLocation"]["region"]["startLine"],
         r["locations"][0]["physicalLocation"]["region"]["startColumn"], r["properties"]["api"])
        for r in results if r["ruleId"] == "unconverted"
    )
    assert unconverted == [
        ("pkg/mixed.py", 4, 5, "tensorflow.linalg.expm"),
        ("pkg/mixed.py", 5, 39, "tensorflow.signal.fft"),
        ("pkg/with%20space.py", 2, 5, "tensorflow.linalg.expm"),
    ]
    errors = [r for r in results if r["ruleId"] == "file-error"]
    assert len(errors) == 1 and errors[0]["level"] == "error"
    assert errors[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/bad.py"
    assert log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"


def test_sarif_with_absolute_paths_uses_file_uris(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import tensorflow as tf\ny = tf.linalg.expm(x)\n")
    log = json.loads(run("convert", f, "--to", "torch", "--check", "--report", "sarif").stdout)
    check_sarif(log)
    [result] = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": f.as_uri()}


def test_sarif_of_a_clean_run_has_no_results(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(TORCH_EXPECTED)
    log = json.loads(run("convert", f, "--to", "torch", "--check", "--report", "sarif").stdout)
    check_sarif(log)
    assert log["runs"][0]["results"] == []


def test_sarif_check_rejects_broken_logs():
    """The structural check itself fails on what the schema forbids."""
    good = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [{"message": {"text": "m"}}]}]}
    check_sarif(good)
    for broken in (
        {"runs": good["runs"]},
        {"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]},
        {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [{"level": "warning"}]}]},
        {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [{"message": {"text": "m"}, "level": "bad"}]}]},
    ):
        with pytest.raises((AssertionError, KeyError)):
            check_sarif(broken)


# -- Markdown -------------------------------------------------------------------

def test_markdown_report_for_a_pull_request(tmp_path):
    pkg = tree(tmp_path)
    (pkg / "a|b.py").write_text("import tensorflow as tf\ny = tf.linalg.expm(x)\n")
    proc = run("convert", "pkg", "--to", "torch", "--check", "--report", "markdown", cwd=tmp_path)
    md = proc.stdout
    lines = md.splitlines()
    assert lines[0] == "### transpiler report"
    assert "**5** file(s), **2** changed:" in md and "**3** left unconverted, **1** error(s)." in md
    assert "| file | converted | unconverted | status |" in lines
    assert "| `pkg/a\\|b.py` | 0 | 1 | would-convert |" in lines  # (the TODO marker is a change)
    assert any(line.startswith("| `pkg/bad.py` | 0 | 0 | error: does not parse") for line in lines)
    assert "<details><summary>Unconverted uses</summary>" in lines
    assert "- `pkg/mixed.py:4:5` `tensorflow.linalg.expm`: no conversion rule for this API" in lines
    assert lines[-1] == "</details>"


# -- pre-commit -------------------------------------------------------------------

HOOK_KEYS = {
    "id", "name", "entry", "language", "files", "exclude", "types", "types_or", "exclude_types", "always_run",
    "fail_fast", "verbose", "pass_filenames", "require_serial", "description", "language_version",
    "minimum_pre_commit_version", "args", "stages", "additional_dependencies",
}


def hooks() -> dict[str, dict]:
    data = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(data, list) and data
    for hook in data:
        assert {"id", "name", "entry", "language"} <= set(hook) <= HOOK_KEYS, hook
        assert hook["language"] == "python"  # installs this package, which provides `transpiler`
        assert set(hook.get("types_or", [])) <= {"python", "pyi", "jupyter"}
        assert hook["entry"].split()[0] == "transpiler"
    return {hook["id"]: hook for hook in data}


def run_hook(hook: dict, files: list[str], cwd: Path, args=()):
    """What pre-commit runs: the entry, the hook's args, then the file names."""
    command = shlex.split(hook["entry"])
    command = [sys.executable, "-m", "transpiler", *command[1:], *hook.get("args", []), *args, *files]
    env = dict(os.environ, TRANSPILER_SERVER="0", NO_COLOR="1")
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_pre_commit_hooks_file_is_valid():
    assert set(hooks()) == {"transpiler-check", "transpiler-convert"}


def test_pre_commit_check_hook_on_a_file_list(tmp_path):
    hook = hooks()["transpiler-check"]
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.transpiler]\nto = "torch"\nexclude = ["legacy/"]\n')
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "old.py").write_text(TF_SOURCE)
    (tmp_path / "done.py").write_text(TORCH_EXPECTED)
    (tmp_path / "todo.py").write_text(TF_SOURCE)
    (tmp_path / "plain.py").write_text("x = 1\n")
    ok = run_hook(hook, ["done.py", "plain.py", "legacy/old.py"], tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr  # legacy/ is excluded even when named
    fails = run_hook(hook, ["done.py", "todo.py"], tmp_path)
    assert fails.returncode == 1 and "todo.py: 2 converted" in fails.stdout
    one = run_hook(hook, ["todo.py"], tmp_path)  # a single file: still a check, nothing on stdout but the report
    assert one.returncode == 1 and "import torch" not in one.stdout
    assert (tmp_path / "todo.py").read_text() == TF_SOURCE


def test_pre_commit_convert_hook_rewrites_staged_files(tmp_path):
    import shutil

    if shutil.which("git") is None:
        pytest.skip("needs git")
    hook = hooks()["transpiler-convert"]
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    (tmp_path / "m.py").write_text(TF_SOURCE)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, env=env)
    subprocess.run(["git", "add", "m.py"], cwd=tmp_path, check=True, env=env)  # staged, as pre-commit sees it
    proc = run_hook(hook, ["m.py"], tmp_path, args=["--to", "torch"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "m.py").read_text() == TORCH_EXPECTED


# -- what a warning is --------------------------------------------------------

LAYERS_IN_A_FUNCTION = (
    "import keras\n\n\n"
    "def block(x, units):\n"
    "    x = keras.layers.Dense(units)(x)\n"
    "    return keras.layers.Activation('relu')(x)\n\n\n"
    "head = keras.layers.Dense(3)\n"
)


def test_a_layer_made_and_applied_in_a_function_warns_and_warnings_are_not_uses():
    """Dense(units)(x) in a function becomes nn.LazyLinear(units)(x): a new module, with new
    weights no model registers, at every call. It converts (eager Keras does the same) with a
    warning saying so; the weightless Activation and the layer made on its own do not get it.
    A warning accompanies a converted use: the summary counts the use once."""
    from transpiler.api import convert_source
    from transpiler.report import CONVERTED, WARNING

    result = convert_source(LAYERS_IN_A_FUNCTION, to="torch")
    assert "nn.LazyLinear(units)(x)" in result.code
    inline = [f for f in result.report.findings if f.kind == WARNING and "every call makes a new module" in f.message]
    assert [(f.line, f.api) for f in inline] == [(5, "keras.layers.Dense")]
    converted = [f for f in result.report.findings if f.kind == CONVERTED]
    assert len(converted) == 3
    assert result.report.converted == 3

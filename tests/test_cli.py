"""The command line as users run it: files, stdin, folders, reports and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TF_SOURCE = "import tensorflow as tf\n\nx = tf.reduce_sum(tf.ones([2, 3]), axis=1)\n"
TORCH_EXPECTED = "import torch\n\nx = torch.sum(torch.ones([2, 3]), dim=1)\n"


def run(*args, stdin: str | None = None, cwd=None, env=None):
    full_env = dict(os.environ, TRANSPILER_SERVER="0", NO_COLOR="1")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "transpiler", *map(str, args)],
        input=stdin, capture_output=True, text=True, cwd=cwd, env=full_env, timeout=120,
    )


def test_single_file_to_stdout(tmp_path):
    f = tmp_path / "model.py"
    f.write_text(TF_SOURCE)
    proc = run("convert", f, "--to", "torch")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == TORCH_EXPECTED
    assert "1 changed" in proc.stderr
    assert f.read_text() == TF_SOURCE  # not written


def test_stdin_to_stdout_with_stdin_filename():
    proc = run("convert", "-", "--to", "torch", "--stdin-filename", "editor.py", stdin=TF_SOURCE)
    assert proc.returncode == 0
    assert proc.stdout == TORCH_EXPECTED
    assert "editor.py" in proc.stderr


def test_stdin_syntax_error_gives_input_back_and_exit_2():
    bad = "import tensorflow as tf\nx = (\n"
    proc = run("convert", "-", "--to", "torch", stdin=bad)
    assert proc.returncode == 2
    assert proc.stdout == bad
    assert "does not parse" in proc.stderr and "line" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_direction_detected_when_to_is_not_given():
    proc = run("convert", "-", stdin=TF_SOURCE)
    assert proc.stdout == TORCH_EXPECTED


def test_diff_and_check(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(TF_SOURCE)
    diff = run("convert", f, "--to", "torch", "--diff")
    assert diff.returncode == 0
    assert "-x = tf.reduce_sum" in diff.stdout and "+x = torch.sum" in diff.stdout
    check = run("convert", f, "--to", "torch", "--check")
    assert check.returncode == 1
    assert f.read_text() == TF_SOURCE
    f.write_text(TORCH_EXPECTED)
    assert run("convert", f, "--to", "torch", "--check").returncode == 0


def test_check_fails_on_unconverted_uses(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import tensorflow as tf\n# TODO(transpiler): tensorflow.linalg.expm: no conversion rule for this API\ny = tf.linalg.expm(1)\n")
    proc = run("convert", f, "--to", "torch", "--check")
    assert proc.returncode == 1
    assert "m.py:3:5: unconverted tensorflow.linalg.expm" in proc.stdout


def test_in_place_folder_with_gitignore_and_excludes(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(TF_SOURCE)
    (tmp_path / "pkg" / "skip_me.py").write_text(TF_SOURCE)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gen.py").write_text(TF_SOURCE)
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "notes.txt").write_text("import tensorflow as tf\n")
    proc = run("convert", tmp_path, "--to", "torch", "-i", "--exclude", "skip_me.py", "-j", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "pkg" / "a.py").read_text() == TORCH_EXPECTED
    assert (tmp_path / "pkg" / "skip_me.py").read_text() == TF_SOURCE
    assert (tmp_path / "build" / "gen.py").read_text() == TF_SOURCE
    assert (tmp_path / "notes.txt").read_text() == "import tensorflow as tf\n"
    again = run("convert", tmp_path, "--to", "torch", "--check", "--exclude", "skip_me.py")
    assert again.returncode == 0, again.stdout


def test_errors_are_per_file_and_exit_2(tmp_path):
    good = tmp_path / "good.py"
    good.write_text(TF_SOURCE)
    bad = tmp_path / "bad.py"
    bad.write_text("import tensorflow as tf\ndef f(:\n")
    proc = run("convert", good, bad, tmp_path / "missing.py", "--to", "torch", "-i")
    assert proc.returncode == 2
    assert good.read_text() == TORCH_EXPECTED
    assert bad.read_text() == "import tensorflow as tf\ndef f(:\n"
    assert "bad.py: error: does not parse: line 2" in proc.stdout
    assert "missing.py: error: no such file" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_output_folder_mirrors_tree(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "m.py").write_text(TF_SOURCE)
    (src / "plain.py").write_text("x = 1\n")
    out = tmp_path / "out"
    proc = run("convert", src, "--to", "torch", "-o", out)
    assert proc.returncode == 0, proc.stdout
    assert (out / "sub" / "m.py").read_text() == TORCH_EXPECTED
    assert (out / "plain.py").read_text() == "x = 1\n"


def test_several_files_without_mode_is_a_usage_error(tmp_path):
    (tmp_path / "a.py").write_text(TF_SOURCE)
    (tmp_path / "b.py").write_text(TF_SOURCE)
    proc = run("convert", tmp_path, "--to", "torch")
    assert proc.returncode == 2
    assert "--in-place" in proc.stderr


def test_json_report(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import tensorflow as tf\nx = tf.reduce_sum(tf.linalg.expm(1))\n")
    proc = run("convert", f, "--to", "torch", "--check", "--report", "json")
    data = json.loads(proc.stdout)
    assert data["totals"]["unconverted"] == 1 and data["totals"]["converted"] == 1
    finding = [x for x in data["files"][0]["findings"] if x["kind"] == "unconverted"][0]
    assert finding == {
        "line": 2, "col": 19, "api": "tensorflow.linalg.expm", "kind": "unconverted",
        "message": "no conversion rule for this API", "target": "",
    }


def test_sarif_and_markdown_reports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import tensorflow as tf\nx = tf.linalg.expm(1)\n")
    sarif = json.loads(run("convert", f, "--to", "torch", "--check", "--report", "sarif").stdout)
    assert sarif["version"] == "2.1.0"
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "unconverted"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 5}
    md = run("convert", f, "--to", "torch", "--check", "--report", "markdown").stdout
    assert "### transpiler report" in md and "tensorflow.linalg.expm" in md


def test_rules_listing_and_check():
    listing = run("rules", "--to", "torch")
    assert listing.returncode == 0
    assert "tensorflow.math.reduce_sum -> torch.sum" in listing.stdout
    data = json.loads(run("rules", "--format", "json").stdout)
    assert any(r["source"] == "torch.sum" and r["direction"] == "torch_to_tf" for r in data)
    check = run("rules", "--check")
    assert check.returncode == 0 and "0 problem(s)" in check.stdout


def test_bad_user_rule_file_names_file_rule_and_field(tmp_path):
    rules = tmp_path / "mine.toml"
    rules.write_text('direction = "tf_to_torch"\n\n[[rule]]\nsource = "tensorflow.foo"\ntarget = "torch.bar"\nrename = "oops"\n')
    proc = run("convert", "-", "--to", "torch", "--rules", rules, stdin=TF_SOURCE)
    assert proc.returncode == 2
    assert "mine.toml: rule 1 (tensorflow.foo): field 'rename': expected a table of strings" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_user_rule_file_adds_a_mapping(tmp_path):
    rules = tmp_path / "mine.toml"
    rules.write_text('direction = "tf_to_torch"\n\n[[rule]]\nsource = "tensorflow.linalg.expm"\ntarget = "torch.linalg.matrix_exp"\n')
    src = "import tensorflow as tf\ny = tf.linalg.expm(x)\n"
    proc = run("convert", "-", "--to", "torch", "--rules", rules, stdin=src)
    assert proc.stdout == "import torch\n\ny = torch.linalg.matrix_exp(x)\n"


def test_config_in_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.transpiler]\nto = "torch"\nexclude = ["legacy/"]\n')
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "old.py").write_text(TF_SOURCE)
    (tmp_path / "new.py").write_text(TF_SOURCE)
    proc = run("convert", ".", "--check", cwd=tmp_path)
    assert proc.returncode == 1
    assert "new.py" in proc.stdout and "old.py" not in proc.stdout
    (tmp_path / "pyproject.toml").write_text('[tool.transpiler]\nwrong = 1\n')
    bad = run("convert", ".", "--check", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown key(s) wrong" in bad.stderr


def test_converting_imports_neither_framework(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(TF_SOURCE)
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['transpiler', 'convert', {str(f)!r}, '--to', 'torch']\n"
        "from transpiler.cli import main\n"
        "main(use_server=False)\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'torch', 'keras')]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_module_entry_point_and_version():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("transpiler ")


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="Unix sockets")
def test_background_server_gives_the_same_output(tmp_path):
    env = {"TRANSPILER_SERVER": "1", "XDG_RUNTIME_DIR": str(tmp_path)}
    try:
        first = run("convert", "-", "--to", "torch", stdin=TF_SOURCE, env=env)
        assert first.stdout == TORCH_EXPECTED
        import time

        deadline = time.time() + 60
        while time.time() < deadline and "running" not in run("server", "status", env=env).stdout.replace("not running", ""):
            time.sleep(0.5)
        assert "running (" in run("server", "status", env=env).stdout
        second = run("convert", "-", "--to", "torch", stdin=TF_SOURCE, env=env)
        assert second.stdout == TORCH_EXPECTED and second.returncode == 0
        bad = run("convert", "-", "--to", "torch", stdin="import tensorflow as tf\nx = (\n", env=env)
        assert bad.returncode == 2 and "does not parse" in bad.stderr
    finally:
        run("server", "stop", env=env)

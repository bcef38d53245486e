"""``transpiler coverage`` run as users run it, on small trees whose uses are known."""

from __future__ import annotations

import json

from test_cli import run
from test_reexports import LAYER

# TF: constant, reduce_sum, divide_no_nan (converted with a warning), linalg.expm (no rule)
TF_FILE = """import tensorflow as tf

x = tf.constant([1.0, 2.0])
y = tf.reduce_sum(x, axis=0)
z = tf.linalg.expm(x)
w = tf.math.divide_no_nan(x, y)
"""
# PyTorch: ones (converted, device dropped with a warning), x.sum, special.zeta twice (no rule)
TORCH_FILE = """import torch

x = torch.ones(2, 3, device="cuda")
y = torch.special.zeta(x, x)
z = x.sum(dim=1)
t = torch.special.zeta(z, z)
"""
BAD_FILE = "import tensorflow as tf\nx = (\n"


def tree(tmp_path, **files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def coverage_json(cwd, *args):
    proc = run("coverage", *args, "--report", "json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def test_text_report_counts_both_directions(tmp_path):
    tree(tmp_path, **{"tf_model.py": TF_FILE, "pkg/torch_model.py": TORCH_FILE, "plain.py": "print(1)\n", "bad.py": BAD_FILE})
    proc = run("coverage", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "TensorFlow/Keras -> PyTorch: 1 file(s), 4 uses, 75.0% converted (3 converted, 1 unconverted, 1 warnings)" in out
    assert "PyTorch -> TensorFlow/Keras: 1 file(s), 4 uses, 50.0% converted (2 converted, 2 unconverted, 1 warnings)" in out
    assert "total: 4 file(s), 8 uses, 62.5% converted; 1 error(s), 0 crash(es)" in out
    # the most frequent first, with one reason and one location
    apis = out.split("most frequent unconverted APIs (2 of 2):\n")[1].splitlines()
    assert apis[0].split() == ["2", "torch.special.zeta", "pkg/torch_model.py:4:5:", "no", "conversion", "rule", "for", "this", "API"]
    assert apis[1].split()[:3] == ["1", "tensorflow.linalg.expm", "tf_model.py:5:5:"]
    assert "bad.py: error: does not parse: line 2" in out
    assert "plain.py" not in out  # nothing to count there


def test_json_report_shape_and_exact_counts(tmp_path):
    tree(tmp_path, **{"tf_model.py": TF_FILE, "torch_model.py": TORCH_FILE, "plain.py": "print(1)\n", "bad.py": BAD_FILE})
    data = coverage_json(tmp_path, ".")
    assert set(data) == {"version", "from", "seconds", "totals", "directions", "unconverted_apis", "files"}
    assert data["from"] == "auto"
    assert data["totals"] == {
        "files": 4, "files_with_uses": 2, "uses": 8, "converted": 5, "unconverted": 3,
        "converted_share": 0.625, "warnings": 2, "errors": 1, "crashes": 0,
    }
    assert data["directions"] == {
        "tf": {"files": 1, "files_with_uses": 1, "uses": 4, "converted": 3, "unconverted": 1, "converted_share": 0.75, "warnings": 1},
        "torch": {"files": 1, "files_with_uses": 1, "uses": 4, "converted": 2, "unconverted": 2, "converted_share": 0.5, "warnings": 1},
    }
    assert data["unconverted_apis"] == [
        {"api": "torch.special.zeta", "from": "torch", "count": 2, "reason": "no conversion rule for this API", "example": "torch_model.py:4:5"},
        {"api": "tensorflow.linalg.expm", "from": "tf", "count": 1, "reason": "no conversion rule for this API", "example": "tf_model.py:5:5"},
    ]
    files = {f["path"]: f for f in data["files"]}
    assert set(files) == {"tf_model.py", "torch_model.py", "plain.py", "bad.py"}
    assert files["tf_model.py"] == {
        "path": "tf_model.py", "from": "tf", "status": "ok", "error": None,
        "uses": 4, "converted": 3, "unconverted": 1, "warnings": 1, "converted_share": 0.75,
    }
    assert files["plain.py"]["uses"] == 0 and files["plain.py"]["from"] is None
    assert files["bad.py"]["status"] == "error" and "does not parse" in files["bad.py"]["error"]


def test_from_counts_one_framework_only(tmp_path):
    both = "import tensorflow as tf\nimport torch\n\na = tf.reduce_sum(tf.ones([2]))\nb = torch.ones(2)\n"
    tree(tmp_path, **{"tf_model.py": TF_FILE, "torch_model.py": TORCH_FILE, "both.py": both})
    auto = coverage_json(tmp_path, ".")
    # without --from a file that imports both frameworks cannot say which way to go
    mixed = next(f for f in auto["files"] if f["path"] == "both.py")
    assert mixed["status"] == "error" and "both TensorFlow and PyTorch" in mixed["error"]
    tf = coverage_json(tmp_path, ".", "--from", "tf")
    assert tf["from"] == "tf"
    assert list(tf["directions"]) == ["tf"]
    assert tf["totals"]["uses"] == 4 + 2 and tf["totals"]["errors"] == 0
    assert {f["path"]: f["uses"] for f in tf["files"]} == {"both.py": 2, "tf_model.py": 4, "torch_model.py": 0}
    torch = coverage_json(tmp_path, ".", "--from", "torch")
    assert list(torch["directions"]) == ["torch"]
    assert {f["path"]: f["uses"] for f in torch["files"]} == {"both.py": 1, "tf_model.py": 0, "torch_model.py": 4}


def test_a_warning_is_not_a_use_of_its_own(tmp_path):
    tree(tmp_path, **{"m.py": "import tensorflow as tf\n\nw = tf.math.divide_no_nan(1.0, 2.0)\n"})
    data = coverage_json(tmp_path, "m.py")
    assert data["totals"]["uses"] == 1 and data["totals"]["converted"] == 1 and data["totals"]["warnings"] == 1


def test_parallel_and_serial_runs_agree(tmp_path):
    files = {f"m{i}.py": (TF_FILE if i % 2 else TORCH_FILE) for i in range(8)}
    tree(tmp_path, **files)
    serial = coverage_json(tmp_path, ".", "-j", "1")
    parallel = coverage_json(tmp_path, ".", "-j", "3")
    serial.pop("seconds"), parallel.pop("seconds")
    assert serial == parallel
    assert serial["totals"]["uses"] == 32 and serial["totals"]["converted"] == 20


def test_notebook_locations_name_the_cell(tmp_path):
    cell = lambda text: {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": text}  # noqa: E731
    notebook = {
        "cells": [cell("import tensorflow as tf\n"), cell("x = tf.linalg.expm(tf.eye(2))\n")],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook))
    data = coverage_json(tmp_path, ".")
    assert data["unconverted_apis"][0]["api"] == "tensorflow.linalg.expm"
    assert data["unconverted_apis"][0]["example"] == "nb.ipynb:cell 2:1:5"


def test_usage_errors_exit_2(tmp_path):
    tree(tmp_path, **{"m.py": TF_FILE})
    missing = run("coverage", "m.py", "nope.py", cwd=tmp_path)
    assert missing.returncode == 2
    assert "nope.py: no such file or directory" in missing.stderr
    assert "4 uses" in missing.stdout  # the other paths are still measured
    assert run("coverage", "m.py", "-j", "0", cwd=tmp_path).returncode == 2
    assert run("coverage", "m.py", "--from", "jax", cwd=tmp_path).returncode == 2
    assert run("coverage", cwd=tmp_path).returncode == 2


def test_a_converter_crash_is_counted_as_such():
    from transpiler.commands.coverage import Coverage
    from transpiler.report import FileReport
    from transpiler.runner import Outcome

    coverage = Coverage()
    error = "internal error: the converter crashed on this file (the worker process died)"
    coverage.add(Outcome("x.py", FileReport("x.py", status="error", error=error), error=error))
    coverage.add(Outcome("y.py", FileReport("y.py", status="error", error="binary file"), error="binary file"))
    assert coverage.summary()["crashes"] == 1 and coverage.summary()["errors"] == 1
    assert "1 file(s) crashed the converter" in coverage.to_text()


REEXPORTED = "import tensorflow as tf\n\nfrom mypkg.compat import keras\n\n\n" + LAYER


def test_reexports_count_as_convert_counts_them(tmp_path):
    """A project module that re-exports Keras: declared (flag or [tool.transpiler]), its layers are
    Keras uses; undeclared, only the tf.* calls are (and the class is not Keras)."""
    tree(tmp_path, **{"net.py": REEXPORTED})
    undeclared = coverage_json(tmp_path, ".")["totals"]
    declared = coverage_json(tmp_path, ".", "--reexport", "mypkg.compat.keras=keras")["totals"]
    assert undeclared["uses"] == 1  # tf.nn.relu
    assert declared["uses"] > undeclared["uses"] and declared["unconverted"] == 0
    (tmp_path / "pyproject.toml").write_text('[tool.transpiler]\nreexports = { "mypkg.compat.keras" = "keras" }\n')
    assert coverage_json(tmp_path, ".")["totals"] == declared

"""Jupyter notebooks (nbformat 4 JSON written by hand): code cells convert, everything else stays."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from test_cli import run


def code(source, *, count=None, outputs=None, metadata=None, as_list=True):
    if as_list:
        lines = source.splitlines(keepends=True)
    else:
        lines = source
    return {
        "cell_type": "code",
        "execution_count": count,
        "metadata": metadata if metadata is not None else {},
        "outputs": outputs if outputs is not None else [],
        "source": lines,
    }


def markdown(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source.splitlines(keepends=True)}


NOTEBOOK = {
    "cells": [
        markdown("# Training\nUses `tf.reduce_sum` in prose: not code.\n"),
        code("import numpy as np\nimport tensorflow as tf\n%matplotlib inline\n!pip install -q something", count=1,
             metadata={"tags": ["setup"], "collapsed": False}),
        code("x = tf.reduce_sum(tf.ones([2, 3]), axis=1)\nprint(x)", count=2, outputs=[
            {"output_type": "stream", "name": "stdout", "text": ["tf.Tensor([3. 3.], shape=(2,), dtype=float32)\n"]},
        ]),
        code("%%bash\necho tf.reduce_sum(x)", count=3),
        code("def f(a):\n    %time b = 1\n    return tf.nn.relu(a)\n\ny = f(x)\ntf.reduce_mean?", count=4),
        {"cell_type": "raw", "metadata": {}, "source": ["tf.reduce_sum(raw)"]},
        code("z = tf.linalg.expm(x)\nok = (x\n      != 1)", count=5, as_list=False),
        code("", count=None),
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "version": "3.11.7"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

EXPECTED_SOURCES = {
    2: "import numpy as np\nimport tensorflow as tf\nimport torch\nimport torch.nn.functional as F\n\n%matplotlib inline\n!pip install -q something",
    3: "x = torch.sum(torch.ones([2, 3]), dim=1)\nprint(x)",
    5: "def f(a):\n    %time b = 1\n    return F.relu(a)\n\ny = f(x)\ntf.reduce_mean?",
    7: "# TODO(transpiler): tensorflow.linalg.expm: no conversion rule for this API\nz = tf.linalg.expm(x)\nok = (x\n      != 1)",
}


def write(path: Path, nb: dict, indent=1) -> str:
    text = json.dumps(nb, indent=indent, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def sources(nb: dict) -> dict[int, str]:
    out = {}
    for i, cell in enumerate(nb["cells"], start=1):
        src = cell["source"]
        out[i] = "".join(src) if isinstance(src, list) else src
    return out


def check_converted(before: dict, after: dict) -> None:
    assert after["metadata"] == before["metadata"]
    assert (after["nbformat"], after["nbformat_minor"]) == (4, 5)
    assert len(after["cells"]) == len(before["cells"])
    want = sources(before)
    want.update(EXPECTED_SOURCES)
    assert sources(after) == want
    for old, new in zip(before["cells"], after["cells"]):
        assert list(old) == list(new)  # same keys, same order
        for key in old:
            if key != "source":
                assert old[key] == new[key]  # outputs, counts, metadata untouched
        assert type(old["source"]) is type(new["source"])  # a list stays a list, a string a string


def test_in_place_converts_code_cells_and_keeps_the_rest(tmp_path):
    nb = tmp_path / "train.ipynb"
    write(nb, NOTEBOOK)
    proc = run("convert", nb, "--to", "torch", "-i")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = nb.read_text(encoding="utf-8")
    after = json.loads(text)
    check_converted(NOTEBOOK, after)
    assert text == json.dumps(after, indent=1, ensure_ascii=False) + "\n"  # nbformat's own layout kept
    # the report names the cell and the line within it
    assert f"{nb}:cell 7:1:5: unconverted tensorflow.linalg.expm: no conversion rule for this API" in proc.stdout
    again = run("convert", nb, "--to", "torch", "--check")
    assert again.returncode == 1 and "0 changed" in again.stdout  # nothing more to change, one API left
    assert nb.read_text(encoding="utf-8") == text


def test_output_to_a_new_file_leaves_the_notebook(tmp_path):
    nb = tmp_path / "train.ipynb"
    original = write(nb, NOTEBOOK, indent=2)
    out = tmp_path / "out" / "train_torch.ipynb"
    proc = run("convert", nb, "--to", "torch", "-o", out)
    assert proc.returncode == 0, proc.stdout
    assert nb.read_text(encoding="utf-8") == original
    text = out.read_text(encoding="utf-8")
    check_converted(NOTEBOOK, json.loads(text))
    assert text.startswith('{\n  "cells": [\n    {\n')  # two-space indentation kept


def test_json_and_sarif_reports_carry_the_cell(tmp_path):
    nb = tmp_path / "train.ipynb"
    write(nb, NOTEBOOK)
    data = json.loads(run("convert", nb, "--to", "torch", "--check", "--report", "json").stdout)
    [finding] = [x for x in data["files"][0]["findings"] if x["kind"] == "unconverted"]
    assert finding == {
        "line": 1, "col": 5, "api": "tensorflow.linalg.expm", "kind": "unconverted",
        "message": "no conversion rule for this API", "target": "", "cell": 7,
    }
    converted = {(x["cell"], x["line"], x["api"]) for x in data["files"][0]["findings"] if x["kind"] == "converted"}
    assert (3, 1, "tensorflow.reduce_sum") in converted and (5, 3, "tensorflow.nn.relu") in converted
    sarif = json.loads(run("convert", nb, "--to", "torch", "--check", "--report", "sarif").stdout)
    [result] = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "unconverted"]
    assert result["properties"]["cell"] == 7 and result["message"]["text"].startswith("cell 7, line 1: ")
    assert "region" not in result["locations"][0]["physicalLocation"]  # a cell line is no line of the file


def test_a_cell_that_does_not_parse_is_left_and_reported(tmp_path):
    nb_data = copy.deepcopy(NOTEBOOK)
    nb_data["cells"].insert(3, code("y = tf.reduce_sum(x\n", count=9))
    nb = tmp_path / "n.ipynb"
    write(nb, nb_data)
    proc = run("convert", nb, "--to", "torch", "-i")
    assert proc.returncode == 0, proc.stdout
    assert f"{nb}:cell 4:0:0: unconverted <cell>: cell left as it was: it does not parse" in proc.stdout
    after = json.loads(nb.read_text(encoding="utf-8"))
    assert sources(after)[4] == "y = tf.reduce_sum(x\n"
    assert sources(after)[3] == EXPECTED_SOURCES[3]


def test_string_sources_and_crlf_json(tmp_path):
    nb_data = {
        "cells": [code("import tensorflow as tf\ny = tf.nn.relu(x)\n", as_list=False)],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 2,
    }
    nb = tmp_path / "n.ipynb"
    nb.write_bytes(json.dumps(nb_data, indent=1).replace("\n", "\r\n").encode())  # no final newline
    assert run("convert", nb, "--to", "torch", "-i").returncode == 0
    raw = nb.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"") and not raw.endswith(b"\n")
    after = json.loads(raw)
    assert after["cells"][0]["source"] == "import torch.nn.functional as F\n\ny = F.relu(x)\n"


def test_non_ascii_escaping_is_kept(tmp_path):
    nb_data = {
        "cells": [markdown("Café ☕\n"), code("import tensorflow as tf\ny = tf.nn.relu(x)  # é")],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    escaped = tmp_path / "escaped.ipynb"
    escaped.write_text(json.dumps(nb_data, indent=1, ensure_ascii=True) + "\n")
    raw = tmp_path / "raw.ipynb"
    raw.write_text(json.dumps(nb_data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert run("convert", escaped, raw, "--to", "torch", "-i").returncode == 0
    assert escaped.read_text().isascii() and "\\u2615" in escaped.read_text()
    assert "☕" in raw.read_text(encoding="utf-8")
    assert json.loads(escaped.read_text()) == json.loads(raw.read_text(encoding="utf-8"))


def test_notebook_without_framework_code_is_not_rewritten(tmp_path):
    nb_data = {"cells": [code("import numpy as np\nx = np.ones(3)")], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps(nb_data))  # compact JSON, as some tools write it
    before = nb.read_bytes(), nb.stat().st_mtime_ns
    proc = run("convert", nb, "--to", "torch", "-i")
    assert proc.returncode == 0 and "0 changed" in proc.stdout
    assert (nb.read_bytes(), nb.stat().st_mtime_ns) == before


def test_bad_notebooks_are_errors_and_untouched(tmp_path):
    cases = {
        "broken.ipynb": ('{"cells": [', "not a Jupyter notebook: invalid JSON at line 1"),
        "list.ipynb": ("[1, 2]", "not a Jupyter notebook: no list of cells"),
        "v3.ipynb": ('{"worksheets": [], "nbformat": 3}', "nbformat 3 notebooks are not supported"),
        "badsource.ipynb": ('{"cells": [{"cell_type": "code", "source": 3}], "nbformat": 4}', "not a Jupyter notebook: cell 1 has a source that is not text"),
    }
    for name, (text, _) in cases.items():
        (tmp_path / name).write_text(text)
    good = tmp_path / "good.ipynb"
    write(good, NOTEBOOK)
    proc = run("convert", tmp_path, "--to", "torch", "-i")
    assert proc.returncode == 2
    for name, (text, message) in cases.items():
        assert f"{tmp_path / name}: error: {message}" in proc.stdout, proc.stdout
        assert (tmp_path / name).read_text() == text
    check_converted(NOTEBOOK, json.loads(good.read_text(encoding="utf-8")))
    assert "Traceback" not in proc.stderr


def test_a_folder_takes_notebooks_with_python_files(tmp_path):
    write(tmp_path / "a.ipynb", NOTEBOOK)
    (tmp_path / "b.py").write_text("import tensorflow as tf\ny = tf.nn.relu(x)\n")
    proc = run("convert", tmp_path, "--to", "torch", "--check")
    assert proc.returncode == 1
    assert "a.ipynb: " in proc.stdout and "b.py: " in proc.stdout


def test_new_imports_go_before_their_first_use(tmp_path):
    """When the TensorFlow import stays (something is left unconverted), new imports go
    after the first import block, not after the module's last import (a later cell)."""
    nb_data = {
        "cells": [
            code("import tensorflow as tf"),
            code("x = tf.reduce_sum(y)\nz = tf.linalg.expm(x)"),
            code("import matplotlib.pyplot as plt\nplt.plot(x)"),
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    nb = tmp_path / "n.ipynb"
    write(nb, nb_data)
    assert run("convert", nb, "--to", "torch", "-i").returncode == 0
    cells = sources(json.loads(nb.read_text(encoding="utf-8")))
    assert "import torch" in cells[1]

"""Declared re-exports: a project module that hands out a framework under its own name
(``from transformers.modeling_tf_utils import keras``) is Keras where declared
(``[tool.transpiler] reexports``, ``--reexport``, ``convert_source(reexports=...)``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_cli import run
from transpiler.api import convert_source
from transpiler.config import ConfigError, check_reexports, parse_reexport_option
from transpiler.engine.names import Reexports, package_of

LAYER = '''\
class Net(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(4)

    def call(self, x):
        return tf.nn.relu(self.dense(x))
'''
DECLARED = {"mypkg.compat.keras": "keras"}


def package(root: Path, source: str) -> Path:
    """mypkg/models/net.py in a package (every folder has an __init__.py)."""
    (root / "mypkg" / "models").mkdir(parents=True)
    (root / "mypkg" / "__init__.py").write_text("")
    (root / "mypkg" / "models" / "__init__.py").write_text("")
    f = root / "mypkg" / "models" / "net.py"
    f.write_text(source)
    return f


def convert(text: str, filename: str = "<stdin>", reexports=DECLARED):
    return convert_source(text, to="torch", filename=filename, reexports=reexports)


def test_an_absolute_import_of_a_declared_name_is_the_framework():
    out = convert("import tensorflow as tf\nfrom mypkg.compat import keras\n\n\n" + LAYER).code
    assert "class Net(nn.Module)" in out and "nn.LazyLinear(4)" in out and "F.relu" in out
    assert "from mypkg.compat import keras" in out  # the import itself stays as written


def test_undeclared_the_name_is_not_keras():
    result = convert("import tensorflow as tf\nfrom mypkg.compat import keras\n\n\n" + LAYER, reexports=None)
    assert "keras.layers.Dense(4)" in result.code and "nn.Module" not in result.code


def test_a_relative_import_resolves_against_the_files_package(tmp_path):
    f = package(tmp_path, "import tensorflow as tf\n\nfrom ..compat import keras\n\n\n" + LAYER)
    assert package_of(str(f)) == "mypkg.models"
    out = convert(f.read_text(), str(f)).code
    assert "class Net(nn.Module)" in out
    # the same text outside a package: `..compat` is unknown, nothing is guessed
    out = convert(f.read_text(), str(tmp_path / "net.py")).code
    assert "class Net(keras.layers.Layer)" in out
    # and a relative import that climbs above the top package is not resolved either
    assert Reexports(tuple(DECLARED.items()), "mypkg").absolute("compat", 3) is None


def test_a_file_importing_the_framework_only_through_re_exports_converts(tmp_path):
    f = package(tmp_path, "from mypkg.compat import tf\nfrom ..compat import keras\n\n\n" + LAYER)
    result = convert(f.read_text(), str(f), {**DECLARED, "mypkg.compat.tf": "tensorflow"})
    assert result.changed and "F.relu(self.dense(x))" in result.code
    again = convert(result.code, str(f), {**DECLARED, "mypkg.compat.tf": "tensorflow"})
    assert not again.changed  # a second conversion changes nothing


def test_a_declared_module_maps_its_names_and_import_as():
    text = ("import tensorflow as tf\nfrom mypkg.compat.layers import Dense\nimport mypkg.compat.layers as L\n\n"
            "a = Dense(3)\nb = L.Dense(5)\n")
    out = convert(text, reexports={"mypkg.compat.layers": "keras.layers"}).code
    assert "a = nn.LazyLinear(3)" in out and "b = nn.LazyLinear(5)" in out


def test_lookup_takes_the_longest_declared_prefix():
    r = Reexports((("a.b", "keras"), ("a.b.c", "tensorflow.math")), None)
    assert r.lookup("a.b.layers.Dense") == "keras.layers.Dense"
    assert r.lookup("a.b.c.add") == "tensorflow.math.add"
    assert r.lookup("a.bc") is None


@pytest.mark.parametrize("table, message", [
    ({"keras": "keras"}, "full dotted name"),
    ({"mypkg.k": "numpy"}, "must be a name of a framework"),
    ({"tensorflow.keras": "keras"}, "already a framework name"),
    ({"mypkg.k": 3}, "dotted framework name"),
    (["mypkg.k"], "expected a table"),
])
def test_bad_declarations_are_refused(table, message):
    with pytest.raises(ConfigError, match=message):
        check_reexports(table)


def test_option_syntax():
    assert parse_reexport_option("mypkg.compat.keras = keras") == ("mypkg.compat.keras", "keras")
    with pytest.raises(ConfigError, match="NAME=FRAMEWORK_NAME"):
        parse_reexport_option("mypkg.compat.keras")


def test_pyproject_and_command_line(tmp_path):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    f = package(root, "import tensorflow as tf\n\nfrom ..compat import keras\n\n\n" + LAYER)
    assert "class Net(keras.layers.Layer)" in run("convert", f, "--to", "torch").stdout
    assert "class Net(nn.Module)" in run("convert", f, "--to", "torch", "--reexport", "mypkg.compat.keras=keras").stdout
    proc = run("convert", f, "--to", "torch", "--reexport", "keras")
    assert proc.returncode != 0 and "NAME=FRAMEWORK_NAME" in proc.stderr
    (root / "pyproject.toml").write_text('[tool.transpiler]\nto = "torch"\nreexports = { "mypkg.compat.keras" = "keras" }\n')
    assert "class Net(nn.Module)" in run("convert", f).stdout
    (root / "pyproject.toml").write_text('[tool.transpiler]\nreexports = { "mypkg.compat.keras" = "numpy" }\n')
    proc = run("convert", f)
    assert proc.returncode != 0 and "reexports" in proc.stderr and "framework" in proc.stderr


def test_an_undeclared_framework_name_from_a_project_module_is_warned_about(tmp_path):
    f = package(tmp_path, "import tensorflow as tf\n\nfrom ..compat import keras\n\n\n" + LAYER)
    result = convert(f.read_text(), str(f), reexports=None)
    warnings = [x for x in result.report.findings if x.kind == "warning" and x.api == "mypkg.compat.keras"]
    assert len(warnings) == 1 and (warnings[0].line, warnings[0].col) == (3, 22)
    assert "--reexport mypkg.compat.keras=keras" in warnings[0].message
    # declared, it is Keras: nothing to warn about
    declared = convert(f.read_text(), str(f))
    assert not [x for x in declared.report.findings if x.api == "mypkg.compat.keras"]
    # a framework's own module, or another name, is not such an import
    plain = convert("import tensorflow as tf\nfrom tensorflow import keras\nfrom mypkg.compat import layers\n\nx = tf.constant(1)\n", reexports=None)
    assert not [x for x in plain.report.findings if x.kind == "warning"]

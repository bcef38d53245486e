"""Declared twins (``[tool.transpiler] twins``, ``--twin``, ``convert_source(twins=...)``): a base
class of another package with a twin in PyTorch that takes the same arguments. The classes on it
convert as modules on the twin (fixture models/subclass_twin_base); transformers' models on
TFPreTrainedModel, converted on PreTrainedModel, compute what the Keras models do
(test_transformers_pairs.py, the six *Model components)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_cli import run
from transpiler.api import convert_source
from transpiler.config import ConfigError, check_twins, parse_twin_option

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tf_to_torch" / "models" / "subclass_twin_base.py"
TWINS = {"transformers.modeling_tf_utils.TFPreTrainedModel": "transformers.modeling_utils.PreTrainedModel"}


def test_classes_on_the_declared_base_convert_on_its_twin():
    result = convert_source(FIXTURE.read_text(), to="torch", filename=str(FIXTURE), twins=TWINS)
    code = result.code
    assert "from transformers.modeling_utils import PreTrainedModel" in code
    assert "class TFTinyPreTrainedModel(PreTrainedModel):" in code
    assert "class TFTinyModel(TFTinyPreTrainedModel):" in code
    assert "super().__init__(config, *inputs, **kwargs)" in code  # the twin takes the same arguments
    assert "def forward(self, hidden_states):" in code and "def build(" not in code
    converted = {f.line: f.message for f in result.report.findings if f.kind == "converted" and f.api == "keras subclass"}
    assert converted[14] == "its base's declared twin"
    assert converted[22].startswith("derives from TFPreTrainedModel, whose declared twin is transformers.modeling_utils")
    # its input_signature (TensorSpec, for tf.function and SavedModel) goes with its TensorSpec
    assert "def input_signature" not in code and "tf.TensorSpec" not in code
    removed = {(f.line, f.api) for f in result.report.findings if f.kind == "converted" and f.target == "(removed)"}
    assert (17, "keras.Model.input_signature") in removed and (19, "tensorflow.TensorSpec") in removed
    # the head with a loss mixin of the same package: that base is still unknown, and said so
    kept = [f for f in result.report.findings if f.kind == "unconverted"]
    assert [f.line for f in kept] == [40]
    assert kept[0].message.startswith("it derives from TFSequenceClassificationLoss (from transformers.modeling_tf_utils)")


def test_undeclared_the_base_is_reported_as_before():
    result = convert_source(FIXTURE.read_text(), to="torch", filename=str(FIXTURE))
    assert "class TFTinyPreTrainedModel(TFPreTrainedModel):" in result.code
    kept = {f.line: f.message for f in result.report.findings if f.kind == "unconverted"}
    # the TensorSpec of the base's input_signature, the two classes on the unknown base
    assert sorted(kept) == [19, 22, 40]
    assert "TFPreTrainedModel (from transformers.modeling_tf_utils), a class this run does not know" in kept[22]


def test_a_twin_whose_name_the_file_binds_is_spelled_in_full():
    source = FIXTURE.read_text().replace("import keras\n", "import keras\nPreTrainedModel = object\n", 1)
    code = convert_source(source, to="torch", filename=str(FIXTURE), twins=TWINS).code
    assert "class TFTinyPreTrainedModel(transformers.modeling_utils.PreTrainedModel):" in code
    assert "\nimport transformers\n" in code


def test_a_class_that_does_not_convert_says_its_twin_was_declared():
    # a layout known only at run time: the class stays as it was, reported with the twin named
    source = FIXTURE.read_text().replace(
        'keras.layers.Dense(config.hidden_size, name="dense")',
        'keras.layers.Conv1D(config.hidden_size, 1, data_format=config.layout, name="dense")',
    )
    result = convert_source(source, to="torch", filename=str(FIXTURE), twins=TWINS)
    assert "class TFTinyModel(TFTinyPreTrainedModel):" in result.code
    kept = {f.line: f.message for f in result.report.findings if f.kind == "unconverted" and f.api == "keras subclass"}
    assert kept[22].startswith("it derives from TFPreTrainedModel, whose declared twin is transformers.modeling_utils")
    assert "data_format" in kept[22]


@pytest.mark.parametrize("table, message", [
    ({"keras.Model": "torch.nn.Module"}, "a framework class"),
    ({"TFPreTrainedModel": "pkg.PreTrainedModel"}, "full dotted name of a class"),
    ({"pkg.base.TFModel": "Model"}, "full dotted name of the twin"),
    ({"pkg.base.TFModel": 3}, "full dotted name of the twin"),
    (["pkg.base.TFModel"], "expected a table"),
])
def test_bad_declarations_are_refused(table, message):
    with pytest.raises(ConfigError, match=message):
        check_twins(table)


def test_option_syntax():
    assert parse_twin_option("a.b.C = d.e.F") == ("a.b.C", "d.e.F")
    with pytest.raises(ConfigError, match="CLASS=TWIN"):
        parse_twin_option("a.b.C")


def test_pyproject_and_command_line(tmp_path):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    f = root / "heads.py"
    f.write_text(FIXTURE.read_text())
    assert "class TFTinyPreTrainedModel(TFPreTrainedModel):" in run("convert", f, "--to", "torch").stdout
    declared = "transformers.modeling_tf_utils.TFPreTrainedModel=transformers.modeling_utils.PreTrainedModel"
    assert "class TFTinyPreTrainedModel(PreTrainedModel):" in run("convert", f, "--to", "torch", "--twin", declared).stdout
    proc = run("convert", f, "--to", "torch", "--twin", "transformers.modeling_tf_utils.TFPreTrainedModel")
    assert proc.returncode != 0 and "CLASS=TWIN" in proc.stderr and "Traceback" not in proc.stderr
    (root / "pyproject.toml").write_text(
        '[tool.transpiler]\nto = "torch"\ntwins = { "transformers.modeling_tf_utils.TFPreTrainedModel"'
        ' = "transformers.modeling_utils.PreTrainedModel" }\n'
    )
    assert "class TFTinyPreTrainedModel(PreTrainedModel):" in run("convert", f).stdout
    # coverage counts as convert converts: the model class converts, the mixin head does not
    out = run("coverage", f, "--from", "tf").stdout
    assert "keras subclass" in out and "TFSequenceClassificationLoss" in out
    (root / "pyproject.toml").write_text('[tool.transpiler]\ntwins = { "keras.Model" = "torch.nn.Module" }\n')
    proc = run("convert", f)
    assert proc.returncode != 0 and "twins" in proc.stderr and "framework class" in proc.stderr

"""HuggingFace transformers' own TF models, converted to PyTorch, compute what the originals do.

The layer classes of ``transformers/models/*/modeling_tf_*.py`` (transformers
4.46, the last release with TensorFlow models) are converted file by file, built
from tiny random configs (hidden size 32, 2 heads), given the Keras layer's
weights through the converter's weight map, and run on the same inputs in
inference mode: outputs must agree within rtol 1e-4 / atol 1e-5 (the tolerance of
tests/test_model_equivalence.py), parameter counts must be equal. No download:
the sources and configurations come from the installed package.

How the files are converted (the driver appended, the declared re-exports), what is
supplied by hand and what else is checked (the converted activations):
tests/hf_pairs_util.py and docs/transformers_pairs.md. Every component is either
in PASSING or in GAPS with the first thing that stops it; a gap that starts
passing fails the test (strict xfail), so that it is moved to PASSING.

Needs ``transformers==4.46.3`` and ``tf-keras`` of TensorFlow's version (the
models are Keras 2 code); skipped without them.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from numeric_util import have, needs_frameworks

pytestmark = [pytest.mark.numeric, needs_frameworks()]


def _installed(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


_TRANSFORMERS = _installed("transformers")
if _TRANSFORMERS is None or not have("transformers"):
    pytest.skip("needs transformers==4.46.3 and tf-keras (pip install transformers==4.46.3 tf-keras==2.21.0)", allow_module_level=True)
if not _TRANSFORMERS.startswith("4.46."):
    pytest.skip(f"the components are those of transformers 4.46; {_TRANSFORMERS} is installed", allow_module_level=True)
if _installed("tf-keras") is None or not have("tf_keras"):
    pytest.skip("needs tf-keras, TensorFlow's Keras 2 (transformers' TF models are Keras 2 code): pip install tf-keras==2.21.0", allow_module_level=True)

from hf_pairs_util import ACTIVATIONS, COMPONENTS, HAND_SUPPLIED  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# Converted, loaded with the Keras weights, same outputs.
PASSING = {
    "bert.TFBertEmbeddings", "bert.TFBertSelfAttention", "bert.TFBertSelfOutput", "bert.TFBertAttention",
    "bert.TFBertIntermediate", "bert.TFBertOutput", "bert.TFBertLayer",
    "bert.TFBertPooler", "bert.TFBertPredictionHeadTransform", "bert.TFBertNSPHead",
    "distilbert.TFEmbeddings", "distilbert.TFFFN",
    "vit.TFViTSelfOutput", "vit.TFViTIntermediate", "vit.TFViTOutput", "vit.TFViTLayer", "vit.TFViTPooler",
    "albert.TFAlbertEmbeddings", "albert.TFAlbertAttention", "albert.TFAlbertLayer", "albert.TFAlbertSOPHead",
    "roberta.TFRobertaEmbeddings", "roberta.TFRobertaClassificationHead", "roberta.TFRobertaLayer",
    "electra.TFElectraEmbeddings", "electra.TFElectraDiscriminatorPredictions",
    "electra.TFElectraGeneratorPredictions",  # get_tf_activation("gelu"): keras.activations.gelu as a value
}

_LOOP = (
    "stays Keras: build() loops over the layer list ({loop}: layer.build(None)), which subclass_build does not "
    "convert (docs/models.md, 'Subclasses with build()')"
)


def _holds(attr: str, cls: str) -> str:
    return f"stays Keras: self.{attr} ({cls}) stays Keras"


# The first thing that stops each other component (docs/transformers_pairs.md lists what
# stops them next, measured by simulating the first fix).
GAPS = {
    "bert.TFBertEncoder": "modeling_tf_bert.py:578 " + _LOOP.format(loop="for layer in self.layer"),
    "bert.TFBertMainLayer": "modeling_tf_bert.py:815 " + _holds("encoder", "TFBertEncoder"),
    "distilbert.TFMultiHeadSelfAttention": (
        "modeling_tf_distilbert.py:125 stays Keras: call(self, query, key, value, mask, ...) has a parameter named "
        "mask, taken for Keras's implicit mask, although every caller passes it explicitly"),
    "distilbert.TFTransformerBlock": "modeling_tf_distilbert.py:261 " + _holds("attention", "TFMultiHeadSelfAttention"),
    "distilbert.TFTransformer": "modeling_tf_distilbert.py:328 " + _LOOP.format(loop="for layer in self.layer"),
    "distilbert.TFDistilBertMainLayer": "modeling_tf_distilbert.py:392 " + _holds("transformer", "TFTransformer"),
    "vit.TFViTPatchEmbeddings": (
        "modeling_tf_vit.py:150 converts, but call() rebinds its input (pixel_values = tf.transpose(pixel_values, "
        "perm=(0, 2, 3, 1))) and the converter takes the input for channels-last because self.projection, a Conv2D, "
        "reads the *name* pixel_values (subclass.py _first_layer_use does not stop at the rebinding): every read "
        "becomes pixel_values.movedim(1, -1), and the channel check raises ValueError"),
    "vit.TFViTEmbeddings": (
        "modeling_tf_vit.py:56 converts, but its weight map has no entries for self.patch_embeddings "
        "(TFViTPatchEmbeddings, whose own map is right): load_state_dict misses patch_embeddings.projection.*"),
    "vit.TFViTEncoder": "modeling_tf_vit.py:503 " + _LOOP.format(loop="for layer in self.layer"),
    "vit.TFViTMainLayer": "modeling_tf_vit.py:557 " + _holds("encoder", "TFViTEncoder"),
    "albert.TFAlbertTransformer": (
        "modeling_tf_albert.py:442 " + _LOOP.format(loop="for layer in self.albert_layer_groups")
        + "; so does TFAlbertLayerGroup (line 390, for layer in self.albert_layers)"),
    "albert.TFAlbertMainLayer": (
        "modeling_tf_albert.py:587 stays Keras: build() builds self.pooler, which __init__ makes in a conditional "
        "expression (keras.layers.Dense(...) if add_pooling_layer else None), and self.encoder (TFAlbertTransformer) "
        "stays Keras"),
    "roberta.TFRobertaEncoder": "modeling_tf_roberta.py:585 " + _LOOP.format(loop="for layer in self.layer"),
    "roberta.TFRobertaMainLayer": "modeling_tf_roberta.py:663 " + _holds("encoder", "TFRobertaEncoder"),
    "electra.TFElectraEncoder": "modeling_tf_electra.py:450 " + _LOOP.format(loop="for layer in self.layer"),
    "electra.TFElectraMainLayer": (
        "modeling_tf_electra.py:710 stays Keras: build() builds self.embeddings_project, which __init__ makes only "
        "under `if config.embedding_size != config.hidden_size:`, and self.encoder (TFElectraEncoder) stays Keras"),
    "gpt2.TFMLP": (
        "modeling_tf_gpt2.py:217 stays Keras: its layers are TFConv1D, transformers' own Keras layer from "
        "modeling_tf_utils.py, which the converter does not know (build() 'builds self.c_fc with a shape, but "
        "__init__ does not make self.c_fc as a layer'); a user rule cannot name it (rules are keyed by framework names)"),
    "gpt2.TFBlock": "modeling_tf_gpt2.py:246 stays Keras: self.attn (TFAttention) and self.mlp (TFMLP) stay Keras",
    "gpt2.TFGPT2MainLayer": (
        "modeling_tf_gpt2.py:348 " + _LOOP.format(loop="for layer in self.h") + "; its blocks (TFBlock) stay Keras"),
}

_SQRT = (
    "activations_tf.py:42 tf.sqrt(2.0) becomes torch.sqrt(2.0): torch's math functions take tensors only "
    "(TypeError); a number literal where the target parameter is `input` would need torch.tensor(...) "
    "(engine/transform.py prepare(), which wraps only list literals: tensor_params/tensor_wrapper)"
)
# Converted utilities that do not work yet (strict xfail).
UTIL_GAPS = {
    "activations_tf._gelu": _SQRT,
    "activations_tf.gelu_10": _SQRT + " (gelu_10 calls _gelu)",
}


def test_every_component_is_classified():
    ids = {c.id for c in COMPONENTS}
    assert not PASSING & set(GAPS)
    assert PASSING | set(GAPS) == ids


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("hf") / "results.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "hf_pairs_util.py"), str(out)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the worker failed:\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text())


def _describe(r: dict) -> str:
    if r["stage"] == "done":
        return f"max abs {r['max_abs']:.3g}, max rel (to the output's scale) {r['max_rel_scaled']:.3g}; {r['notes']}"
    return f"failed at {r['stage']}: {r['error']}"


@pytest.mark.parametrize(
    "cid",
    [c.id if c.id in PASSING else pytest.param(c.id, marks=pytest.mark.xfail(reason=GAPS.get(c.id, "?"), strict=True))
     for c in COMPONENTS],
)
def test_same_outputs(cid, results):
    r = results["components"][cid]
    assert r["passed"], _describe(r)
    assert r["max_rel_scaled"] < 1e-4, _describe(r)


def test_at_least_five_model_families_pass(results):
    families = {cid.split(".")[0] for cid, r in results["components"].items() if r["passed"]}
    assert len(families) >= 5, families


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.xfail(reason=UTIL_GAPS[n], strict=True)) if n in UTIL_GAPS else n
     for n in [*(f"activations_tf.{a}" for a in ACTIVATIONS), "tf_utils.check_embeddings_within_bounds"]],
)
def test_converted_utilities(name, results):
    """activations_tf.py and tf_utils.py, converted, do what the originals do."""
    assert results["converted_utils"][name] == "ok", results["converted_utils"][name]


@pytest.mark.parametrize(
    "key", [pytest.param(k, marks=pytest.mark.xfail(reason=why, strict=True)) for k, (_fn, why) in HAND_SUPPLIED.items()]
)
def test_converted_function_replaced_by_hand(key, results):
    """Each function written by hand is one whose conversion does not work; when it does, drop the hand-written one."""
    assert results["converted_functions"][key] == "ok", results["converted_functions"][key]

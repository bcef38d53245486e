"""HuggingFace transformers' own TF models, converted to PyTorch, compute what the originals do.

The layer classes of ``transformers/models/*/modeling_tf_*.py`` (transformers
4.46, the last release with TensorFlow models) are converted file by file, built
from tiny random configs (hidden size 32, 2 heads), given the Keras layer's
weights through the converter's weight map, and run on the same inputs in
inference mode: outputs must agree within rtol 1e-4 / atol 1e-5 (the tolerance of
tests/test_model_equivalence.py), parameter counts must be equal. No download:
the sources and configurations come from the installed package.

How the files are prepared, what is converted and what is supplied by hand:
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

from hf_pairs_util import COMPONENTS, HAND_SUPPLIED  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# Converted, loaded with the Keras weights, same outputs.
PASSING = {
    "bert.TFBertEmbeddings", "bert.TFBertSelfOutput", "bert.TFBertIntermediate", "bert.TFBertOutput",
    "bert.TFBertPooler", "bert.TFBertPredictionHeadTransform", "bert.TFBertNSPHead",
    "distilbert.TFEmbeddings", "distilbert.TFFFN",
    "vit.TFViTSelfOutput", "vit.TFViTIntermediate", "vit.TFViTOutput", "vit.TFViTPooler",
    "albert.TFAlbertEmbeddings", "albert.TFAlbertSOPHead",
    "roberta.TFRobertaEmbeddings", "roberta.TFRobertaClassificationHead",
    "electra.TFElectraEmbeddings", "electra.TFElectraDiscriminatorPredictions",
    "electra.TFElectraGeneratorPredictions",  # get_tf_activation("gelu"): keras.activations.gelu as a value
}

_CAST = (
    "tf.cast(self.sqrt_att_head_size, dtype=attention_scores.dtype) (a Python float made in __init__ by math.sqrt) "
    "becomes self.sqrt_att_head_size.to(...), a tensor method on a float: AttributeError. The tensorflow.cast rule "
    "(rules/tf_to_torch/tensors.toml) writes {x}.to(dtype) whatever x is; only a literal x is refused "
    "(engine/build.py LiteralReceiver). With that one line written torch.tensor(x, dtype=...), this component passes"
)
_ENCODER = (
    "stays Keras: build() loops over the layer list (for layer in self.layer: layer.build(None)), which "
    "subclass_build does not convert (docs/models.md, 'Subclasses with build()')"
)
# The first thing that stops each other component.
GAPS = {
    "bert.TFBertSelfAttention": "modeling_tf_bert.py:291 " + _CAST,
    "bert.TFBertAttention": "modeling_tf_bert.py:291 (TFBertSelfAttention) " + _CAST,
    "bert.TFBertLayer": "modeling_tf_bert.py:291 (TFBertSelfAttention) " + _CAST,
    "bert.TFBertEncoder": "modeling_tf_bert.py:578 TFBertEncoder " + _ENCODER,
    "bert.TFBertMainLayer": "modeling_tf_bert.py:815 stays Keras: self.encoder (TFBertEncoder) stays Keras",
    "distilbert.TFMultiHeadSelfAttention": (
        "modeling_tf_distilbert.py:125 stays Keras: call(self, query, key, value, mask, ...) has a parameter named "
        "mask, taken for Keras's implicit mask, although every caller passes it explicitly"),
    "distilbert.TFTransformerBlock": "modeling_tf_distilbert.py:261 stays Keras: self.attention (TFMultiHeadSelfAttention) stays Keras",
    "vit.TFViTPatchEmbeddings": (
        "modeling_tf_vit.py:150 stays Keras: Conv2D(kernel_size=patch_size, strides=patch_size), a tuple computed in "
        "__init__ from the config (patch_size if isinstance(patch_size, Iterable) else (patch_size, patch_size)); "
        "the converter needs the kernel size as a literal"),
    "vit.TFViTEmbeddings": (
        "modeling_tf_vit.py:56 stays Keras: build() reads num_patches = self.patch_embeddings.num_patches "
        "(a statement other than sublayer builds) and self.patch_embeddings stays Keras"),
    "vit.TFViTLayer": "modeling_tf_vit.py:274 (TFViTSelfAttention) " + _CAST,
    "albert.TFAlbertAttention": "modeling_tf_albert.py:268 " + _CAST,
    "albert.TFAlbertLayer": "modeling_tf_albert.py:268 (TFAlbertAttention) " + _CAST,
    "roberta.TFRobertaLayer": "modeling_tf_roberta.py:292 (TFRobertaSelfAttention) " + _CAST,
    "gpt2.TFMLP": (
        "modeling_tf_gpt2.py:217 stays Keras: its layers are TFConv1D, transformers' own Keras layer from "
        "modeling_tf_utils.py, which the converter does not know (build() 'builds self.c_fc with a shape, but "
        "__init__ does not make self.c_fc as a layer')"),
    "gpt2.TFBlock": "modeling_tf_gpt2.py:246 stays Keras: self.attn (TFAttention) and self.mlp (TFMLP) stay Keras",
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
    "key", [pytest.param(k, marks=pytest.mark.xfail(reason=why, strict=True)) for k, (_fn, why) in HAND_SUPPLIED.items()]
)
def test_converted_function_replaced_by_hand(key, results):
    """Each function written by hand is one whose conversion does not work; when it does, drop the hand-written one."""
    assert results["converted_functions"][key] == "ok", results["converted_functions"][key]

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

from hf_pairs_util import ACTIVATIONS, COMPONENTS, HAND_SUPPLIED, PROBED  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# Converted, loaded with the Keras weights, same outputs.
PASSING = {
    "bert.TFBertEmbeddings", "bert.TFBertSelfAttention", "bert.TFBertSelfOutput", "bert.TFBertAttention",
    "bert.TFBertIntermediate", "bert.TFBertOutput", "bert.TFBertLayer", "bert.TFBertEncoder",
    "bert.TFBertPooler", "bert.TFBertPredictionHeadTransform", "bert.TFBertNSPHead",
    "distilbert.TFEmbeddings", "distilbert.TFFFN",
    "distilbert.TFMultiHeadSelfAttention",  # call(self, query, key, value, mask, ...): mask is an ordinary argument
    "distilbert.TFTransformerBlock", "distilbert.TFTransformer",
    "vit.TFViTPatchEmbeddings",  # pixel_values = tf.transpose(pixel_values, ...) rebinds the input
    "vit.TFViTEmbeddings",  # its TFViTPatchEmbeddings is defined further down the file
    "vit.TFViTSelfOutput", "vit.TFViTIntermediate", "vit.TFViTOutput", "vit.TFViTLayer", "vit.TFViTPooler",
    "vit.TFViTEncoder",
    "albert.TFAlbertEmbeddings", "albert.TFAlbertAttention", "albert.TFAlbertLayer", "albert.TFAlbertSOPHead",
    "albert.TFAlbertTransformer",  # a list of TFAlbertLayerGroup, each a list of TFAlbertLayer
    "roberta.TFRobertaEmbeddings", "roberta.TFRobertaClassificationHead", "roberta.TFRobertaLayer",
    "roberta.TFRobertaEncoder",
    "electra.TFElectraEmbeddings", "electra.TFElectraDiscriminatorPredictions",
    "electra.TFElectraGeneratorPredictions",  # get_tf_activation("gelu"): keras.activations.gelu as a value
    "electra.TFElectraEncoder",
    # whole networks
    "bert.TFBertMainLayer", "distilbert.TFDistilBertMainLayer", "vit.TFViTMainLayer",
    "albert.TFAlbertMainLayer",  # self.pooler = Dense(...) if add_pooling_layer else None
    "roberta.TFRobertaMainLayer",
    "electra.TFElectraMainLayer",  # if config.embedding_size != config.hidden_size: self.embeddings_project = Dense(...)
    # the models, on TFPreTrainedModel's declared twin, transformers' PreTrainedModel (TWINS)
    "bert.TFBertModel", "distilbert.TFDistilBertModel", "vit.TFViTModel", "albert.TFAlbertModel",
    "roberta.TFRobertaModel", "electra.TFElectraModel",
    # heads with a loss mixin, modeling_tf_utils converted in the same run: logits and loss
    "bert.TFBertForSequenceClassification", "bert.TFBertForQuestionAnswering",
    "distilbert.TFDistilBertForSequenceClassification", "roberta.TFRobertaForSequenceClassification",
    # ResNet: its convolution applied in a helper method (channels-first there only), a shortcut
    # that is TFResNetShortCut or a linear Activation (one conditional expression), BatchNorm
    "resnet.TFResNetConvLayer", "resnet.TFResNetShortCut", "resnet.TFResNetBasicLayer",
    "resnet.TFResNetBasicLayer(identity)", "resnet.TFResNetBottleNeckLayer", "resnet.TFResNetEmbeddings",
    # a stage's layers `[layer(...)]` then `+= [layer(...) for ...]`, `layer` naming one of two classes;
    # the encoder's first stage written out, the others appended by a loop
    "resnet.TFResNetStage", "resnet.TFResNetEncoder", "resnet.TFResNetMainLayer",
    "resnet.TFResNetMainLayer(bottleneck)", "resnet.TFResNetModel",
    # RegNet: the same shortcut (its call() returns its normalization's output), its layers a list
    # written out element by element, grouped convolutions
    "regnet.TFRegNetShortCut", "regnet.TFRegNetXLayer", "regnet.TFRegNetXLayer(identity)",
    # its squeeze-and-excitation a list of two Conv2Ds applied by a loop (an nn.Sequential), held
    # in the Y layer's list with convolution layers (Keras's layout for all); the encoder's stages
    # one appended and more by a loop; the whole network
    "regnet.TFRegNetSELayer", "regnet.TFRegNetYLayer", "regnet.TFRegNetEncoder", "regnet.TFRegNetMainLayer",
    "regnet.TFRegNetModel",
    # ConvNeXt: its layer scale made by `add_weight(...) if ... else None` in build(); a stage's
    # downsampling a list of a LayerNormalization and a Conv2D (or `[tf.identity]`: None) applied by a
    # loop; its layers, channels-first in and Keras's layout out alone, applied in turn (Keras's for both)
    "convnext.TFConvNextLayer", "convnext.TFConvNextLayer(no_scale)", "convnext.TFConvNextStage",
    "convnext.TFConvNextStage(identity)", "convnext.TFConvNextMainLayer", "convnext.TFConvNextModel",
    "convnext.TFConvNextForImageClassification", "convnextv2.TFConvNextV2MainLayer",
    # MobileBERT: an optional list of feed-forward blocks; NORM2FN[...](...), a table of norm classes,
    # TFLayerNorm (a LayerNormalization with a fixed build() shape) an nn.LayerNorm subclass
    "mobilebert.TFMobileBertPredictionHeadTransform", "mobilebert.TFMobileBertMainLayer",
    "mobilebert.TFMobileBertMainLayer(layer_norm)",
    # ConvBERT: a SeparableConv1D; Dense (num_groups=1) or GroupedLinearLayer in two branches
    "convbert.TFConvBertMainLayer", "convbert.TFConvBertMainLayer(groups)",
    # DeBERTa-v2: the relative embeddings made under `if self.relative_attention:` from sizes set under it
    # in __init__; embeddings made under `with tf.name_scope(...): if ...:`; the mask=None argument its
    # callers pass; StableDropout's tf.custom_gradient (the custom_gradient helper)
    "deberta_v2.TFDebertaV2MainLayer",
    # DeBERTa: its tf.TensorArray (the TensorArray helper) and tf.minimum/maximum of shape elements
    "deberta.TFDebertaMainLayer",
    # T5: a block's layers appended one by one (the cross-attention in decoders only), called by index;
    # the feed-forward layer's place in the list depends on it (weights/transforms.py's "#")
    "t5.TFT5Block", "t5.TFT5Block(decoder)",
}

WHOLE_NETWORKS = {cid for cid in PASSING if cid.split("(")[0].endswith("MainLayer")}


# The first thing that stops each other component (docs/transformers_pairs.md).
GAPS = {
    "t5.TFT5Model": (
        "TFT5MainLayer reads self.embed_tokens.input_dim of the Keras Embedding its caller passes it (the shared "
        "embedding); the converter does not follow a layer through a constructor argument, so the attribute stays "
        "Keras's (nn.Embedding calls it num_embeddings)"
    ),
    "xlm.TFXLMMainLayer": (
        "the main layer converts whole (its LayerNormalizations appended to lists in the loop that makes its blocks), "
        "but it holds TFSharedEmbeddings, a Keras layer of modeling_tf_utils.py, and this harness's stand-in "
        "modeling_tf_utils keeps that module's Keras classes (it converts only the loss mixins): the PyTorch side "
        "has no embedding parameters (27,520 of 30,688) and feeds torch tensors to TensorFlow"),
    "gpt2.TFMLP": (
        "modeling_tf_gpt2.py:217 stays Keras: its layers are TFConv1D, transformers' own Keras layer from "
        "modeling_tf_utils.py, which the converter does not know (build() 'builds self.c_fc with a shape, but "
        "__init__ does not make self.c_fc as a layer'); a user rule cannot name it (rules are keyed by framework names)"),
    "gpt2.TFBlock": (
        "modeling_tf_gpt2.py:246 stays Keras: self.attn (TFAttention, whose build() builds its TFConv1D layers under "
        "`if self.is_cross_attention:`) and self.mlp (TFMLP) stay Keras"),
    "gpt2.TFGPT2MainLayer": "modeling_tf_gpt2.py:348 stays Keras: self.h (a list of TFBlock) stays Keras",
    "bert.TFBertForTokenClassification": (
        "TFTokenClassificationLoss.hf_compute_loss calls its SparseCategoricalCrossentropy(from_logits=True) on "
        "(batch, time, labels) logits: nn.CrossEntropyLoss reads the classes on axis 1 (RuntimeError: Expected target "
        "size [2, 3], got [2, 7]); the conversion warns there (the rank of the logits is not known where the loss is "
        "called) and the user writes logits.movedim(-1, 1)"),
}

# Converted utilities that do not work yet (strict xfail).
UTIL_GAPS: dict[str, str] = {}


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


def test_at_least_five_whole_networks_pass(results):
    """Whole TF models (the *MainLayer classes), converted, loaded with the Keras weights, same outputs."""
    whole = {cid for cid, r in results["components"].items() if cid.split("(")[0].endswith("MainLayer") and r["passed"]}
    assert len(whole) >= 5, whole
    assert whole >= WHOLE_NETWORKS


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.xfail(reason=UTIL_GAPS[n], strict=True)) if n in UTIL_GAPS else n
     for n in [*(f"activations_tf.{a}" for a in ACTIVATIONS), "tf_utils.check_embeddings_within_bounds"]],
)
def test_converted_utilities(name, results):
    """activations_tf.py and tf_utils.py, converted, do what the originals do."""
    assert results["converted_utils"][name] == "ok", results["converted_utils"][name]


@pytest.mark.parametrize(
    "key",
    [pytest.param(k, marks=pytest.mark.xfail(reason=HAND_SUPPLIED[k][1], strict=True)) if k in HAND_SUPPLIED else k
     for k in PROBED],
)
def test_converted_function(key, results):
    """Each probed function, converted, works without TensorFlow; one still written by hand is
    expected not to (strict: when it does, drop the hand-written one)."""
    assert results["converted_functions"][key] == "ok", results["converted_functions"][key]

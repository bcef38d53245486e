"""HuggingFace transformers' TF models, converted to PyTorch and run against the originals.

``python tests/hf_pairs_util.py OUT_JSON [COMPONENT_ID ...]`` (needs transformers
4.46, tf-keras, TensorFlow, PyTorch). For each component (a Keras layer class of a
``transformers/models/*/modeling_tf_*.py`` file, built from a tiny random config):

1. the TF source file is read from the installed transformers package, and a
   driver is appended (:func:`prepare_source`) that makes one module-level
   instance per component (``tp_<n> = TFBertLayer(tp_config)``), so that the
   converter writes a weight map for it (ConversionResult.models), as it does for
   the fixture models;
2. the prepared file is converted with :func:`transpiler.api.convert_source`,
   under its own path (relative imports resolve against its package) and with the
   re-exports a user declares (:data:`REEXPORTS`: ``keras`` from ``modeling_tf_utils``
   is Keras);
3. the prepared TF file runs inside the transformers package (its relative
   imports are transformers' own); every Keras layer remembers where in the file
   it was made (the weight map is keyed by those positions);
4. the converted file runs inside a stand-in package (:class:`TorchPackage`): its
   relative imports resolve to transformers' own modules, except ``tf_utils`` and
   ``activations_tf``, which are converted with the converter as well (a function of
   those that the converter left unconverted would be supplied by hand,
   :data:`HAND_SUPPLIED`, with the reason; none is now), and ``modeling_tf_utils``, whose
   loss mixins are converted (``TorchPackage._converted_mixins``) and whose
   ``unpack_inputs`` is written by hand (:data:`PROJECT_SUPPLIED`);
5. the Keras layer is called once (building it), all its weights are drawn from a
   seeded generator, it is called again in inference mode; its weights go through
   the converter's weight map (:func:`transpiler.weights.transforms.state_dict_arrays`)
   into the converted module (``load_state_dict(strict=True)``), which is called in
   eval mode on the same inputs; outputs are compared.

Results (max relative/absolute error per component, or the first error) go to OUT_JSON.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import os
import sys
import textwrap
import time
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TRANSFORMERS_VERSION = "4.46.3"

# -- the components ------------------------------------------------------------------

BERT = dict(
    vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
    max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu_new",
)
B, T, H = 2, 7, 32  # batch, sequence length, hidden size


def f(*shape):
    return ("float", list(shape))


def i(high, *shape):
    return ("int", high, list(shape))


WHOLE = {"output_attentions": True, "output_hidden_states": True, "return_dict": False}  # a whole network's outputs
ENCODER_ARGS = {"head_mask": [None, None], "encoder_hidden_states": None, "encoder_attention_mask": None,
                "past_key_values": None, "use_cache": False, **WHOLE}
MASK = ("mask", [B, 1, 1, T])  # an additive attention mask (0 or -10000), as the models make it
KEEP = ("keep", [B, T])  # a 0/1 attention mask (DistilBERT, the main layers)


@dataclass
class Component:
    id: str
    file: str  # under transformers/models/
    cls: str
    config_class: str
    config: dict
    inputs: dict  # call argument -> input spec, or a Python value given as it is to both sides
    ctor: str = "{config}"  # the constructor's arguments, as source ({config}: the config made from `config`)


LAYER_ARGS = {"head_mask": None, "encoder_hidden_states": None, "encoder_attention_mask": None,
              "past_key_value": None, "output_attentions": True}
DISTILBERT = dict(vocab_size=99, dim=32, n_layers=2, n_heads=2, hidden_dim=37, max_position_embeddings=64,
                  activation="gelu_new")
VIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, image_size=16,
           patch_size=4, num_channels=3, hidden_act="gelu_new")
ALBERT = dict(vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
              intermediate_size=37, max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu_new")
ROBERTA = dict(BERT, pad_token_id=1)
# MobileBERT: bottlenecks, three feed-forward networks (an optional list of blocks), and a table of
# norm classes (NORM2FN): "no_norm" (its default), or "layer_norm", its TFLayerNorm a LayerNormalization
# subclass with a fixed build() shape
MOBILEBERT = dict(vocab_size=99, hidden_size=32, embedding_size=16, intra_bottleneck_size=16, num_hidden_layers=2,
                  num_attention_heads=2, intermediate_size=37, max_position_embeddings=64, type_vocab_size=3,
                  num_feedforward_networks=3, hidden_act="relu")
ELECTRA = dict(BERT, embedding_size=16)
GPT2 = dict(vocab_size=99, n_positions=64, n_embd=32, n_layer=2, n_head=2, activation_function="gelu_new")
SEQ = 17  # ViT: (16 / 4) ** 2 patches + [CLS]

# DeBERTa-v2: disentangled attention with relative positions (buckets, a shared key, a LayerNorm on
# the relative embeddings made under `if self.relative_attention:`), a convolution layer, and the
# custom-gradient StableDropout (identity in inference)
DEBERTA_V2 = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                  max_position_embeddings=64, type_vocab_size=3, relative_attention=True, position_buckets=8,
                  max_relative_positions=16, pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm",
                  share_att_key=True, conv_kernel_size=3, hidden_act="gelu")

# T5: a block whose layers are a list appended one by one (self-attention, cross-attention in
# decoders only, feed-forward), called by index; relative position buckets
T5 = dict(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, relative_attention_num_buckets=8,
          relative_attention_max_distance=16, feed_forward_proj="gated-gelu")
T5_BLOCK = {"hidden_states": f(B, T, H), "attention_mask": MASK, "position_bias": None, "use_cache": False,
            "output_attentions": True}
# DeBERTa: the same, with its query/key/value in one in_proj Dense, and relative embeddings whose
# size __init__ sets twice under `if self.relative_attention:`
DEBERTA = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
               max_position_embeddings=64, type_vocab_size=3, relative_attention=True, max_relative_positions=16,
               pos_att_type=["p2c", "c2p"], hidden_act="gelu")


def _c(file, cls, config_class, config, inputs, **kw):
    family = file.split("/")[0]
    return Component(f"{family}.{cls}", file, cls, config_class, config, inputs, **kw)


BERT_F, DB_F, VIT_F = "bert/modeling_tf_bert.py", "distilbert/modeling_tf_distilbert.py", "vit/modeling_tf_vit.py"
AL_F, RO_F, EL_F, G2_F = ("albert/modeling_tf_albert.py", "roberta/modeling_tf_roberta.py",
                          "electra/modeling_tf_electra.py", "gpt2/modeling_tf_gpt2.py")
MB_F = "mobilebert/modeling_tf_mobilebert.py"
RN_F, RG_F = "resnet/modeling_tf_resnet.py", "regnet/modeling_tf_regnet.py"
RESNET = dict(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
REGNET = dict(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], groups_width=4, layer_type="x")
CN_F, CN2_F = "convnext/modeling_tf_convnext.py", "convnextv2/modeling_tf_convnextv2.py"
CONVNEXT = dict(num_channels=3, patch_size=4, num_stages=2, hidden_sizes=[8, 16], depths=[1, 2], hidden_act="gelu")
CB_F = "convbert/modeling_tf_convbert.py"
XLM_F = "xlm/modeling_tf_xlm.py"
DV2_F = "deberta_v2/modeling_tf_deberta_v2.py"
DB1_F = "deberta/modeling_tf_deberta.py"
T5_F = "t5/modeling_tf_t5.py"
# XLM: its LayerNormalizations appended to lists in the same loop as its attention and FFN blocks
XLM = dict(vocab_size=99, emb_dim=32, n_layers=2, n_heads=2, max_position_embeddings=64, n_langs=1,
           dropout=0.1, attention_dropout=0.1, gelu_activation=True)
# ConvBERT: span-based dynamic convolution (a SeparableConv1D), and Dense or its GroupedLinearLayer
# in the two branches of __init__ (num_groups)
CONVBERT = dict(vocab_size=99, hidden_size=32, embedding_size=16, num_hidden_layers=2, num_attention_heads=4,
                head_ratio=2, conv_kernel_size=3, intermediate_size=36, max_position_embeddings=64,
                type_vocab_size=3, hidden_act="gelu_new", num_groups=1)

COMPONENTS = [
    _c(BERT_F, "TFBertEmbeddings", "BertConfig", BERT, {"input_ids": i(99, B, T), "token_type_ids": i(3, B, T)}),
    _c(BERT_F, "TFBertSelfAttention", "BertConfig", BERT, {"hidden_states": f(B, T, H), "attention_mask": MASK, **LAYER_ARGS}),
    _c(BERT_F, "TFBertSelfOutput", "BertConfig", BERT, {"hidden_states": f(B, T, H), "input_tensor": f(B, T, H)}),
    _c(BERT_F, "TFBertAttention", "BertConfig", BERT, {"input_tensor": f(B, T, H), "attention_mask": MASK, **LAYER_ARGS}),
    _c(BERT_F, "TFBertIntermediate", "BertConfig", BERT, {"hidden_states": f(B, T, H)}),
    _c(BERT_F, "TFBertOutput", "BertConfig", BERT, {"hidden_states": f(B, T, 37), "input_tensor": f(B, T, H)}),
    _c(BERT_F, "TFBertLayer", "BertConfig", BERT, {"hidden_states": f(B, T, H), "attention_mask": MASK, **LAYER_ARGS}),
    _c(BERT_F, "TFBertEncoder", "BertConfig", BERT, {"hidden_states": f(B, T, H), "attention_mask": MASK, **ENCODER_ARGS}),
    _c(BERT_F, "TFBertPooler", "BertConfig", BERT, {"hidden_states": f(B, T, H)}),
    _c(BERT_F, "TFBertPredictionHeadTransform", "BertConfig", BERT, {"hidden_states": f(B, T, H)}),
    _c(BERT_F, "TFBertNSPHead", "BertConfig", BERT, {"pooled_output": f(B, H)}),
    _c(BERT_F, "TFBertMainLayer", "BertConfig", BERT, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    _c(DB_F, "TFEmbeddings", "DistilBertConfig", DISTILBERT, {"input_ids": i(99, B, T)}),
    _c(DB_F, "TFMultiHeadSelfAttention", "DistilBertConfig", DISTILBERT, {
        "query": f(B, T, H), "key": f(B, T, H), "value": f(B, T, H), "mask": KEEP, "head_mask": None,
        "output_attentions": True}),
    _c(DB_F, "TFFFN", "DistilBertConfig", DISTILBERT, {"input": f(B, T, H)}),
    _c(DB_F, "TFTransformerBlock", "DistilBertConfig", DISTILBERT, {
        "x": f(B, T, H), "attn_mask": KEEP, "head_mask": None, "output_attentions": True}),
    _c(DB_F, "TFTransformer", "DistilBertConfig", DISTILBERT, {
        "x": f(B, T, H), "attn_mask": KEEP, "head_mask": [None, None], **WHOLE}),
    _c(DB_F, "TFDistilBertMainLayer", "DistilBertConfig", DISTILBERT, {"input_ids": i(99, B, T), "attention_mask": KEEP, **WHOLE}),
    _c(VIT_F, "TFViTPatchEmbeddings", "ViTConfig", VIT, {"pixel_values": f(B, 3, 16, 16)}),
    _c(VIT_F, "TFViTEmbeddings", "ViTConfig", VIT, {"pixel_values": f(B, 3, 16, 16)}),
    _c(VIT_F, "TFViTSelfOutput", "ViTConfig", VIT, {"hidden_states": f(B, SEQ, H), "input_tensor": f(B, SEQ, H)}),
    _c(VIT_F, "TFViTIntermediate", "ViTConfig", VIT, {"hidden_states": f(B, SEQ, H)}),
    _c(VIT_F, "TFViTOutput", "ViTConfig", VIT, {"hidden_states": f(B, SEQ, 37), "input_tensor": f(B, SEQ, H)}),
    _c(VIT_F, "TFViTLayer", "ViTConfig", VIT, {"hidden_states": f(B, SEQ, H), "head_mask": None, "output_attentions": True}),
    _c(VIT_F, "TFViTPooler", "ViTConfig", VIT, {"hidden_states": f(B, SEQ, H)}),
    _c(VIT_F, "TFViTEncoder", "ViTConfig", VIT, {"hidden_states": f(B, SEQ, H), "head_mask": [None, None], **WHOLE}),
    _c(VIT_F, "TFViTMainLayer", "ViTConfig", VIT, {"pixel_values": f(B, 3, 16, 16), **WHOLE}),
    _c(AL_F, "TFAlbertEmbeddings", "AlbertConfig", ALBERT, {"input_ids": i(99, B, T), "token_type_ids": i(3, B, T)}),
    _c(AL_F, "TFAlbertAttention", "AlbertConfig", ALBERT, {
        "input_tensor": f(B, T, H), "attention_mask": MASK, "head_mask": None, "output_attentions": True}),
    _c(AL_F, "TFAlbertLayer", "AlbertConfig", ALBERT, {
        "hidden_states": f(B, T, H), "attention_mask": MASK, "head_mask": None, "output_attentions": True}),
    _c(AL_F, "TFAlbertSOPHead", "AlbertConfig", ALBERT, {"pooled_output": f(B, H)}),
    _c(AL_F, "TFAlbertTransformer", "AlbertConfig", ALBERT, {
        "hidden_states": f(B, T, 16), "attention_mask": MASK, "head_mask": [None, None], **WHOLE}),
    _c(AL_F, "TFAlbertMainLayer", "AlbertConfig", ALBERT, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    _c(RO_F, "TFRobertaEmbeddings", "RobertaConfig", ROBERTA, {"input_ids": i(99, B, T)}),
    _c(RO_F, "TFRobertaClassificationHead", "RobertaConfig", dict(ROBERTA, num_labels=3), {"features": f(B, T, H)}),
    _c(RO_F, "TFRobertaLayer", "RobertaConfig", ROBERTA, {"hidden_states": f(B, T, H), "attention_mask": MASK, **LAYER_ARGS}),
    _c(RO_F, "TFRobertaEncoder", "RobertaConfig", ROBERTA, {
        "hidden_states": f(B, T, H), "attention_mask": MASK, **ENCODER_ARGS}),
    _c(RO_F, "TFRobertaMainLayer", "RobertaConfig", ROBERTA, {"input_ids": i(99, B, T), "attention_mask": KEEP, **WHOLE}),
    _c(EL_F, "TFElectraEmbeddings", "ElectraConfig", ELECTRA, {"input_ids": i(99, B, T), "token_type_ids": i(3, B, T)}),
    _c(EL_F, "TFElectraDiscriminatorPredictions", "ElectraConfig", ELECTRA, {"discriminator_hidden_states": f(B, T, H)}),
    _c(EL_F, "TFElectraGeneratorPredictions", "ElectraConfig", ELECTRA, {"generator_hidden_states": f(B, T, H)}),
    _c(EL_F, "TFElectraEncoder", "ElectraConfig", ELECTRA, {
        "hidden_states": f(B, T, H), "attention_mask": MASK, **ENCODER_ARGS}),
    _c(EL_F, "TFElectraMainLayer", "ElectraConfig", ELECTRA, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    # the models on TFPreTrainedModel, converted on its declared twin, PreTrainedModel (TWINS)
    _c(BERT_F, "TFBertModel", "BertConfig", BERT, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    _c(DB_F, "TFDistilBertModel", "DistilBertConfig", DISTILBERT, {"input_ids": i(99, B, T), "attention_mask": KEEP, **WHOLE}),
    _c(VIT_F, "TFViTModel", "ViTConfig", VIT, {"pixel_values": f(B, 3, 16, 16), **WHOLE}),
    _c(AL_F, "TFAlbertModel", "AlbertConfig", ALBERT, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    _c(RO_F, "TFRobertaModel", "RobertaConfig", ROBERTA, {"input_ids": i(99, B, T), "attention_mask": KEEP, **WHOLE}),
    _c(EL_F, "TFElectraModel", "ElectraConfig", ELECTRA, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    # heads with a loss mixin of modeling_tf_utils (TFSequenceClassificationLoss...), converted in
    # the same run as a user converting transformers does (TorchPackage.mixins): outputs and loss
    _c(BERT_F, "TFBertForSequenceClassification", "BertConfig", dict(BERT, num_labels=3), {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), "labels": i(3, B),
        "return_dict": False}),
    _c(BERT_F, "TFBertForQuestionAnswering", "BertConfig", BERT, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "start_positions": i(T, B), "end_positions": i(T, B),
        "return_dict": False}),
    _c(BERT_F, "TFBertForTokenClassification", "BertConfig", dict(BERT, num_labels=3), {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "labels": i(3, B, T), "return_dict": False}),
    _c(DB_F, "TFDistilBertForSequenceClassification", "DistilBertConfig", dict(DISTILBERT, num_labels=3), {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "labels": i(3, B), "return_dict": False}),
    _c(RO_F, "TFRobertaForSequenceClassification", "RobertaConfig", dict(ROBERTA, num_labels=3), {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "labels": i(3, B), "return_dict": False}),
    _c(MB_F, "TFMobileBertPredictionHeadTransform", "MobileBertConfig", MOBILEBERT, {"hidden_states": f(B, T, H)}),
    _c(MB_F, "TFMobileBertMainLayer", "MobileBertConfig", MOBILEBERT, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    Component("mobilebert.TFMobileBertMainLayer(layer_norm)", MB_F, "TFMobileBertMainLayer", "MobileBertConfig",
              dict(MOBILEBERT, normalization_type="layer_norm"), {
                  "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    _c(CB_F, "TFConvBertMainLayer", "ConvBertConfig", CONVBERT, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    Component("convbert.TFConvBertMainLayer(groups)", CB_F, "TFConvBertMainLayer", "ConvBertConfig",
              dict(CONVBERT, num_groups=2), {
                  "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    _c(DV2_F, "TFDebertaV2MainLayer", "DebertaV2Config", DEBERTA_V2, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    _c(DB1_F, "TFDebertaMainLayer", "DebertaConfig", DEBERTA, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "token_type_ids": i(3, B, T), **WHOLE}),
    _c(T5_F, "TFT5Block", "T5Config", T5, T5_BLOCK, ctor="{config}, has_relative_attention_bias=True"),
    Component("t5.TFT5Block(decoder)", T5_F, "TFT5Block", "T5Config", dict(T5, is_decoder=True), {
        **T5_BLOCK, "encoder_hidden_states": f(B, T, H), "encoder_attention_mask": MASK},
        ctor="{config}, has_relative_attention_bias=True"),
    _c(T5_F, "TFT5Model", "T5Config", T5, {
        "input_ids": i(99, B, T), "attention_mask": KEEP, "decoder_input_ids": i(99, B, T), "use_cache": False,
        **WHOLE}),
    _c(XLM_F, "TFXLMMainLayer", "XLMConfig", XLM, {"input_ids": i(99, B, T), "attention_mask": KEEP, **WHOLE}),
    _c(G2_F, "TFMLP", "GPT2Config", GPT2, {"x": f(B, T, H)}, ctor="4 * 32, {config}"),
    _c(G2_F, "TFBlock", "GPT2Config", GPT2, {
        "x": f(B, T, H), "layer_past": None, "attention_mask": None, "head_mask": None, "encoder_hidden_states": None,
        "encoder_attention_mask": None, "use_cache": False, "output_attentions": True}),
    _c(G2_F, "TFGPT2MainLayer", "GPT2Config", GPT2, {"input_ids": i(99, B, T), "attention_mask": KEEP, "use_cache": False, **WHOLE}),
    # ResNet's layers take channels-last images; the convolution is applied in a helper method
    _c(RN_F, "TFResNetConvLayer", "ResNetConfig", RESNET, {"hidden_state": f(B, 8, 8, 4)}, ctor="4, 8, stride=2"),
    _c(RN_F, "TFResNetShortCut", "ResNetConfig", RESNET, {"x": f(B, 8, 8, 4)}, ctor="4, 8, stride=2"),
    _c(RN_F, "TFResNetBasicLayer", "ResNetConfig", RESNET, {"hidden_state": f(B, 8, 8, 4)}, ctor="4, 8, stride=2"),
    Component("resnet.TFResNetBasicLayer(identity)", RN_F, "TFResNetBasicLayer", "ResNetConfig", RESNET,
              {"hidden_state": f(B, 8, 8, 8)}, ctor="8, 8"),
    _c(RN_F, "TFResNetBottleNeckLayer", "ResNetConfig", RESNET, {"hidden_state": f(B, 8, 8, 4)}, ctor="4, 8, stride=2"),
    _c(RN_F, "TFResNetEmbeddings", "ResNetConfig", RESNET, {"pixel_values": f(B, 16, 16, 3)}),
    _c(RN_F, "TFResNetStage", "ResNetConfig", RESNET, {"hidden_state": f(B, 8, 8, 4)}, ctor="{config}, 4, 8, stride=2, depth=2"),
    _c(RN_F, "TFResNetEncoder", "ResNetConfig", RESNET, {"hidden_state": f(B, 8, 8, 8), "output_hidden_states": True}),
    _c(RN_F, "TFResNetMainLayer", "ResNetConfig", RESNET, {"pixel_values": f(B, 3, 16, 16), "output_hidden_states": True}),
    Component("resnet.TFResNetMainLayer(bottleneck)", RN_F, "TFResNetMainLayer", "ResNetConfig",
              dict(RESNET, layer_type="bottleneck", depths=[2, 1]), {"pixel_values": f(B, 3, 16, 16)}),
    _c(RN_F, "TFResNetModel", "ResNetConfig", RESNET, {"pixel_values": f(B, 3, 16, 16)}),
    # RegNet: the same shortcut, whose call() returns its normalization's output; grouped convolutions
    _c(RG_F, "TFRegNetShortCut", "RegNetConfig", REGNET, {"inputs": f(B, 8, 8, 4)}, ctor="4, 8, stride=2"),
    _c(RG_F, "TFRegNetXLayer", "RegNetConfig", REGNET, {"hidden_state": f(B, 8, 8, 4)}, ctor="{config}, 4, 8, stride=2"),
    Component("regnet.TFRegNetXLayer(identity)", RG_F, "TFRegNetXLayer", "RegNetConfig", REGNET,
              {"hidden_state": f(B, 8, 8, 8)}, ctor="{config}, 8, 8"),
    # its squeeze-and-excitation: a list of two Keras Conv2Ds applied by a loop (an nn.Sequential);
    # the Y layer's list holds it with three convolution layers (one layout for all: Keras's)
    _c(RG_F, "TFRegNetSELayer", "RegNetConfig", REGNET, {"hidden_state": f(B, 8, 8, 8)}, ctor="8, 2"),
    _c(RG_F, "TFRegNetYLayer", "RegNetConfig", dict(REGNET, layer_type="y"), {"hidden_state": f(B, 8, 8, 4)},
       ctor="{config}, 4, 8, stride=2"),
    # the encoder's stages: `self.stages = []`, one appended, then more by a loop
    _c(RG_F, "TFRegNetEncoder", "RegNetConfig", REGNET, {"hidden_state": f(B, 8, 8, 8), "output_hidden_states": True}),
    _c(RG_F, "TFRegNetMainLayer", "RegNetConfig", dict(REGNET, layer_type="y"),
       {"pixel_values": f(B, 3, 16, 16), "output_hidden_states": True}),
    _c(RG_F, "TFRegNetModel", "RegNetConfig", REGNET, {"pixel_values": f(B, 3, 16, 16)}),
    # ConvNeXt: its layer scale `add_weight(...) if layer_scale_init_value > 0 else None` in build(); a
    # stage's downsampling a list of a LayerNormalization and a Conv2D applied by a loop, or
    # `[tf.identity]`; its layers (channels-first in, Keras's layout out alone) applied in turn by a loop
    _c(CN_F, "TFConvNextLayer", "ConvNextConfig", CONVNEXT, {"hidden_states": f(B, 4, 4, 8)}, ctor="{config}, 8"),
    Component("convnext.TFConvNextLayer(no_scale)", CN_F, "TFConvNextLayer", "ConvNextConfig",
              dict(CONVNEXT, layer_scale_init_value=0.0), {"hidden_states": f(B, 4, 4, 8)}, ctor="{config}, 8"),
    _c(CN_F, "TFConvNextStage", "ConvNextConfig", CONVNEXT, {"hidden_states": f(B, 8, 8, 8)},
       ctor="{config}, 8, 16, depth=2"),
    Component("convnext.TFConvNextStage(identity)", CN_F, "TFConvNextStage", "ConvNextConfig", CONVNEXT,
              {"hidden_states": f(B, 4, 4, 8)}, ctor="{config}, 8, 8, stride=1, depth=2"),
    _c(CN_F, "TFConvNextMainLayer", "ConvNextConfig", CONVNEXT, {"pixel_values": f(B, 3, 16, 16), "output_hidden_states": True}),
    _c(CN_F, "TFConvNextModel", "ConvNextConfig", CONVNEXT, {"pixel_values": f(B, 3, 16, 16)}),
    _c(CN_F, "TFConvNextForImageClassification", "ConvNextConfig", dict(CONVNEXT, num_labels=3), {"pixel_values": f(B, 3, 16, 16)}),
    _c(CN2_F, "TFConvNextV2MainLayer", "ConvNextV2Config", CONVNEXT, {"pixel_values": f(B, 3, 16, 16), "output_hidden_states": True}),
]

# -- preparing and converting ----------------------------------------------------------

DRIVER_MARK = "# --- test driver, appended by tests/hf_pairs_util.py ---"


def prepare_source(text: str, components: list[tuple[int, Component]]) -> str:
    """The TF file as the converter is given it (see the module docstring, step 1)."""
    lines = [text.rstrip("\n"), "", "", DRIVER_MARK]
    configs = {}
    for n, c in components:
        key = (c.config_class, json.dumps(c.config, sort_keys=True))
        if key not in configs:
            configs[key] = f"tp_config_{len(configs)}"
            args = ", ".join(f"{k}={v!r}" for k, v in c.config.items())
            lines.append(f"{configs[key]} = {c.config_class}({args})")
        lines.append(f"tp_{n} = {c.cls}({c.ctor.format(config=configs[key])})")
    return "\n".join(lines) + "\n"


# Declared to the converter as a user would ([tool.transpiler] reexports):
REEXPORTS = {
    # the TF files import keras from modeling_tf_utils, which re-exports tf_keras (or Keras)
    "transformers.modeling_tf_utils.keras": "keras",
    # the main layers' class decorator: it registers the class for Keras's config-based
    # loading (and wraps __init__ to take a config dict), as register_keras_serializable
    # does; PyTorch has nothing to register
    "transformers.modeling_tf_utils.keras_serializable": "keras.saving.register_keras_serializable",
}


# Declared as a user would ([tool.transpiler] twins): the models' Keras base and its PyTorch
# twin, which takes the same arguments (config, *inputs, **kwargs)
TWINS = {"transformers.modeling_tf_utils.TFPreTrainedModel": "transformers.modeling_utils.PreTrainedModel"}


def convert(text: str, filename: str, project=None):
    """Converted as the file at ``filename`` (a file of the installed transformers
    package: its relative imports resolve against transformers' own packages), knowing
    ``project`` (a ProjectIndex: what the other files of the run became)."""
    from transpiler.api import convert_source

    return convert_source(text, to="torch", filename=filename, reexports=REEXPORTS, twins=TWINS, project=project)


# -- the stand-in package for converted code -----------------------------------------

# What the test writes by hand instead of the converter's output, and why: {"module.function":
# (the hand-written function, why)}. Empty since 2026-12-07: tf_utils.shape_list was, until its
# `tensor.shape == tf.TensorShape(None)` converted (TensorShape(None) -> None).
HAND_SUPPLIED: dict = {}

# Converted functions the test calls on their own: each must work without TensorFlow (where one
# is also in HAND_SUPPLIED, it is expected not to yet).
PROBED = ("tf_utils.shape_list",)

def _unpack_inputs(func):
    """PyTorch's form of ``modeling_tf_utils.unpack_inputs``, written by hand.

    The TF decorator binds a main layer's call arguments (also when Keras packs them
    into a dict in the first argument), fills ``output_attentions``,
    ``output_hidden_states``, ``return_dict`` and ``use_cache`` left None from the
    layer's config, and accepts TensorFlow and NumPy data only. transformers' PyTorch
    models do the filling at the top of ``forward``; this does the same for the
    converted ``forward``, for tensors of any kind."""
    import functools

    signature = inspect.signature(func)

    @functools.wraps(func)
    def run(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        values.pop(next(iter(signature.parameters)))
        for name, param in signature.parameters.items():
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                values.update(values.pop(name, {}))
        config = self.config
        for key in ("output_attentions", "output_hidden_states", "return_dict", "use_cache"):
            if key in values and values[key] is None:
                values[key] = getattr(config, key, None)
        return func(self, **values)

    return run


# Functions of transformers modules that the converted files import and that are not
# converted (modeling_tf_utils holds the Keras base classes: the converted files take it
# as it is): written by hand for PyTorch where the TF one refuses torch tensors, with why.
PROJECT_SUPPLIED = {
    "modeling_tf_utils.unpack_inputs": (
        _unpack_inputs,
        "the main layers' call() decorator, transformers' TF input processing (fills the output flags left None "
        "from the config); it accepts TensorFlow and NumPy data only, as a user converting the project would "
        "rewrite it for PyTorch",
    ),
}

# Activations of activations_tf.py, converted, against the originals (ACT2FN's and the
# functions behind them); tf.cast of Python numbers (math.pi, 0.044715) in most of them.
ACTIVATIONS = ("_gelu", "_gelu_new", "gelu_fast", "quick_gelu", "mish", "gelu_10", "glu", "approximate_gelu_wrap",
               "ACT2FN.gelu", "ACT2FN.gelu_new", "ACT2FN.relu", "ACT2FN.silu", "ACT2FN.tanh", "ACT2FN.sigmoid")

CONVERTED_UTILS = ("tf_utils", "activations_tf")  # transformers modules converted along with the models


class TorchPackage:
    """A package ``tp_torch_hf`` laid out like ``transformers`` for the converted files.

    Relative imports of converted files resolve to transformers' own modules
    (configurations, output classes, modeling_tf_utils for the classes that stay
    Keras), except the utilities in CONVERTED_UTILS, which are converted too.
    """

    root = "tp_torch_hf"

    def __init__(self, work: Path):
        import transformers

        self.src = Path(transformers.__file__).parent
        self.work = work
        self.reports: dict[str, str] = {}
        self._package(self.root)
        for name in CONVERTED_UTILS:
            text = (self.src / f"{name}.py").read_text(encoding="utf-8")
            result = convert(text, str(self.src / f"{name}.py"))
            self.reports[name] = [f"{name}.py:{x.line}:{x.col}: {x.api}: {x.message}" for x in result.report.findings if x.kind == "unconverted"]
            self.load(f"{self.root}.{name}", result.code, work / f"{name}.py")
        for key, (fn, _why) in PROJECT_SUPPLIED.items():
            module, attr = key.split(".")
            real = importlib.import_module(f"transformers.{module}")
            stand_in = types.ModuleType(f"{self.root}.{module}")
            stand_in.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
            setattr(stand_in, attr, fn)
            sys.modules.setdefault(f"{self.root}.{module}", stand_in)
            setattr(sys.modules[f"{self.root}.{module}"], attr, fn)
        self.converted_functions = {}
        for key in PROBED:
            module, attr = key.split(".")
            self.converted_functions[key] = getattr(sys.modules[f"{self.root}.{module}"], attr)
        for key, (fn, _why) in HAND_SUPPLIED.items():
            module, attr = key.split(".")
            setattr(sys.modules[f"{self.root}.{module}"], attr, fn)
        self.project, self.mixins = self._converted_mixins()

    def _converted_mixins(self):
        """modeling_tf_utils.py converted as in a run that converts the models with it: the
        index of its plain mixins (the loss mixins: methods only), which the models'
        conversion is given, and those classes' converted code, which stands in for the TF
        classes in the stand-in modeling_tf_utils (the rest of that module, its Keras base
        classes, is not used by the converted models)."""
        import torch

        from transpiler.project import ProjectIndex

        path = self.src / "modeling_tf_utils.py"
        result = convert(path.read_text(encoding="utf-8"), str(path))
        plain = [s for s in result.classes if s.plain]
        stand_in = sys.modules[f"{self.root}.modeling_tf_utils"]
        namespace = dict(vars(stand_in))
        namespace.update(torch=torch, nn=torch.nn, F=torch.nn.functional, sys=sys,
                         shape_list=sys.modules[f"{self.root}.tf_utils"].shape_list)
        names = {s.name for s in plain}
        tree = ast.parse(result.code)
        for node in tree.body:  # in source order: a mixin may derive from an earlier one
            if isinstance(node, ast.ClassDef) and node.name in names:
                exec(compile(ast.Module([node], []), str(self.work / "modeling_tf_utils_mixins.py"), "exec"), namespace)
                setattr(stand_in, node.name, namespace[node.name])
        return ProjectIndex(plain), sorted(names)

    def probe_converted_functions(self) -> dict[str, str]:
        """Whether each probed converted function works (one the test replaces by hand is
        expected not to, so that the hand-written one goes when the converter learns it)."""
        import torch

        probes = {
            "tf_utils.shape_list": (lambda fn: fn(torch.zeros(2, 3)), [2, 3]),
        }
        out = {}
        for key, fn in self.converted_functions.items():
            call, expected = probes[key]
            try:
                got = call(fn)
                source = textwrap.dedent(inspect.getsource(fn))
                reads = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and n.id in ("tf", "tensorflow")]
                if reads:  # it runs here only because TensorFlow is installed (its docstring may name tf.Tensor)
                    out[key] = "it still reads TensorFlow: " + source.splitlines()[reads[0].lineno - 1].strip()
                else:
                    out[key] = "ok" if got == expected else f"returns {got!r}, not {expected!r}"
            except Exception as exc:
                out[key] = f"{type(exc).__name__}: {exc}"[:300]
        return out

    def probe_converted_utils(self) -> dict[str, str]:
        """The converted utilities the components use, checked on their own: the
        activations against TensorFlow's (same input, rtol 1e-5), and
        check_embeddings_within_bounds (silent within bounds, raises outside)."""
        import numpy as np
        import tensorflow as tf
        import torch
        from transformers import activations_tf as keras_act

        torch_act = sys.modules[f"{self.root}.activations_tf"]
        x = np.random.default_rng(7).standard_normal((3, 8)).astype("float32") * 4
        out = {}
        for name in ACTIVATIONS:
            try:
                if name.startswith("ACT2FN."):
                    k_fn, t_fn = keras_act.ACT2FN[name[7:]], torch_act.ACT2FN[name[7:]]
                else:
                    k_fn, t_fn = getattr(keras_act, name), getattr(torch_act, name)
                a = np.asarray(k_fn(tf.constant(x)))
                b = t_fn(torch.from_numpy(x)).numpy()
                err = float(np.max(np.abs(a - b))) if a.shape == b.shape else None
                ok = err is not None and np.allclose(a, b, rtol=1e-5, atol=1e-6)
                out[f"activations_tf.{name}"] = "ok" if ok else f"differs: shapes {a.shape} {b.shape}, max abs {err}"
            except Exception as exc:
                out[f"activations_tf.{name}"] = f"{type(exc).__name__}: {exc}"[:300]
        check = sys.modules[f"{self.root}.tf_utils"].check_embeddings_within_bounds
        try:
            check(torch.tensor([[1, 4]]), 5)
            try:
                check(torch.tensor([[1, 5]]), 5)
                out["tf_utils.check_embeddings_within_bounds"] = "does not raise for an id out of bounds"
            except (AssertionError, RuntimeError):
                out["tf_utils.check_embeddings_within_bounds"] = "ok"
        except Exception as exc:
            out["tf_utils.check_embeddings_within_bounds"] = f"{type(exc).__name__}: {exc}"[:300]
        return out

    def _package(self, name: str) -> None:
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = []
            sys.modules[name] = pkg

    def _resolve_imports(self, name: str, code: str) -> None:
        """Make the modules a converted file imports relatively exist: transformers' own."""
        package = name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(code)):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                continue
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            if target in sys.modules:
                continue
            real = "transformers" + target[len(self.root):]
            sys.modules[target] = importlib.import_module(real)

    def load(self, name: str, code: str, path: Path) -> types.ModuleType:
        parts = name.split(".")
        for k in range(1, len(parts)):
            self._package(".".join(parts[:k]))
        path.write_text(code, encoding="utf-8")
        self._resolve_imports(name, code)
        return _exec_module(name, path)


def _exec_module(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# -- the Keras side: where each layer was made, its own weights -----------------------

_TRACK: dict = {}


def track_origins(path: Path) -> None:
    """Each tf_keras layer made in ``path`` remembers where: [(line, col), ...] from the outermost.

    The same positions as transpiler.verify.keras_record (which tracks Keras 3 layers).
    """
    import tf_keras

    from transpiler.verify.keras_record import numbered_place

    _TRACK["target"] = os.path.realpath(path)
    if "original" in _TRACK:
        return
    original = _TRACK["original"] = tf_keras.layers.Layer.__init__
    Layer = tf_keras.layers.Layer

    def parent_of(frame, layer):
        while frame is not None:
            owner = frame.f_locals.get("self")
            if owner is not layer and isinstance(owner, Layer) and frame.f_code.co_name == "__init__":
                return owner
            frame = frame.f_back
        return None

    def init(self, *args, **kwargs):
        if not hasattr(self, "_tp_origin"):
            frame = inspect.currentframe().f_back
            while frame is not None and (
                frame.f_locals.get("self") is self or os.path.realpath(frame.f_code.co_filename) != _TRACK["target"]
            ):
                frame = frame.f_back
            origin = None
            if frame is not None:
                info = inspect.getframeinfo(frame)
                pos = info.positions
                here = [pos.lineno, pos.col_offset + 1]
                parent = parent_of(frame, self)
                if parent is not None:
                    here = numbered_place(parent, here)  # (line, col, k) for its k-th layer made here
                parent_origin = getattr(parent, "_tp_origin", None) if parent is not None else None
                origin = parent_origin + [here] if parent_origin and here != parent_origin[-1] else (parent_origin or [here])
            object.__setattr__(self, "_tp_origin", origin)
        original(self, *args, **kwargs)

    Layer.__init__ = init


def own_weights(layer) -> list:
    return list(layer._trainable_weights) + list(layer._non_trainable_weights)


def weights_by_origin(layer) -> tuple[dict, dict]:
    """The layer's weights by where each sublayer was made, and the Keras class made there (which
    picks among the classes a table gives at one place: MobileBERT's NORM2FN[...](...))."""
    import numpy as np

    from transpiler.weights.transforms import origin_key

    out: dict = {}
    classes: dict = {}
    for sub in layer._flatten_layers(include_self=True, recursive=True):
        origin = getattr(sub, "_tp_origin", None)
        own = own_weights(sub)
        if origin is None or not own:
            continue
        classes[origin_key(origin)] = type(sub).__name__
        # Keras 2 names end in ":0"; the weight map has the names as the source gives them
        out.setdefault(origin_key(origin), []).extend((w.name.split(":")[0], np.asarray(w.numpy())) for w in own)
    return out, classes


# -- running one component --------------------------------------------------------------

@dataclass
class Outcome:
    id: str
    passed: bool = False
    max_rel: float | None = None
    max_abs: float | None = None
    max_rel_scaled: float | None = None  # max |keras - torch| / max |keras|, over the outputs
    stage: str = ""
    error: str = ""
    keras_params: int = 0
    torch_params: int = 0
    seconds: float = 0.0
    notes: list = field(default_factory=list)


def make_inputs(spec: dict, rng):
    import numpy as np

    out = {}
    for name, s in spec.items():
        if isinstance(s, tuple) and s[0] == "float":
            out[name] = rng.standard_normal(s[1]).astype("float32")
        elif isinstance(s, tuple) and s[0] == "int":
            out[name] = rng.integers(0, s[1], size=s[2]).astype("int64")
        elif isinstance(s, tuple) and s[0] == "keep":
            keep = rng.random(s[1]) < 0.8
            keep[..., 0] = True
            out[name] = keep.astype("float32")
        elif isinstance(s, tuple) and s[0] == "mask":
            keep = rng.random(s[1]) < 0.8
            keep[..., 0] = True
            out[name] = np.where(keep, 0.0, -10000.0).astype("float32")
        else:
            out[name] = s
    return out


def flat(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in flat(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in flat(v)]
    if hasattr(value, "to_tuple"):  # ModelOutput
        return flat(value.to_tuple())
    return [value]


def run_component(c: Component, n: int, keras_mod, torch_mod, info: dict, rtol: float, atol: float) -> Outcome:
    import numpy as np
    import tensorflow as tf
    import torch

    from transpiler.verify.compare import compare_arrays
    from transpiler.verify.torch_replay import with_aliases
    from transpiler.weights.transforms import state_dict_arrays

    out = Outcome(c.id)
    var = f"tp_{n}"
    rng = np.random.default_rng(n)
    inputs = make_inputs(c.inputs, rng)
    stage = "keras"
    try:
        layer = getattr(keras_mod, var)
        k_in = {k: tf.constant(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
        layer(**k_in, training=False)  # builds
        wrng = np.random.default_rng(1000 + n)
        for w in layer.weights:
            drawn = wrng.standard_normal(tuple(w.shape)) * 0.3
            if "moving_variance" in w.name:
                drawn = 0.5 + np.abs(drawn)  # a variance: positive
            w.assign(drawn.astype(w.dtype.as_numpy_dtype))
        k_out = [np.asarray(t) for t in flat(layer(**k_in, training=False))]
        out.keras_params = int(sum(np.prod(w.shape) for w in layer.weights))

        stage = "weight map"
        if var not in info:
            raise RuntimeError(f"the converter wrote no weight map for {var} = {c.cls}(...): the class stays Keras or is not a converted model")
        state = state_dict_arrays(info[var], *weights_by_origin(layer))

        stage = "torch"
        module = getattr(torch_mod, var)
        if not isinstance(module, torch.nn.Module):
            raise RuntimeError(f"{c.cls} is not converted to an nn.Module ({type(module).__mro__[1:3]})")
        state = with_aliases(module, state)  # a module held in two places: one tensor, several keys
        module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=True)
        module.eval()
        # Keras counts BatchNormalization's moving statistics among its weights; PyTorch keeps
        # them as buffers
        out.torch_params = int(sum(p.numel() for p in module.parameters())) + int(sum(
            b.numel() for name, b in module.named_buffers() if name.endswith(("running_mean", "running_var"))
        ))
        t_in = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
        with torch.no_grad():
            t_out = [t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t) for t in flat(module(**t_in))]
        if info[var].get("output_layout") == "cf":
            # the converted class gives its images channels-first (the converter's summary says so)
            t_out = [np.moveaxis(t, 1, -1) if t.ndim >= 3 else t for t in t_out]

        stage = "compare"
        if len(k_out) != len(t_out):
            raise RuntimeError(f"Keras gives {len(k_out)} outputs, PyTorch {len(t_out)}")
        ok = True
        out.max_rel = out.max_abs = out.max_rel_scaled = 0.0
        for j, (a, b) in enumerate(zip(k_out, t_out)):
            check = compare_arrays(f"{c.id}/out/{j}", a, b, rtol, atol)
            out.max_rel = max(out.max_rel, float(check.max_rel))
            out.max_abs = max(out.max_abs, float(check.max_abs))
            scale = float(np.max(np.abs(a))) if a.size else 0.0
            out.max_rel_scaled = max(out.max_rel_scaled, float(check.max_abs) / scale if scale else float(check.max_abs))
            if not check.passed:
                ok = False
                out.notes.append(f"output {j}: {check.detail}")
        if out.keras_params != out.torch_params:
            ok = False
            out.notes.append(f"parameter count: Keras {out.keras_params}, PyTorch {out.torch_params}")
        out.passed = ok
        out.stage = "done"
    except Exception as exc:  # the first failure is the finding
        out.stage = stage
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"{Path(fr.filename).name}:{fr.lineno}: {fr.line}" for fr in reversed(tb) if "hf_pairs_util" not in fr.filename), "")
        out.error = f"{type(exc).__name__}: {exc}"[:1500] + (f" [at {where}]" if where else "")
    return out


def run(ids: list[str] | None, work: Path, rtol: float = 1e-4, atol: float = 1e-5) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    import tensorflow as tf  # noqa: F401
    import torch
    import transformers

    torch.manual_seed(0)
    src_root = Path(transformers.__file__).parent / "models"
    chosen = [c for c in COMPONENTS if not ids or c.id in ids]
    by_file: dict[str, list[Component]] = {}
    for c in chosen:
        by_file.setdefault(c.file, []).append(c)
    package = TorchPackage(work)
    results: dict = {"transformers": transformers.__version__, "components": {}, "files": {}, "utils": package.reports,
                     "hand_supplied": {k: why for k, (_fn, why) in {**HAND_SUPPLIED, **PROJECT_SUPPLIED}.items()},
                     "converted_functions": package.probe_converted_functions(),
                     "converted_utils": package.probe_converted_utils()}
    for file, comps in by_file.items():
        started = time.time()
        stem = Path(file).stem
        family = Path(file).parent.name
        prepared = prepare_source((src_root / file).read_text(encoding="utf-8"), [(COMPONENTS.index(c), c) for c in comps])
        tf_path = work / f"{family}_{stem}_tf.py"
        tf_path.write_text(prepared, encoding="utf-8")
        result = convert(prepared, str(src_root / file), project=package.project)
        unconverted = [f"{file}:{x.line}:{x.col}: {x.api}: {x.message}" for x in result.report.findings if x.kind == "unconverted"]
        results["files"][file] = {"convert_seconds": round(time.time() - started, 2), "unconverted": unconverted}
        torch_mod = keras_mod = None
        failure = ""
        try:
            track_origins(tf_path)
            keras_mod = _exec_module(f"transformers.models.{family}._tp_{stem}", tf_path)
        except Exception as exc:
            failure = f"the TF file does not run: {type(exc).__name__}: {exc}"
        if not failure:
            try:
                torch_mod = package.load(f"{TorchPackage.root}.models.{family}.{stem}", result.code, work / f"{family}_{stem}_torch.py")
            except Exception as exc:
                tb = traceback.extract_tb(exc.__traceback__)
                where = next((f"{Path(fr.filename).name}:{fr.lineno}: {fr.line}" for fr in reversed(tb)), "")
                failure = f"the converted file does not import: {type(exc).__name__}: {exc} [at {where}]"
        for c in comps:
            n = COMPONENTS.index(c)
            t0 = time.time()
            if failure:
                o = Outcome(c.id, stage="import", error=failure)
            else:
                o = run_component(c, n, keras_mod, torch_mod, result.models, rtol, atol)
            o.seconds = round(time.time() - t0, 2)
            results["components"][c.id] = o.__dict__
    return results


def main(argv: list[str]) -> None:
    import tempfile

    out = Path(argv[0])
    with tempfile.TemporaryDirectory() as tmp:
        results = run(argv[1:] or None, Path(tmp))
    out.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])

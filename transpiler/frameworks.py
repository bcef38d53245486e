"""Which framework a dotted name belongs to, and its canonical spelling.

Rules are written against one canonical name per API: ``keras.layers.Dense``
covers ``tf.keras.layers.Dense``, ``tensorflow.keras.layers.Dense`` and Keras 2's
``keras.layers.core.Dense``; ``tensorflow.math.add`` and ``tensorflow.add`` are
listed together in the rule itself (``also = [...]``).
"""

from __future__ import annotations

TF = "tf"
TORCH = "torch"

ROOTS = {
    "tensorflow": TF,
    "keras": TF,
    "tf_keras": TF,
    "torch": TORCH,
    "torchvision": TORCH,
    "torchaudio": TORCH,
}

# direction name (folder under rules/) for a conversion *to* a framework
DIRECTION_TO = {TORCH: "tf_to_torch", TF: "torch_to_tf"}
SOURCE_OF = {TORCH: TF, TF: TORCH}
FRAMEWORK_LABEL = {TF: "TensorFlow/Keras", TORCH: "PyTorch"}

# Keras 2 kept layers in submodules; Keras 3 and tf.keras export them flat.
_KERAS_SUBMODULES = {
    "layers": {
        "core", "convolutional", "pooling", "normalization", "recurrent",
        "merge", "embeddings", "advanced_activations", "noise", "wrappers",
        "local", "recurrent_v2", "dense_attention", "preprocessing",
        "normalization_v2", "reshaping", "activation", "attention", "rnn",
        "regularization",
    },
}

_PREFIXES = (
    ("tensorflow.python.keras.", "keras."),
    ("tensorflow.keras.", "keras."),
    ("tf_keras.", "keras."),
    ("keras.src.", "keras."),
)


def framework_of(qualname: str) -> str | None:
    root = qualname.split(".", 1)[0]
    return ROOTS.get(root)


def canonical(qualname: str) -> str:
    """Map every spelling of an API to the one the rules use."""
    if qualname == "tensorflow.keras":
        return "keras"
    for prefix, repl in _PREFIXES:
        if qualname.startswith(prefix):
            qualname = repl + qualname[len(prefix):]
            break
    parts = qualname.split(".")
    if len(parts) >= 4 and parts[0] == "keras":
        subs = _KERAS_SUBMODULES.get(parts[1])
        if subs and parts[2] in subs:
            qualname = ".".join(parts[:2] + parts[3:])
    return qualname

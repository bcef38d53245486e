"""What verify changes on both sides so that training can be compared step by step.

Random numbers are not the same across frameworks: dropout masks and shuffled
batch orders would make two correct programs train differently. While verify
runs a program, dropout passes its input through unchanged and data is not
shuffled (Keras ``fit``, ``tf.data`` ``shuffle``; PyTorch ``DataLoader``). The
report says so; everything else runs as written.

It also records the loss of every training step: the value each
``tape.gradient(loss, ...)`` differentiates in TensorFlow (tf.functions run
eagerly for that, Keras's ``fit`` included) and each ``loss.backward()`` in
PyTorch. Two equivalent programs give the same sequence.
"""

from __future__ import annotations

_DONE: set[str] = set()
STEP_LOSSES: list[float] = []  # of the program running now


def _scalar(value) -> float | None:
    try:
        import numpy as np

        array = np.asarray(value)
        return float(array) if array.size == 1 else None
    except Exception:
        return None


def keras_patches() -> None:
    if "keras" in _DONE:
        return
    _DONE.add("keras")
    import keras
    import tensorflow as tf

    def no_dropout(self, inputs, training=False):
        return inputs

    for name in ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout", "AlphaDropout", "GaussianNoise"):
        cls = getattr(keras.layers, name, None)
        if cls is not None:
            cls.call = no_dropout

    fit = keras.Model.fit

    def fit_in_order(self, *args, **kwargs):
        kwargs["shuffle"] = False
        if len(args) > 8:  # shuffle given positionally
            args = (*args[:8], False, *args[9:])
        return fit(self, *args, **kwargs)

    keras.Model.fit = fit_in_order
    tf.data.Dataset.shuffle = lambda self, *args, **kwargs: self

    compile_ = keras.Model.compile

    def compile_eagerly(self, *args, **kwargs):
        kwargs["run_eagerly"] = True
        kwargs["jit_compile"] = False
        return compile_(self, *args, **kwargs)

    keras.Model.compile = compile_eagerly
    tf.config.run_functions_eagerly(True)
    gradient = tf.GradientTape.gradient

    def recording_gradient(self, target, *args, **kwargs):
        value = _scalar(target.numpy()) if hasattr(target, "numpy") else None
        if value is not None:
            STEP_LOSSES.append(value)
        return gradient(self, target, *args, **kwargs)

    tf.GradientTape.gradient = recording_gradient


def torch_patches() -> None:
    if "torch" in _DONE:
        return
    _DONE.add("torch")
    import torch
    import torch.nn.functional as F

    def identity(input, *args, **kwargs):
        return input

    for name in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"):
        if hasattr(F, name):
            setattr(F, name, identity)

    loader_init = torch.utils.data.DataLoader.__init__

    def init_in_order(self, *args, **kwargs):
        if len(args) > 2:
            args = (*args[:2], False, *args[3:])
        kwargs.pop("shuffle", None)
        if len(args) <= 2:
            kwargs["shuffle"] = False
        return loader_init(self, *args, **kwargs)

    torch.utils.data.DataLoader.__init__ = init_in_order
    backward = torch.Tensor.backward

    def recording_backward(self, *args, **kwargs):
        if self.numel() == 1:
            STEP_LOSSES.append(float(self.detach().cpu()))
        return backward(self, *args, **kwargs)

    torch.Tensor.backward = recording_backward

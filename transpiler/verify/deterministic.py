"""What verify changes on both sides so that training can be compared step by step.

Random numbers are not the same across frameworks: dropout masks and shuffled
batch orders would make two correct programs train differently. While verify
runs a program, dropout passes its input through unchanged and data is not
shuffled (Keras ``fit``, ``tf.data`` ``shuffle``, ``tf.random.shuffle``,
``keras.random.shuffle``; PyTorch ``DataLoader``, ``torch.randperm`` gives
0..n-1). The random tensors the program itself draws (``torch.rand``/``randn``/
``randint``/``normal``/``trunc_normal_``, ``tf.random.uniform``/``normal``/
``truncated_normal``, ``keras.random``'s, Bernoulli samples of
``tf.compat.v1.distributions`` and ``torch.distributions``) come from one seeded NumPy stream in
call order, so a program that makes synthetic data gets the same data as its
conversion; seeding the framework (``torch.manual_seed``,
``tf.random.set_seed``, ``keras.utils.set_random_seed``) restarts that stream
from the seed. ``torch.empty`` gives zeros. A framework's own draws (weight
initialisers) are left alone: verify sets the weights itself. Everything else
runs as written.

It also records the loss of every training step: the value each
``tape.gradient(loss, ...)`` differentiates in TensorFlow (tf.functions run
eagerly for that, Keras's ``fit`` included) and each ``loss.backward()`` in
PyTorch. Two equivalent programs give the same sequence.
"""

from __future__ import annotations

import contextlib
import sys

_DONE: set[str] = set()
STEP_LOSSES: list[float] = []  # of the program running now
RANDOM: dict = {"rng": None}  # the generator the program's random tensors come from
SEED = 20240601


def reset() -> None:
    """Before each program: no losses yet, the random stream from its start."""
    import numpy as np

    STEP_LOSSES.clear()
    RANDOM["rng"] = np.random.default_rng(SEED)


def _reseed(seed) -> None:
    """The program seeds its framework: the shared stream restarts from that seed too."""
    import numpy as np

    try:
        RANDOM["rng"] = np.random.default_rng(int(seed) % 2**32)
    except (TypeError, ValueError):
        pass


def _from_program(depth: int = 2) -> bool:
    """Whether the caller (``depth`` frames up) is the program, not a framework's own code
    (weight initialisers, data shuffling): only the program's draws are shared."""
    if RANDOM["rng"] is None:
        return False
    name = sys._getframe(depth).f_globals.get("__name__", "") or ""
    return not name.startswith(("torch", "tensorflow", "keras", "tf_keras", "numpy"))


def _shared(original, make, applies):
    """The framework function ``original`` with the draws the program itself makes (and
    ``applies(kwargs)`` allows) taken from the shared stream by ``make``."""

    def draw(*args, **kwargs):
        if not _from_program() or not applies(kwargs):
            return original(*args, **kwargs)
        try:
            return make(*args, **kwargs)
        except (TypeError, ValueError):
            return original(*args, **kwargs)

    draw.__wrapped__ = original
    return draw


def _shape(value) -> tuple[int, ...]:
    import numpy as np

    if hasattr(value, "as_list"):
        value = value.as_list()
    return tuple(int(d) for d in np.asarray(value).reshape(-1)) if not isinstance(value, int) else (value,)


def _uniform(shape, low=0.0, high=1.0):
    return RANDOM["rng"].random(shape) * (high - low) + low


def _normal(shape, mean=0.0, std=1.0):
    return RANDOM["rng"].standard_normal(shape) * std + mean


def _integers(shape, low, high):
    return RANDOM["rng"].integers(int(low), int(high), size=shape)


def _truncated(shape, mean=0.0, std=1.0, low=-2.0, high=2.0):
    """Normal values redrawn (from the same stream) until within [low, high] standard deviations."""
    z = RANDOM["rng"].standard_normal(shape)
    for _ in range(1000):
        bad = (z < low) | (z > high)
        if not bad.any():
            break
        z[bad] = RANDOM["rng"].standard_normal(int(bad.sum()))
    return z * std + mean


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
    _keras_random()


def _keras_random() -> None:
    """tf.random.uniform/normal/truncated_normal and keras.random's, called by the program
    in eager mode, draw from the shared stream (the PyTorch side's torch.rand/randn/randint/
    normal/trunc_normal_ draw the same numbers in the same order); shuffles are the identity."""
    import keras
    import tensorflow as tf

    def is_float(dtype) -> bool:
        return dtype is None or tf.as_dtype(dtype).is_floating

    def shared(original, make):  # traced code (tf.function) keeps TensorFlow's own draws
        return _shared(original, make, lambda kwargs: tf.executing_eagerly())

    def uniform(shape, minval=0, maxval=None, dtype=tf.float32, seed=None, name=None):
        if is_float(dtype):
            return tf.constant(_uniform(_shape(shape), float(minval), 1.0 if maxval is None else float(maxval)), dtype=dtype or tf.float32)
        if maxval is None:
            raise ValueError("integer uniform needs maxval")
        return tf.constant(_integers(_shape(shape), minval, maxval), dtype=dtype)

    def normal(shape, mean=0.0, stddev=1.0, dtype=tf.float32, seed=None, name=None):
        return tf.constant(_normal(_shape(shape), float(mean), float(stddev)), dtype=dtype or tf.float32)

    def shuffle(value, seed=None, name=None):  # no shuffling: the identity, like torch.randperm's
        return tf.identity(value)

    def truncated(shape, mean=0.0, stddev=1.0, dtype=tf.float32, seed=None, name=None):
        return tf.constant(_truncated(_shape(shape), float(mean), float(stddev)), dtype=dtype or tf.float32)

    def k_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return tf.constant(_uniform(_shape(shape), float(minval), float(maxval)), dtype=dtype or keras.config.floatx())

    def k_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return tf.constant(_normal(_shape(shape), float(mean), float(stddev)), dtype=dtype or keras.config.floatx())

    def k_randint(shape, minval, maxval, dtype="int32", seed=None):
        return tf.constant(_integers(_shape(shape), minval, maxval), dtype=dtype)

    def k_shuffle(x, axis=0, seed=None):
        return tf.identity(x)

    def k_truncated(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return tf.constant(_truncated(_shape(shape), float(mean), float(stddev)), dtype=dtype or keras.config.floatx())

    for module, name, make in (
        (tf.random, "uniform", uniform), (tf.random, "normal", normal), (tf.random, "shuffle", shuffle),
        (tf.random, "truncated_normal", truncated),
        (keras.random, "uniform", k_uniform), (keras.random, "normal", k_normal), (keras.random, "randint", k_randint),
        (keras.random, "shuffle", k_shuffle), (keras.random, "truncated_normal", k_truncated),
    ):
        setattr(module, name, shared(getattr(module, name), make))

    try:  # tf.compat.v1.distributions.Bernoulli(...).sample(shape): uniform draws below probs
        bernoulli = tf.compat.v1.distributions.Bernoulli
    except AttributeError:
        bernoulli = None
    if bernoulli is not None:
        def coin_flips(self, sample_shape=(), seed=None, name="sample"):
            shape = _shape(sample_shape) + tuple(self.batch_shape.as_list())
            return tf.constant(_uniform(shape) < self.probs.numpy(), dtype=self.dtype)

        bernoulli.sample = shared(bernoulli.sample, coin_flips)

    for module, name in ((tf.random, "set_seed"), (keras.utils, "set_random_seed")):
        original = getattr(module, name)

        def seeding(seed, *args, _original=original, **kwargs):
            if _from_program():
                _reseed(seed)
            return _original(seed, *args, **kwargs)

        setattr(module, name, seeding)


@contextlib.contextmanager
def torch_device(torch, device: str):
    """The program's PyTorch code runs on ``device``: on cuda new tensors go there; on the
    CPU the program's own ``torch.device("cuda" if torch.cuda.is_available() ...)`` answers
    the CPU too (a converted Keras program moves its model with that test)."""
    cuda_available = torch.cuda.is_available
    if device != "cpu":
        torch.set_default_device(device)
    else:
        torch.cuda.is_available = lambda: False
    try:
        yield
    finally:
        torch.cuda.is_available = cuda_available
        if device != "cpu":
            torch.set_default_device("cpu")


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
    _torch_random()


def _torch_random() -> None:
    """torch.rand/randn/randint/rand_like/randn_like/normal, nn.init.trunc_normal_ and
    in-place uniform_/normal_ on plain tensors, called by the program, draw from the shared
    stream; randperm is the identity permutation and torch.empty gives zeros."""
    import numpy as np
    import torch

    def size_of(args, kwargs):
        if "size" in kwargs:
            return _shape(tuple(kwargs.pop("size")))
        if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)):
            return _shape(tuple(args[0]))
        return _shape(tuple(int(a) for a in args))

    def tensor(value, kwargs, default):
        dtype = kwargs.get("dtype") or default
        out = torch.from_numpy(np.asarray(value)).to(dtype=dtype, device=kwargs.get("device") or torch.get_default_device())
        if kwargs.get("requires_grad"):
            out.requires_grad_(True)
        return out

    def shared(original, make):  # a draw into an out= tensor keeps PyTorch's own
        return _shared(original, make, lambda kwargs: kwargs.get("out") is None)

    def rand(*args, **kwargs):
        return tensor(_uniform(size_of(args, kwargs)), kwargs, torch.get_default_dtype())

    def randn(*args, **kwargs):
        return tensor(_normal(size_of(args, kwargs)), kwargs, torch.get_default_dtype())

    def randint(*args, **kwargs):
        args = list(args)
        size = kwargs.pop("size", None)
        if size is None and args and isinstance(args[-1], (tuple, list, torch.Size)):
            size = args.pop()
        if size is None:
            raise TypeError("randint without a size")
        high = kwargs.pop("high", None)
        if high is None:
            high = args.pop()
        low = kwargs.pop("low", args.pop() if args else 0)
        return tensor(_integers(_shape(tuple(size)), low, high), kwargs, torch.int64)

    def randperm(n, **kwargs):  # no shuffling: the identity permutation, like tf.random.shuffle's
        return tensor(np.arange(int(n)), kwargs, torch.int64)

    def empty(*args, **kwargs):  # uninitialised memory differs from run to run: zeros
        return tensor(np.zeros(size_of(args, kwargs)), kwargs, torch.get_default_dtype())

    def empty_like(input, **kwargs):
        kwargs.setdefault("dtype", input.dtype)
        kwargs.setdefault("device", input.device)
        return tensor(np.zeros(tuple(input.shape)), kwargs, input.dtype)

    def like(fill):
        def make(input, **kwargs):
            kwargs.setdefault("dtype", input.dtype)
            kwargs.setdefault("device", input.device)
            return tensor(fill(tuple(input.shape)), kwargs, input.dtype)

        return make

    def normal(mean, std=1.0, size=None, **kwargs):
        if size is None or isinstance(mean, torch.Tensor) or isinstance(std, torch.Tensor):
            raise TypeError("only normal(mean, std, size)")
        return tensor(_normal(_shape(tuple(size)), float(mean), float(std)), kwargs, torch.get_default_dtype())

    for name, make in (
        ("rand", rand), ("randn", randn), ("randint", randint), ("randperm", randperm),
        ("rand_like", like(_uniform)), ("randn_like", like(_normal)), ("normal", normal),
        ("empty", empty), ("empty_like", empty_like),
    ):
        setattr(torch, name, shared(getattr(torch, name), make))

    bernoulli = torch.distributions.Bernoulli

    def coin_flips(self, sample_shape=torch.Size()):  # as the Keras side's: uniform draws below probs
        shape = tuple(self._extended_shape(torch.Size(sample_shape)))
        below = _uniform(shape) < self.probs.detach().cpu().numpy()
        return torch.from_numpy(below).to(dtype=self.probs.dtype, device=self.probs.device)

    bernoulli.sample = shared(bernoulli.sample, coin_flips)
    trunc_normal = torch.nn.init.trunc_normal_

    def truncated(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
        if isinstance(tensor, torch.nn.Parameter) or not _from_program():
            return trunc_normal(tensor, mean, std, a, b, generator=generator)
        values = _truncated(tuple(tensor.shape), float(mean), float(std), (a - mean) / std, (b - mean) / std)
        with torch.no_grad():
            return tensor.copy_(torch.from_numpy(values))

    torch.nn.init.trunc_normal_ = truncated

    def in_place(original, fill):
        def draw(self, *args, **kwargs):
            if isinstance(self, torch.nn.Parameter) or not _from_program():
                return original(self, *args, **kwargs)
            with torch.no_grad():
                values = fill(tuple(self.shape), *args, **{k: v for k, v in kwargs.items() if k != "generator"})
                return self.copy_(torch.from_numpy(np.asarray(values)))

        return draw

    torch.Tensor.uniform_ = in_place(torch.Tensor.uniform_, lambda shape, low=0.0, high=1.0: _uniform(shape, float(low), float(high)))
    torch.Tensor.normal_ = in_place(torch.Tensor.normal_, lambda shape, mean=0.0, std=1.0: _normal(shape, float(mean), float(std)))
    manual_seed = torch.manual_seed

    def seeding(seed):
        if _from_program():
            _reseed(seed)
        return manual_seed(seed)

    torch.manual_seed = seeding

"""PyTorch state_dict arrays -> the weights of the converted Keras model (NumPy only).

The converter writes, for every model it converts from PyTorch
(``ConversionResult.models[name]["weights"]``), one entry per Keras weight::

    {"layer": "features.0.1",        # where the Keras layer is, from the model
     "weight": "kernel",             # the weight, from that layer (cell.kernel, ...)
     "torch": ["features.0.weight"], # the state_dict entries it is made of
     "transform": "conv", "args": {}}

``layer`` is a dotted path from the model: attribute names, then integer
indices into a ``keras.Sequential`` (its ``layers``) or a list, or keys of a dict.
PyTorch module paths use the same names, because the converted classes keep
their attribute names and their containers' order; a PyTorch module that
becomes several Keras layers (``nn.Conv2d(padding=2)`` -> ``ZeroPadding2D`` +
``Conv2D`` in a ``keras.Sequential``) adds one more index.

:func:`keras_arrays` turns a state_dict (name -> array) into
``{(layer, weight): array}``; :func:`assign` puts them into a built Keras model
(it needs Keras, but only to read attributes and call ``assign``).
"""

from __future__ import annotations

import numpy as np


def copy(arrays, **_):
    return arrays[0]


def linear(arrays, **_):
    """nn.Linear.weight (out, in) -> Dense.kernel (in, out)."""
    return arrays[0].T


def conv(arrays, **_):
    """Conv weights (out, in/groups, *kernel) -> Keras (*kernel, in/groups, out).

    ConvTranspose weights (in, out/groups, *kernel) -> Keras (*kernel, out, in):
    the same permutation.
    """
    a = arrays[0]
    n = a.ndim - 2
    return np.transpose(a, (*range(2, n + 2), 1, 0))


def rnn_kernel(arrays, gates="", **_):
    """weight_ih / weight_hh (gates*units, in) -> kernel (in, gates*units), gates reordered."""
    return _reorder(arrays[0], gates).T


def rnn_bias(arrays, gates="", **_):
    """LSTM / SimpleRNN: Keras has one bias, PyTorch two that are added."""
    return _reorder(arrays[0] + arrays[1], gates)


def gru_bias(arrays, gates="", **_):
    """GRU (reset_after=True): Keras's bias is (2, 3 * units): input and recurrent biases."""
    return np.stack([_reorder(arrays[0], gates), _reorder(arrays[1], gates)])


# PyTorch's GRU gates are (reset, update, new); Keras's (update, reset, candidate)
GRU_ORDER = (1, 0, 2)


def _reorder(a, gates: str):
    if gates != "gru":
        return a
    units = a.shape[0] // 3
    blocks = [a[i * units:(i + 1) * units] for i in range(3)]
    return np.concatenate([blocks[i] for i in GRU_ORDER], axis=0)


def mha_in(arrays, part=0, heads=None, **_):
    """in_proj_weight (3E, E) -> the query/key/value kernel (E, heads, E // heads).

    Without ``heads`` (not known when converting) the kernel stays (E, E); assign()
    gives it the Keras variable's shape.
    """
    w = arrays[0]
    embed = w.shape[1]
    block = w[part * embed:(part + 1) * embed].T
    return block if heads is None else block.reshape(embed, heads, embed // heads)


def mha_in_bias(arrays, part=0, heads=None, **_):
    b = arrays[0]
    embed = b.shape[0] // 3
    block = b[part * embed:(part + 1) * embed]
    return block if heads is None else block.reshape(heads, embed // heads)


def mha_out(arrays, heads=None, **_):
    """out_proj.weight (E, E) -> the output kernel (heads, E // heads, E)."""
    w = arrays[0].T
    embed = w.shape[1]
    return w if heads is None else w.reshape(heads, embed // heads, embed)


TRANSFORMS = {
    "copy": copy, "linear": linear, "conv": conv, "rnn_kernel": rnn_kernel, "rnn_bias": rnn_bias,
    "gru_bias": gru_bias, "mha_in": mha_in, "mha_in_bias": mha_in_bias, "mha_out": mha_out,
}

# state_dict entries that have no Keras weight (PyTorch's BatchNorm step counter)
IGNORED_SUFFIXES = ("num_batches_tracked",)


def keras_arrays(info: dict, state: dict[str, np.ndarray], reshape: set | None = None) -> dict[tuple[str, str], np.ndarray]:
    """The Keras weights of one converted model, from a PyTorch state_dict.

    Raises KeyError naming what is missing, and ValueError when state_dict
    entries are left over (a weight the map does not place). Entries whose
    ``args`` say ``reshape`` are added to ``reshape``: their arrays take the shape
    of the Keras variable.
    """
    out: dict[tuple[str, str], np.ndarray] = {}
    used: set[str] = set()
    for entry in expand(info["weights"], state):
        args = dict(entry.get("args") or {})
        # a weight whose existence is decided at run time (nn.Linear(..., bias=bias))
        optional = args.pop("optional", False)
        if optional and any(name not in state for name in entry["torch"]):
            continue
        try:
            arrays = [np.asarray(state[name]) for name in entry["torch"]]
        except KeyError as exc:
            raise KeyError(f"the PyTorch state_dict has no {exc.args[0]!r} (needed for {entry['layer'] or 'the model'}.{entry['weight']})") from None
        used.update(entry["torch"])
        if args.pop("reshape", False) and reshape is not None:
            reshape.add((entry["layer"], entry["weight"]))
        out[(entry["layer"], entry["weight"])] = TRANSFORMS[entry["transform"]](arrays, **args)
    left = sorted(k for k in state if k not in used and not k.endswith(IGNORED_SUFFIXES))
    if left:
        raise ValueError(f"state_dict entries the weight map does not place: {left}")
    return out


def expand(entries: list[dict], state) -> list[dict]:
    """Entries of a list comprehension's layers name their index "*": one entry per index found."""
    import re

    out = []
    for entry in entries:
        if not any("*" in name for name in entry["torch"]):
            out.append(entry)
            continue
        pattern = re.compile(re.escape(entry["torch"][0]).replace(r"\*", r"(\d+)") + "$")
        indices = sorted({m.group(1) for key in state for m in [pattern.match(key)] if m}, key=int)
        for index in indices:
            out.append(dict(entry, layer=entry["layer"].replace("*", index), torch=[t.replace("*", index) for t in entry["torch"]]))
    return out


def find_layer(model, path: str):
    """The object at a dotted layer path: attributes, Sequential/list indices, dict keys."""
    node = model
    if not path:
        return node
    for part in path.split("."):
        if isinstance(node, dict) or type(node).__name__ in ("TrackedDict", "_DictWrapper", "DictWrapper"):
            node = node[part]
        elif part.lstrip("-").isdigit() and not hasattr(node, part):
            items = node.layers if hasattr(node, "layers") and not isinstance(node, (list, tuple)) else node
            node = items[int(part)]
        else:
            node = getattr(node, part)
    return node


def find_weight(model, layer: str, weight: str):
    node = find_layer(model, layer)
    for part in weight.split("."):
        node = getattr(node, part)
    return node


def assign(model, info: dict, state: dict[str, np.ndarray]) -> list[str]:
    """Set a built Keras model's weights from a PyTorch state_dict; returns problems found.

    Every Keras weight of the model must be set: one the map does not reach is a problem.
    """
    problems = []
    reshape: set = set()
    arrays = keras_arrays(info, state, reshape)
    assigned = set()
    for (layer, weight), value in arrays.items():
        try:
            variable = find_weight(model, layer, weight)
        except (AttributeError, KeyError, IndexError, TypeError) as exc:
            problems.append(f"{layer or 'model'}.{weight}: not found in the Keras model ({type(exc).__name__}: {exc})")
            continue
        if (layer, weight) in reshape and int(np.prod(variable.shape)) == value.size:
            value = value.reshape(tuple(variable.shape))  # attention kernels when the head count was not known
        if tuple(variable.shape) != tuple(value.shape):
            problems.append(f"{layer or 'model'}.{weight}: Keras wants {tuple(variable.shape)}, the state_dict gives {value.shape}")
            continue
        variable.assign(value.astype(_dtype_of(variable)))
        assigned.add(id(variable))
    unmapped = set(info.get("unmapped", ()))
    for variable in model.weights:
        if id(variable) not in assigned and variable.name not in unmapped:
            problems.append(f"Keras weight {variable.path} is not set by the weight map")
    return problems


def _dtype_of(variable) -> str:
    dtype = getattr(variable, "dtype", "float32")
    return dtype if isinstance(dtype, str) else getattr(dtype, "name", "float32")

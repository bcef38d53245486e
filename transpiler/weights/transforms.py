"""Keras weight arrays -> PyTorch parameter arrays, one named transform per layout change."""

from __future__ import annotations

import numpy as np


def copy(a, **_):
    return a


def transpose(a, **_):
    return a.T


def conv(a, **_):
    """Keras kernels are (*kernel, in, out); PyTorch's are (out, in, *kernel)."""
    n = a.ndim - 2
    return np.transpose(a, (n + 1, n, *range(n)))


def conv_transpose(a, **_):
    """Keras transposed kernels are (*kernel, out, in); PyTorch's are (in, out, *kernel)."""
    n = a.ndim - 2
    return np.transpose(a, (n + 1, n, *range(n)))


def depthwise(a, **_):
    """(*kernel, in, multiplier) -> (in * multiplier, 1, *kernel), channel i*m + j."""
    *kernel, cin, mult = a.shape
    n = len(kernel)
    return a.reshape(*kernel, 1, cin * mult).transpose(n + 1, n, *range(n))


def flatten_rows(a, shape, **_):
    """A Dense kernel after a channels-last Flatten, for a channels-first Flatten.

    Keras flattens (*spatial, C); PyTorch flattens (C, *spatial). Reorder the
    kernel's rows accordingly, then transpose to (out, in).
    """
    out = a.shape[1]
    k = a.reshape(*shape, out)
    k = np.moveaxis(k, len(shape) - 1, 0)
    return k.reshape(-1, out).T


def _gates(a, order, units):
    blocks = [a[..., i * units:(i + 1) * units] for i in range(len(order))]
    return np.concatenate([blocks[i] for i in order], axis=-1)


def rnn(a, part, **_):
    """SimpleRNN/LSTM: kernels transposed; the one Keras bias goes to bias_ih."""
    if part == "bias":
        return a
    return a.T


GRU_ORDER = [1, 0, 2]  # Keras z, r, h -> PyTorch r, z, n


def gru(a, part, **_):
    if part == "bias":
        units = a.shape[-1] // 3
        return _gates(a, GRU_ORDER, units)  # shape (2, 3u): input and recurrent biases
    units = a.shape[1] // 3
    return _gates(a, GRU_ORDER, units).T


# parameters PyTorch has and Keras does not (the second bias of an LSTM), filled with
# zeros; the last state_dict_arrays() call's are listed here
SYNTHETIC: set[str] = set()

TRANSFORMS = {
    "copy": copy, "transpose": transpose, "conv": conv, "conv_transpose": conv_transpose,
    "depthwise": depthwise, "flatten_rows": flatten_rows, "rnn": rnn, "gru": gru,
}


def layer_state(entry: dict, keras_weights: list[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """state_dict entries for one Keras layer, from its (name, array) weights in order."""
    out: dict[str, np.ndarray] = {}
    weights = [(name.rsplit("/", 1)[-1], np.asarray(value)) for name, value in keras_weights]
    if any(w["transform"] == "mha" for w in entry["weights"]):
        return _mha(entry, weights)
    used = [False] * len(weights)
    for w in entry["weights"]:
        keys = w["keras"].rsplit("/", 1)[-1].split("|")  # Keras 2 and 3 names may differ
        for i, (name, value) in enumerate(weights):
            if not used[i] and name in keys:
                used[i] = True
                break
        else:
            if (w.get("args") or {}).get("optional"):
                continue  # a bias the source switches at run time, off in this Keras layer
            raise KeyError(f"{entry['keras_class']}: no Keras weight named {keys[0]!r} left (has {[n for n, _ in weights]})")
        args = w.get("args") or {}
        prefix = f"{w['module']}." if w["module"] != "" else ""
        if w["transform"] in ("rnn", "gru") and args.get("part") == "bias":
            if w["transform"] == "gru":
                both = gru(value, "bias")
                out[prefix + w["torch"]] = both[0]
                out[prefix + args["hh"]] = both[1]
            else:
                out[prefix + w["torch"]] = value
                out[prefix + args["hh"]] = np.zeros_like(value)
                SYNTHETIC.add(prefix + args["hh"])
            continue
        out[prefix + w["torch"]] = TRANSFORMS[w["transform"]](value, **args)
    return out


def _mha(entry, weights):
    spec = next(w for w in entry["weights"] if w["transform"] == "mha")
    prefix = f"{spec['module']}." if spec["module"] != "" else ""
    bias = spec["args"].get("bias", True)
    arrays = [v for _, v in weights]
    step = 2 if bias else 1
    q, k, v, o = (arrays[i * step: (i + 1) * step] for i in range(4))
    embed = q[0].shape[0]

    def proj(kernel):
        return kernel.reshape(embed, -1).T

    out = {prefix + "in_proj_weight": np.concatenate([proj(q[0]), proj(k[0]), proj(v[0])], axis=0)}
    out[prefix + "out_proj.weight"] = o[0].reshape(-1, embed).T
    if bias:
        out[prefix + "in_proj_bias"] = np.concatenate([q[1].reshape(-1), k[1].reshape(-1), v[1].reshape(-1)])
        out[prefix + "out_proj.bias"] = o[1]
    return out


def state_dict_arrays(info: dict, weights_by_origin: dict, class_by_origin: dict | None = None) -> dict[str, np.ndarray]:
    """All parameters of a converted model from its Keras layers' weights.

    ``weights_by_origin`` maps the (line, column) where the source created a Keras
    layer to that layer's weights, [(name, array)] in Keras's order; the weight map
    of each converted layer carries the same position. ``class_by_origin`` (the Keras
    class made there) picks among optional entries that share a position: the classes
    a table gives (``NORMS[kind](...)``) are made by one call.
    """
    state: dict[str, np.ndarray] = {}
    SYNTHETIC.clear()
    entries = [e for layer in info["layers"] for e in _expand(layer, weights_by_origin)]
    classes_at: dict = {}
    for entry in entries:
        if entry.get("optional"):
            classes_at.setdefault(origin_key(entry["origin"]), set()).add(entry["keras_class"])
    for entry in entries:
        if not entry["weights"]:
            continue
        if "after" in entry:
            entry = _placed(entry, weights_by_origin)
        origin = origin_key(entry["origin"])
        if origin not in weights_by_origin and entry.get("optional"):
            continue  # made under a condition that did not hold in the Keras model
        made = (class_by_origin or {}).get(origin)
        if entry.get("optional") and made in classes_at.get(origin, ()) and made != entry["keras_class"]:
            continue  # another class of the table was made there
        if origin not in weights_by_origin:
            where = " in ".join(f"line {o[0]}, column {o[1]}" for o in reversed(entry["origin"]))
            raise KeyError(f"{entry['keras_class']} created at {where}: the Keras model has no such layer with weights")
        weights = weights_by_origin[origin]
        if "chunk" in entry:  # the k-th of n layers made at one place, their weights in one list
            k, n = entry["chunk"]
            size = len(weights) // n
            weights = weights[k * size:(k + 1) * size]
        state.update(layer_state(entry, weights))
    return state


def _placed(entry: dict, weights_by_origin: dict) -> dict:
    """An element of a list appended one by one after elements made under a condition (T5's
    feed-forward layer after its cross-attention, in decoders only): its index ("#" in its
    paths) is the elements made in any case before it, plus those others the Keras model has
    (a layer with weights at or under their origin)."""
    have = list(weights_by_origin)
    index = entry["after"]["base"] + sum(
        any(k[:len(key)] == key for k in have) for key in (origin_key(o) for o in entry["after"]["origins"])
    )

    def fill(path: str) -> str:
        return ".".join(str(index) if part == "#" else part for part in path.split("."))

    return {
        **entry, "modules": [fill(m) for m in entry["modules"]],
        "weights": [{**w, "module": fill(w["module"])} for w in entry["weights"]],
    }


def origin_key(origin) -> tuple:
    """Where a layer was created: ((line, col), ...) from the outermost layer being built down.

    A third entry tells apart the layers one parent makes at the same place (the
    elements of ``[Block(...) for i in range(n)]``): (line, col, k) for the k-th,
    k > 0 (the first is (line, col)); ``"*"`` in a weight map stands for any k."""
    if origin and isinstance(origin[0], int):
        return ((origin[0], origin[1]),)
    return tuple((o[0], o[1]) if len(o) < 3 or o[2] == 0 else (o[0], o[1], o[2]) for o in origin)


def _expand(entry: dict, weights_by_origin: dict) -> list[dict]:
    """A weight-map entry for the elements of lists (``"*"`` in its origin and module
    paths): one entry per element the Keras model has, its index in place of each ``*``."""
    pattern = [list(o) for o in entry["origin"]] if entry["origin"] and not isinstance(entry["origin"][0], int) else None
    if not pattern or not any(len(o) > 2 and o[2] == "*" for o in pattern):
        return [entry]
    found = set()
    for key in weights_by_origin:
        if len(key) != len(pattern):
            continue
        index = []
        for have, want in zip(key, pattern):
            if tuple(have[:2]) != tuple(want[:2]):
                break
            k = have[2] if len(have) > 2 else 0
            if len(want) > 2 and want[2] == "*":
                index.append(k)
            elif k != (want[2] if len(want) > 2 else 0):
                break
        else:
            found.add(tuple(index))

    def fill(path: str, index: tuple) -> str:
        # "*+n": the k-th element one call makes after n others of its list is at n + k
        parts, it = path.split("."), iter(index)
        return ".".join(
            str(next(it)) if p == "*" else str(next(it) + int(p[2:])) if p.startswith("*+") else p for p in parts
        )

    def filled(origin: list, origin_index: tuple) -> list:
        it = iter(origin_index)
        return [[o[0], o[1], next(it)] if len(o) > 2 and o[2] == "*" else o for o in origin]

    def made(index: tuple, origin_index: tuple, **extra) -> dict:
        origin = filled(pattern, origin_index)
        if "after" in entry:  # the elements before it in its list sit in the same parents
            extra["after"] = {**entry["after"], "origins": [filled(o, origin_index) for o in entry["after"]["origins"]]}
        return {
            **entry, "origin": origin, **extra,
            "modules": [fill(m, index) for m in entry["modules"]],
            "weights": [{**w, "module": fill(w["module"], index)} for w in entry["weights"]],
        }

    wildcards = sum(len(o) > 2 and o[2] == "*" for o in pattern)
    if found == {(0,) * wildcards} and wildcards == 1 and entry["weights"] and not any(
        w["transform"] == "mha" for w in entry["weights"]
    ):
        # a Keras side that does not tell the elements apart (every element's weights under
        # one place, in the elements' order): the k-th element takes the k-th share
        key = next(k for k in weights_by_origin if len(k) == len(pattern) and all(
            tuple(h[:2]) == tuple(w[:2]) for h, w in zip(k, pattern)))
        total, per = len(weights_by_origin[key]), len(entry["weights"])
        if total > per and total % per == 0:
            return [made((k,), (0,), chunk=[k, total // per]) for k in range(total // per)]
    return [made(index, index) for index in sorted(found)]

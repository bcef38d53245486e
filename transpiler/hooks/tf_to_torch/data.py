"""tf.data pipelines -> TensorDataset + DataLoader; Keras datasets and saving.

A pipeline is one expression: ``from_tensor_slices(...)`` and the steps after
it (``.shuffle(n).batch(32).prefetch(1)``). It is converted as a whole: the
slices become a ``TensorDataset`` (a single array: the tensor itself, so that
iterating yields tensors, not 1-tuples, as tf.data does), ``batch`` /
``shuffle`` become the DataLoader's ``batch_size`` / ``shuffle`` /
``drop_last``, ``prefetch`` and ``cache`` have nothing to do. Steps with no
DataLoader argument (``map``, ``repeat``, ``take``, shuffling after batching)
leave the pipeline as it is, reported.
"""

from __future__ import annotations

import libcst as cst

from ...engine.calls import Deferred, Unconvertible, literal_value
from ...engine.query import framework_calls
from ...engine.walk import source_children
from .._util import Args, numpy_name

_STEPS = {"shuffle", "batch", "prefetch", "cache", "repeat", "map", "take", "unbatch", "filter", "skip"}


def analyze(ctx) -> None:
    if "from_tensor_slices" not in ctx.scan.source:
        return
    plans = ctx.facts.setdefault("data_plans", {})
    for fc in framework_calls(ctx):
        if fc.api != "tensorflow.data.Dataset.from_tensor_slices":
            continue
        steps = []
        outer = fc.call
        stack = list(fc.stack[:-1])  # ancestors of the call
        while (
            len(stack) >= 2 and isinstance(stack[-1], cst.Attribute) and stack[-1].value is outer
            and isinstance(stack[-2], cst.Call) and stack[-2].func is stack[-1] and stack[-1].attr.value in _STEPS
        ):
            outer = stack[-2]
            steps.append((stack[-1].attr.value, outer))
            stack = stack[:-2]
        plan = {"source": fc.call, "steps": steps, "outer": outer}
        try:
            plan["options"] = _options(steps)
        except Unconvertible as exc:
            plan["problem"] = str(exc)
        plans[id(outer)] = plan
        for name, call in steps:
            ctx.owned.add(id(call))
            if name in ("prefetch", "cache"):  # dropped with its arguments (tf.data.AUTOTUNE)
                _own_all(ctx, call.args)
        if steps:
            ctx.owned.add(id(fc.call))


def _own_all(ctx, nodes) -> None:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        ctx.owned.add(id(node))
        stack.extend(source_children(node))


def _arg(call: cst.Call, index: int, name: str):
    for i, arg in enumerate(call.args):
        if (arg.keyword is None and i == index) or (arg.keyword is not None and arg.keyword.value == name):
            return arg.value
    return None


def _options(steps) -> dict:
    options: dict = {}
    batched = False
    for name, call in steps:
        if name == "shuffle":
            if batched:
                raise Unconvertible("shuffle() after batch() shuffles whole batches: no DataLoader argument does that")
            options["shuffle"] = True
        elif name == "batch":
            if batched:
                raise Unconvertible("batch() twice")
            batched = True
            size = _arg(call, 0, "batch_size")
            if size is None:
                raise Unconvertible("batch() without a batch size")
            options["batch_size"] = size
            drop = _arg(call, 1, "drop_remainder")
            if drop is not None:
                ok, value = literal_value(drop)
                if not ok:
                    raise Unconvertible("batch(drop_remainder=...) must be True or False literally")
                if value:
                    options["drop_last"] = True
            for arg in call.args[2:]:
                raise Unconvertible("batch(): only batch_size and drop_remainder have a DataLoader equivalent")
        elif name in ("prefetch", "cache"):
            continue  # nothing to do: a DataLoader reads batches as they are asked for
        elif name == "repeat":
            raise Unconvertible("repeat(): loop over the DataLoader once per repetition instead")
        elif name == "map":
            raise Unconvertible("map(): apply the function to the arrays before the dataset, or in a Dataset subclass's __getitem__")
        else:
            raise Unconvertible(f"{name}() has no DataLoader equivalent")
    if options.get("shuffle") and not batched:
        raise Unconvertible("shuffle() without batch(): index with torch.randperm(len(dataset)) instead")
    options["batched"] = batched
    return options


def _elements(ctx, source_call: cst.Call):
    """The converted tensors of from_tensor_slices(x) / ((x, y)); None for one array."""
    if not source_call.args:
        raise Unconvertible("from_tensor_slices() without data")
    value = source_call.args[0].value
    if isinstance(value, cst.Dict):
        raise Unconvertible("from_tensor_slices({...}): a dictionary of arrays; write a Dataset class whose __getitem__ returns the dictionary")
    if isinstance(value, (cst.Tuple, cst.List)):
        return [ctx.updated(e.value) for e in value.elements if not isinstance(e, cst.StarredElement)]
    return ctx.updated(value)


def _dataset_code(ctx, plan) -> tuple[str, dict]:
    parts = _elements(ctx, plan["source"])
    subs = {}
    if isinstance(parts, list):
        names = []
        for i, node in enumerate(parts):
            subs[f"a{i}"] = node
            names.append(f"torch.as_tensor({{a{i}}})")
        return f"torch.utils.data.TensorDataset({', '.join(names)})", subs
    subs["a0"] = parts
    return "torch.as_tensor({a0})", subs


def from_tensor_slices(args, ctx, original):
    plan = ctx.facts.get("data_plans", {}).get(id(original))
    if plan is None:
        raise Deferred()  # the outermost call of its pipeline converts it
    Args(args, ctx)
    if "problem" in plan:
        raise Unconvertible(plan["problem"])
    text, subs = _dataset_code(ctx, plan)
    return ctx.build(text, **subs)


def on_call(transformer, original, updated):
    """The outermost call of a pipeline: the DataLoader (or the dataset when unbatched)."""
    ctx = transformer.ctx
    plan = ctx.facts.get("data_plans", {}).get(id(original))
    if plan is None or not plan["steps"]:
        return None
    api = "tensorflow.data.Dataset." + plan["steps"][-1][0]
    if "problem" in plan:
        ctx.unconverted(original, api, plan["problem"])
        return updated
    try:
        text, subs = _dataset_code(ctx, plan)
    except Unconvertible as exc:
        ctx.unconverted(original, api, str(exc))
        return updated
    options = plan["options"]
    if options["batched"]:
        subs["batch_size"] = ctx.updated(options["batch_size"])
        extra = "".join(f", {k}=True" for k in ("shuffle", "drop_last") if options.get(k))
        text = f"torch.utils.data.DataLoader({text}, batch_size={{batch_size}}{extra})"
    ctx.consume_subtree(original)  # the tf.data names in the chain are gone
    ctx.converted(original, "tensorflow.data.Dataset.from_tensor_slices", "torch.utils.data.DataLoader" if options["batched"] else "TensorDataset")
    return ctx.build(text, **subs)


def dataset_step(args, ctx, original):
    """A step of a pipeline the outermost call converts (see on_call)."""
    raise Unconvertible("a tf.data step on a dataset that is not built by from_tensor_slices(...) in the same expression")


# -- Keras datasets, one-hot labels -------------------------------------------------

def keras_dataset(args, ctx, original):
    from .training import need_snippet

    Args(args, ctx)
    name = args.rule.data["snippet"]
    need_snippet(ctx, name)
    return ctx.build(f"{name}()")


def to_categorical(args, ctx, original):
    """keras.utils.to_categorical(y, n) -> numpy.eye(n, dtype="float32")[y] (Keras returns a NumPy array)."""
    a = Args(args, ctx)
    y = a.require("x")
    np = numpy_name(ctx)
    if "num_classes" in a:
        return ctx.build(f"{np}.eye({{n}}, dtype='float32')[{{y}}]", n=a["num_classes"], y=y)
    return ctx.build(f"{np}.eye(int({np}.max({{y}})) + 1, dtype='float32')[{{y}}]", y=y)


# -- saving ---------------------------------------------------------------------

def _torch_path(ctx, node):
    """A literal Keras file name gets a PyTorch one (weights.h5 -> weights.pt)."""
    ok, value = literal_value(node)
    if ok and isinstance(value, str):
        for suffix in (".weights.h5", ".keras", ".h5", ".hdf5", ".ckpt"):
            if value.endswith(suffix):
                return cst.SimpleString(repr(value[: -len(suffix)] + ".pt")), True
    return node, False


def save_weights(args, ctx, original):
    a = Args(args, ctx)
    path, renamed = _torch_path(ctx, a.require("filepath"))
    if renamed:
        ctx.warn(ctx.method_call or original, "model.save_weights", "the file name ends in .pt now: torch.save writes a PyTorch file, not HDF5")
    return ctx.build("torch.save({self}.state_dict(), {path})", self=a.require("self"), path=path)


def load_weights(args, ctx, original):
    a = Args(args, ctx)
    path, _ = _torch_path(ctx, a.require("filepath"))
    return ctx.build("{self}.load_state_dict(torch.load({path}))", self=a.require("self"), path=path)


def save_model(args, ctx, original):
    a = Args(args, ctx)
    path, _ = _torch_path(ctx, a.require("filepath"))
    ctx.warn(ctx.method_call or original, "model.save", "saves the weights only (a state_dict): rebuild the model from its code, then load_state_dict")
    return ctx.build("torch.save({self}.state_dict(), {path})", self=a.require("self"), path=path)

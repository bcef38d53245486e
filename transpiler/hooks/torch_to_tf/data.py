"""Data pipelines: TensorDataset/DataLoader, Dataset classes, torchvision datasets and transforms.

* ``TensorDataset(x, y)`` -> ``tf.data.Dataset.from_tensor_slices((x, y))``;
  ``DataLoader(ds, batch_size=B, shuffle=True, drop_last=D)`` ->
  ``ds.shuffle(len(ds)).batch(B, drop_remainder=D)`` (a full shuffle, again every
  epoch, as PyTorch's; ``len()`` of the result counts batches, as ``len(loader)``).
* A ``Dataset`` class with ``__len__``/``__getitem__`` stays a plain class; its
  loader reads it through ``tf.data.Dataset.from_generator`` (shuffled by a
  NumPy permutation each epoch), with the element signature taken from item 0.
* ``torchvision.datasets.MNIST/FashionMNIST/CIFAR10/CIFAR100`` ->
  ``keras.datasets.<name>.load_data()``, mapped through the same transform;
  ``transforms.Compose([ToTensor(), Normalize(mean, std)])`` -> a function of one
  image (``(H, W[, C])`` uint8 -> ``(C, H, W)`` float32, normalised), as
  torchvision's transform is. Labels are int64, as PyTorch's.
"""

from __future__ import annotations

import libcst as cst

from ...engine.build import code_of, is_simple
from ...engine.calls import Unconvertible
from ...engine.query import framework_calls, resolve_call
from .._util import Args

DATASET_BASES = {"torch.utils.data.Dataset", "torch.utils.data.dataset.Dataset"}
COMPOSE = "torchvision.transforms.Compose"
TO_TENSOR = "torchvision.transforms.ToTensor"
NORMALIZE = "torchvision.transforms.Normalize"
KERAS_DATASETS = {
    "torchvision.datasets.MNIST": "mnist", "torchvision.datasets.FashionMNIST": "fashion_mnist",
    "torchvision.datasets.CIFAR10": "cifar10", "torchvision.datasets.CIFAR100": "cifar100",
}

# per-image code of each transform, over {image}
_STEPS = {
    TO_TENSOR: (
        "tensorflow.transpose(tensorflow.reshape(tensorflow.cast({image}, tensorflow.float32) / 255.0, "
        "tensorflow.concat([tensorflow.shape({image})[:2], [-1]], 0)), [2, 0, 1])"
    ),
    NORMALIZE: (
        "({image} - tensorflow.reshape(tensorflow.constant({mean}, tensorflow.float32), [-1, 1, 1])) "
        "/ tensorflow.reshape(tensorflow.constant({std}, tensorflow.float32), [-1, 1, 1])"
    ),
}
_COMMENTS = {
    TO_TENSOR: "# ToTensor: (H, W[, C]) uint8 -> (C, H, W) float32 in [0, 1]",
    NORMALIZE: "# Normalize: per channel",
}


def analyze(ctx) -> None:
    classes = ctx.facts.setdefault("dataset_classes", {})
    class_kinds = ctx.facts.setdefault("class_kinds", {})
    for stmt in ctx.module.body:
        if isinstance(stmt, cst.ClassDef):
            for base in stmt.bases:
                if isinstance(base.value, (cst.Name, cst.Attribute)) and resolve_call(ctx, base.value) in DATASET_BASES:
                    classes[stmt.name.value] = stmt
                    class_kinds[stmt.name.value] = "torch_dataset"
                    ctx.owned.add(id(base.value))
    transforms = ctx.facts.setdefault("transforms", {})
    for fc in framework_calls(ctx):
        if fc.api in KERAS_DATASETS:
            # a transform written inline is converted by the dataset's hook
            for i, a in enumerate(fc.call.args):
                if (a.keyword is not None and a.keyword.value == "transform") or (a.keyword is None and i == 2):
                    _own_transform(ctx, a.value)
        if fc.api != COMPOSE:
            continue
        parent = fc.parent
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
            try:
                steps = _compose_steps(ctx, fc.call)
            except Unconvertible as exc:
                ctx.facts.setdefault("transform_failures", {})[id(fc.call)] = str(exc)
                continue
            transforms[parent.targets[0].target.value] = steps
            statement = next(n for n in reversed(fc.stack) if isinstance(n, cst.SimpleStatementLine))
            ctx.facts.setdefault("transform_statements", {})[id(statement)] = (parent.targets[0].target.value, steps, fc.call)
            ctx.owned.add(id(fc.call))
            for _, call in steps:
                ctx.owned.add(id(call))


def _own_transform(ctx, node) -> None:
    if not isinstance(node, cst.Call):
        return
    api = resolve_call(ctx, node)
    if api in _STEPS:
        ctx.owned.add(id(node))
    elif api == COMPOSE:
        try:
            steps = _compose_steps(ctx, node)
        except Unconvertible:
            return
        ctx.owned.add(id(node))
        for _, call in steps:
            ctx.owned.add(id(call))


def _compose_steps(ctx, call: cst.Call) -> list:
    if not call.args or not isinstance(call.args[0].value, (cst.List, cst.Tuple)):
        raise Unconvertible("transforms.Compose needs a literal list of transforms")
    steps = []
    for el in call.args[0].value.elements:
        node = el.value
        api = resolve_call(ctx, node) if isinstance(node, cst.Call) else None
        if api not in _STEPS:
            raise Unconvertible(f"transform {code_of(node).strip()[:60]} has no conversion (ToTensor and Normalize do)")
        steps.append((api, node))
    return steps


def _step_code(ctx, api: str, call: cst.Call, image: str) -> tuple[str, dict]:
    template = _STEPS[api].replace("{image}", image)
    subs = {}
    if api == NORMALIZE:
        values = {}
        names = ["mean", "std", "inplace"]
        for i, a in enumerate(call.args):
            key = a.keyword.value if a.keyword is not None else names[i]
            values[key] = a.value
        if "mean" not in values or "std" not in values:
            raise Unconvertible("Normalize needs mean and std")
        subs = {"mean": ctx.updated(values["mean"]), "std": ctx.updated(values["std"])}
    return template, subs


def image_expression(ctx, steps: list, image: cst.BaseExpression) -> cst.BaseExpression:
    """The transforms applied to one image, as one expression."""
    expr = image
    for api, call in steps:
        template, subs = _step_code(ctx, api, call, "{image}")
        expr = ctx.build(template, image=expr, **subs)
    return expr


# -- hooks ------------------------------------------------------------------------------

def tensor_dataset(args, ctx, original):
    a = args.call.args
    if not a or any(x.keyword is not None for x in a):
        raise Unconvertible("TensorDataset needs its tensors as positional arguments")
    tensors = [x.value for x in a]
    if len(tensors) == 1:
        return ctx.build("tensorflow.data.Dataset.from_tensor_slices({t})", t=tensors[0])
    items = ", ".join("{t%d}" % i for i in range(len(tensors)))
    return ctx.build("tensorflow.data.Dataset.from_tensor_slices((" + items + "))", **{f"t{i}": t for i, t in enumerate(tensors)})


def loader(args, ctx, original):
    a = Args(args, ctx)
    for name in ("sampler", "batch_sampler", "collate_fn", "worker_init_fn", "generator"):
        if name in a and code_of(a[name]).strip() != "None":
            raise Unconvertible(f"DataLoader({name}=...) has no tf.data conversion yet")
    dataset = a.require("dataset")
    source = args.get("dataset")
    node = source.original.value if source is not None and source.original is not None else dataset
    kind = _dataset_kind(ctx, node)
    shuffle = a.literal("shuffle", False)
    batch = a.get("batch_size")
    drop = a.literal("drop_last", False)
    subs = {"d": dataset}
    if kind == "torch_dataset":
        if not is_simple(dataset):
            raise Unconvertible("assign the Dataset object to a variable first")
        order = "tensorflow.random.shuffle(tensorflow.range(len({d}))).numpy()" if shuffle else "range(len({d}))"
        text = (
            "tensorflow.data.Dataset.from_generator(lambda: ({d}[i] for i in " + order + "), "
            "output_signature=tensorflow.nest.map_structure("
            "lambda v: tensorflow.TensorSpec.from_tensor(tensorflow.convert_to_tensor(v)), {d}[0]))"
            ".apply(tensorflow.data.experimental.assert_cardinality(len({d})))"
        )
    elif kind == "dataset":
        text = "{d}"
        if shuffle:
            count = _count(ctx, node, dataset)
            if count is None:
                raise Unconvertible("shuffle=True: assign the dataset to a variable first (its length sets the shuffle buffer)")
            subs["n"] = count
            text += ".shuffle({n})"
    else:
        raise Unconvertible("cannot tell what kind of dataset this is (a TensorDataset, a torchvision dataset or a Dataset class of this file are converted)")
    if batch is None:
        text += ".batch(1" + (", drop_remainder=True" if drop else "") + ")"
    elif code_of(batch).strip() != "None":
        subs["b"] = batch
        text += ".batch({b}" + (", drop_remainder=True" if drop else "") + ")"
    return ctx.build(text, **subs)


def _dataset_kind(ctx, node) -> str | None:
    if isinstance(node, cst.Call):
        api = resolve_call(ctx, node)
        if api is not None:
            rule = ctx.ruleset.lookup(api)
            return rule.returns if rule is not None else None
        if isinstance(node.func, cst.Name) and node.func.value in ctx.facts.get("dataset_classes", {}):
            return "torch_dataset"
        return None
    return ctx.facts.get("dataset_kinds", {}).get(id(node))


def _count(ctx, node, dataset) -> cst.BaseExpression | None:
    if is_simple(dataset):
        return ctx.build("len({d})", d=dataset)
    if isinstance(node, cst.Call) and resolve_call(ctx, node) == "torch.utils.data.TensorDataset" and node.args:
        first = ctx.updated(node.args[0].value)
        if is_simple(first):
            return ctx.build("len({x})", x=first)
    return None


def vision_dataset(args, ctx, original):
    a = Args(args, ctx)
    name = KERAS_DATASETS[args.rule.source]
    if "target_transform" in a and code_of(a["target_transform"]).strip() != "None":
        raise Unconvertible("target_transform is not converted")
    train = a.get("train")
    if train is None or code_of(train).strip() == "True":
        split = "0"
    elif code_of(train).strip() == "False":
        split = "1"
    else:
        split = None
    subs = {}
    load = f"keras.datasets.{name}.load_data()"
    if split is None:
        subs["train"] = train
        load += "[0 if {train} else 1]"
    else:
        load += f"[{split}]"
    image = "image"
    transform = a.get("transform")
    source = args.get("transform")
    transform_node = source.original.value if source is not None and source.original is not None else None
    image_code = "image"
    if transform is not None and code_of(transform).strip() != "None":
        if isinstance(transform_node, cst.Call):
            api = resolve_call(ctx, transform_node)
            if api == COMPOSE:
                steps = _compose_steps(ctx, transform_node)
            elif api in _STEPS:
                steps = [(api, transform_node)]
            else:
                raise Unconvertible("transform: only ToTensor/Normalize (or a Compose of them) are converted")
            for _, call in steps:
                ctx.consume_head(call.func)
            expr = image_expression(ctx, steps, cst.Name(image))
            subs["img"] = expr
            image_code = "{img}"
        else:
            subs["t"] = transform
            image_code = "{t}(image)"
    ctx.warn(original, args.rule.source, f"keras.datasets.{name} downloads into ~/.keras/datasets; root= and download= are not used")
    text = (
        "tensorflow.data.Dataset.from_tensor_slices(" + load + ").map("
        "lambda image, label: (" + image_code + ", tensorflow.cast(tensorflow.reshape(label, []), tensorflow.int64)))"
    )
    return ctx.build(text, **subs)


def transform_reject(args, ctx, original):
    failure = ctx.facts.get("transform_failures", {}).get(id(original))
    if failure:
        raise Unconvertible(failure)
    raise Unconvertible("a transform outside `name = transforms.Compose([...])` or a dataset's transform=: not converted")


def loader_dataset(args, ctx, original):
    """loader.dataset -> the dataset the loader was made from (when it is a variable)."""
    a = Args(args, ctx)
    name = code_of(a.require("self")).strip()
    dataset = ctx.facts.get("loader_datasets", {}).get(name)
    if dataset is None:
        raise Unconvertible("the loader's dataset is not known here")
    return cst.Name(dataset)


def record_loaders(ctx) -> None:
    """What each DataLoader reads: its dataset's kind, and the dataset variable (loader.dataset)."""
    from ...engine.names import scope_chain

    found = ctx.facts.setdefault("loader_datasets", {})
    kinds = ctx.facts.setdefault("dataset_kinds", {})
    types = ctx.facts.get("_types")
    for fc in framework_calls(ctx):
        if fc.api != "torch.utils.data.DataLoader":
            continue
        if fc.call.args and types is not None:
            first = fc.call.args[0].value
            for a in fc.call.args:
                if a.keyword is not None and a.keyword.value == "dataset":
                    first = a.value
            if isinstance(first, cst.Name):
                kinds[id(first)] = types.kind_of(first, scope_chain(tuple(fc.stack) + (first,)))
        parent = fc.parent
        if not (isinstance(parent, cst.Assign) and isinstance(parent.targets[0].target, cst.Name)):
            continue
        first = None
        for i, a in enumerate(fc.call.args):
            if (a.keyword is None and i == 0) or (a.keyword is not None and a.keyword.value == "dataset"):
                first = a.value
        if isinstance(first, cst.Name):
            found[parent.targets[0].target.value] = first.value


# -- structural handlers -------------------------------------------------------------------

def on_class(transformer, original, updated):
    """A Dataset class stays a plain class: its loader reads it by index."""
    ctx = transformer.ctx
    if ctx.facts.get("dataset_classes", {}).get(original.name.value) is not original:
        return None
    bases = [b for b, ob in zip(updated.bases, original.bases)
             if not (isinstance(ob.value, (cst.Name, cst.Attribute)) and resolve_call(ctx, ob.value) in DATASET_BASES)]
    for b in original.bases:
        ctx.consume_head(b.value)
    ctx.converted(original, "torch.utils.data.Dataset", "(a plain class read by tf.data.Dataset.from_generator)")
    if bases:
        bases[-1] = bases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        new = updated.with_changes(bases=bases)
    else:
        new = updated.with_changes(bases=[], lpar=cst.MaybeSentinel.DEFAULT, rpar=cst.MaybeSentinel.DEFAULT)
    transformer.dirty.add(id(new))
    return new


def on_statement(transformer, original, updated):
    """``T = transforms.Compose([...])`` -> ``def T(image): ...``."""
    ctx = transformer.ctx
    found = ctx.facts.get("transform_statements", {}).get(id(original))
    if found is None:
        return None
    name, steps, call = found
    lines = [f"def {name}(image):"]
    subs = {}
    for api, step in steps:
        template, s = _step_code(ctx, api, step, "image")
        for key, value in s.items():
            new_key = f"{key}{len(subs)}"
            subs[new_key] = value
            template = template.replace("{" + key + "}", "{" + new_key + "}")
        lines.append("    " + _COMMENTS[api])
        lines.append("    image = " + template)
        ctx.converted(step, api, "tf ops on one image")
        ctx.consume_head(step.func)
    lines.append("    return image")
    ctx.converted(call, COMPOSE, f"def {name}(image)")
    ctx.consume_head(call.func)
    fn = ctx.build_statements("\n".join(lines) + "\n", **subs)[0]
    fn = fn.with_changes(leading_lines=original.leading_lines)
    ctx.facts.setdefault("new_definitions", set()).add(id(fn))
    return ctx.mark_new(fn)

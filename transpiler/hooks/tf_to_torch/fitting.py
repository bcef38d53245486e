"""model.compile / fit / evaluate / predict -> an explicit PyTorch training loop.

Keras hides the loop in ``model.fit``; PyTorch code writes it out. The one
``model.fit(x, y, epochs=10)`` statement of a file becomes the loop a PyTorch
engineer writes by hand (a DataLoader, ``for epoch``, ``zero_grad/backward/step``,
the running loss and metrics printed per epoch), in place. Where a file fits
several times, or uses the result (``history = model.fit(...)``), or validates,
the loop is written once as a ``fit()`` function in the file (snippets.py) and
each call uses it; ``evaluate`` likewise. ``model.compile(...)`` becomes the
optimizer and loss assignments the loop uses.

The call hooks (method rules in rules/tf_to_torch/models.toml) decide and raise
``Deferred`` when the statement handler rewrites the whole statement.
"""

from __future__ import annotations

import libcst as cst

from ...engine.calls import Deferred, Unconvertible, literal_value
from ...engine.walk import source_children
from .._util import Args
from . import training
from .training import _free_name, need_snippet

_METHODS = ("compile", "fit", "evaluate", "predict")

# metric name -> (what it counts per batch, label); kinds chosen by the loss
_ACCURACY = {"accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy"}
_ERRORS = {"mae": "mae", "mean_absolute_error": "mae", "mse": "mse", "mean_squared_error": "mse"}


# -- which statements are whole fit/evaluate/predict calls --------------------------

def analyze(ctx) -> None:
    source = ctx.scan.source
    if not any(f".{m}(" in source for m in _METHODS):
        return
    found = ctx.facts.setdefault("statement_calls", {})
    for stmt in _statements(ctx.module):
        if len(stmt.body) != 1:
            continue
        small = stmt.body[0]
        if isinstance(small, cst.Expr):
            call, targets = small.value, None
        elif isinstance(small, cst.Assign) and len(small.targets) == 1:
            call, targets = small.value, small.targets[0].target
        else:
            continue
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value in _METHODS):
            continue
        if not isinstance(call.func.value, cst.Name):
            continue
        names = _target_names(targets)
        if targets is not None and names is None:
            continue
        found[id(call)] = {"statement": stmt, "targets": names, "used": _names_read(ctx, names or [])}
        counts = ctx.facts.setdefault("training_call_counts", {})
        counts[call.func.attr.value] = counts.get(call.func.attr.value, 0) + 1


def _statements(node):
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.SimpleStatementLine):
            yield n
            continue
        if isinstance(n, (cst.BaseExpression,)):
            continue
        stack.extend(reversed(source_children(n)))


def _target_names(target) -> list[str] | None:
    if target is None:
        return []
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)) and all(isinstance(e.value, cst.Name) for e in target.elements):
        return [e.value.value for e in target.elements]
    return None


def _names_read(ctx, names: list[str]) -> set[str]:
    """The assigned names the rest of the file reads (``history.history[...]``)."""
    import re

    read = set()
    for name in names:
        if len(re.findall(rf"\b{re.escape(name)}\b", ctx.scan.source)) > 1:
            read.add(name)
    return read


def _single(ctx, method: str) -> bool:
    """One fit (or evaluate) in the file is written out where it is; several share a helper."""
    return ctx.facts.get("training_call_counts", {}).get(method, 0) <= 1


def _site(ctx, original) -> dict | None:
    """The whole statement around this method call, when it is one we rewrite."""
    call = getattr(ctx, "method_call", None)
    return ctx.facts.get("statement_calls", {}).get(id(call))


# -- the call hooks ---------------------------------------------------------------

def compile(args, ctx, original):
    site = _site(ctx, original)
    if site is None or site["targets"]:
        raise Unconvertible("model.compile(...) must be a statement of its own")
    site["plan"] = ("compile", _model(args), None, None)
    raise Deferred()


def _model(args) -> str:
    b = args.get("self")
    node = b.original.value if b is not None and b.original is not None else None
    if not isinstance(node, cst.Name):
        raise Unconvertible("call this on a model variable")
    return node.value


def _compiled(ctx, model: str) -> dict:
    info = ctx.facts.get("compiled", {}).get(model)
    if info is None:
        raise Unconvertible(f"{model} is not compiled in this file, so its loss and optimizer are unknown")
    return info


def fit(args, ctx, original):
    model = _model(args)
    info = _compiled(ctx, model)
    a = Args(args, ctx)
    for bad in ("class_weight", "sample_weight", "initial_epoch", "steps_per_epoch", "validation_steps", "validation_freq", "validation_batch_size"):
        if bad in a:
            raise Unconvertible(f"fit({bad}=...) is not supported by the generated loop")
    site = _site(ctx, original)
    inline = (
        site is not None and not site["used"] and _single(ctx, "fit")
        and "validation_split" not in a and "validation_data" not in a and "callbacks" not in a
    )
    if inline:
        site["plan"] = ("fit", model, info, a)
        raise Deferred()
    need_snippet(ctx, "fit")
    x, y = _data(ctx, model, info, a, original)
    parts = [model, "{x}", "{y}" if y is not None else "None", info["loss"], info["optimizer"]]
    subs = {"x": x}
    if y is not None:
        subs["y"] = y
    for name in ("epochs", "batch_size", "shuffle", "validation_split", "validation_data", "callbacks", "verbose"):
        if name in a:
            subs[name] = a[name]
            parts.append(f"{name}={{{name}}}")
    if info["metrics"]:
        parts.append(_metrics_arg(ctx, info))
    if info.get("scheduler"):
        parts.append(f"scheduler={info['scheduler']}")
    return ctx.build("fit(" + ", ".join(parts) + ")", **subs)


def evaluate(args, ctx, original):
    model = _model(args)
    info = _compiled(ctx, model)
    a = Args(args, ctx)
    for bad in ("sample_weight", "steps", "callbacks"):
        if bad in a:
            raise Unconvertible(f"evaluate({bad}=...) is not supported by the generated loop")
    if a.literal("return_dict", False):
        raise Unconvertible("evaluate(return_dict=True) is not supported by the generated loop")
    site = _site(ctx, original)
    if site is not None and _single(ctx, "evaluate"):
        site["plan"] = ("evaluate", model, info, a)
        raise Deferred()
    need_snippet(ctx, "evaluate")
    x, y = _data(ctx, model, info, a, original)
    parts = [model, "{x}", "{y}" if y is not None else "None", info["loss"]]
    subs = {"x": x}
    if y is not None:
        subs["y"] = y
    for name in ("batch_size", "verbose"):
        if name in a:
            subs[name] = a[name]
            parts.append(f"{name}={{{name}}}")
    if info["metrics"]:
        parts.append(_metrics_arg(ctx, info))
    return ctx.build("evaluate(" + ", ".join(parts) + ")", **subs)


def predict(args, ctx, original):
    model = _model(args)
    a = Args(args, ctx)
    site = _site(ctx, original)
    if site is not None and len(site["targets"] or []) == 1:
        site["plan"] = ("predict", model, None, a)
        raise Deferred()
    need_snippet(ctx, "predict")
    x = _input(ctx, model, a.require("x"), original)
    parts = [model, "{x}"]
    subs = {"x": x}
    if "batch_size" in a:
        subs["batch_size"] = a["batch_size"]
        parts.append("batch_size={batch_size}")
    return ctx.build("predict(" + ", ".join(parts) + ")", **subs)


# -- data --------------------------------------------------------------------------

def _is_loader(ctx, node) -> bool:
    if ctx.types is None or not isinstance(node, (cst.Name, cst.Attribute, cst.Call)):
        return False
    return ctx.types.kind_of(node, [ctx.module]) in ("dataloader", "dataset", "tf_dataset")


def _input_dtype(ctx, model: str) -> str:
    info = ctx.models.get(model) or {}
    layers = info.get("layers") or []
    if layers and layers[0].get("keras_class") == "Embedding":
        return "torch.long"
    return "torch.float32"


def _input(ctx, model: str, x, original) -> cst.BaseExpression:
    """An array as the model takes it: a float32 (or index) tensor, channels moved first."""
    info = ctx.models.get(model) or {}
    inputs = info.get("inputs") or []
    device = ctx.facts.get("device_var")
    on = f", device={device}" if device and original is _PREDICTED else ""
    out = ctx.build(f"torch.as_tensor({{x}}, dtype={_input_dtype(ctx, model)}{on})", x=x)
    if inputs and inputs[0].get("layout") == "cf":
        out = ctx.build("{x}.movedim(-1, 1)", x=out)
    return out


def _target(ctx, info: dict, y) -> cst.BaseExpression:
    dtype = info.get("target_dtype")
    if dtype:
        return ctx.build(f"torch.as_tensor({{y}}, dtype={dtype})", y=y)
    return ctx.build("torch.as_tensor({y})", y=y)


def _data(ctx, model, info, a, original):
    x = a.require("x")
    if _is_loader(ctx, _original_arg(a, "x")):
        if "y" in a:
            raise Unconvertible("a dataset x with a separate y")
        return x, None
    if "y" not in a:
        raise Unconvertible("fit/evaluate without targets y (and x not a dataset)")
    return _input(ctx, model, x, original), _target(ctx, info, a["y"])


def _original_arg(a: Args, name: str):
    b = a.raw.get(name)
    return b.original.value if b is not None and b.original is not None else None


def _loader(ctx, model, info, a, name: str, shuffle_default: bool):
    """(statements making the loader, the loader expression, subs) for fit/evaluate."""
    x = a.require("x")
    if _is_loader(ctx, _original_arg(a, "x")):
        if "y" in a:
            raise Unconvertible("a dataset x with a separate y")
        return "", "{x}", {"x": x}
    if "y" not in a:
        raise Unconvertible("fit/evaluate without targets y (and x not a dataset)")
    subs = {"x": _input(ctx, model, x, None), "y": _target(ctx, info, a["y"])}
    batch = "{batch_size}" if "batch_size" in a else "32"
    if "batch_size" in a:
        subs["batch_size"] = a["batch_size"]
    shuffle = ""
    if "shuffle" in a:
        subs["shuffle"] = a["shuffle"]
        shuffle = ", shuffle={shuffle}"
    elif shuffle_default:
        shuffle = ", shuffle=True"
    loader = _free_name(ctx, name)
    text = f"{loader} = torch.utils.data.DataLoader(torch.utils.data.TensorDataset({{x}}, {{y}}), batch_size={batch}{shuffle})"
    return text, loader, subs


# -- metrics in the loop -------------------------------------------------------------

def metric_kinds(ctx, metrics: list[str], loss_kind: str) -> list[tuple[str, str]]:
    """compile(metrics=[...]) -> (label, how it is counted) pairs; loss_kind picks the accuracy."""
    out = []
    for name in metrics:
        if name in _ACCURACY:
            if name == "binary_accuracy" or (name in ("accuracy", "acc") and loss_kind.startswith("binary")):
                kind = "binary_logits" if loss_kind == "binary_logits" else "binary"
            elif name == "categorical_accuracy" or (name in ("accuracy", "acc") and loss_kind == "categorical"):
                kind = "categorical"
            elif name == "sparse_categorical_accuracy" or loss_kind == "sparse":
                kind = "sparse"
            else:
                raise Unconvertible(f"metric {name!r}: which accuracy depends on the loss; name it (sparse_categorical_accuracy...)")
            out.append((name, kind))
        elif name in _ERRORS:
            out.append((name, _ERRORS[name]))
        else:
            raise Unconvertible(f"metric {name!r} has no conversion")
    return out


_COUNT = {
    "sparse": "({p}.argmax(dim=-1) == {y}).sum().item()",
    "categorical": "({p}.argmax(dim=-1) == {y}.argmax(dim=-1)).sum().item()",
    "binary": "(({p} > 0.5).to({y}.dtype) == {y}).float().mean(dim=-1).sum().item()",
    "binary_logits": "(({p} > 0).to({y}.dtype) == {y}).float().mean(dim=-1).sum().item()",
    "mae": "({p} - {y}).abs().mean(dim=-1).sum().item()",
    "mse": "(({p} - {y}) ** 2).mean(dim=-1).sum().item()",
}


_METRIC_FUNCTIONS = {
    "sparse": "sparse_accuracy", "categorical": "categorical_accuracy", "binary": "binary_accuracy",
    "binary_logits": "binary_accuracy_from_logits", "mae": "mean_absolute_error", "mse": "mean_squared_error",
}


def _metrics_arg(ctx, info) -> str:
    """metrics={"accuracy": sparse_accuracy, ...} for the fit()/evaluate() helpers."""
    items = []
    for label, kind in info["metrics"]:
        function = _METRIC_FUNCTIONS[kind]
        need_snippet(ctx, function)
        items.append(f"{label!r}: {function}")
    return "metrics={" + ", ".join(items) + "}"


def _var(label: str) -> str:
    return {"accuracy": "correct", "acc": "correct"}.get(label, f"total_{label}")


# -- the statement handler ------------------------------------------------------------

def on_statement(transformer, original, updated):
    ctx = transformer.ctx
    if len(original.body) != 1:
        return None
    small = original.body[0]
    call = small.value if isinstance(small, (cst.Expr, cst.Assign)) else None
    site = ctx.facts.get("statement_calls", {}).get(id(call)) if call is not None else None
    if site is None:
        return None
    plan = site.get("plan")
    if plan is None:  # the call hook did not run or gave up (and said why)
        return None
    kind, model, info, a = plan
    if kind == "compile":
        return training.on_compile(transformer, original, updated, call)
    api = f"model.{kind}"
    try:
        if kind == "fit":
            text, subs = _fit_text(ctx, model, info, a)
            what = "an explicit training loop"
        elif kind == "evaluate":
            text, subs = _evaluate_text(ctx, model, info, a, site["targets"])
            what = "an evaluation loop under torch.no_grad()"
        else:
            text, subs = _predict_text(ctx, model, a, site["targets"][0])
            what = "the model called in eval mode under torch.no_grad()"
        statements = ctx.build_statements(text, **subs)
    except Unconvertible as exc:
        ctx.unconverted(call, api, str(exc))
        return updated
    ctx.converted(call, api, what)
    out = []
    for i, stmt in enumerate(statements):
        if i == 0:
            stmt = stmt.with_changes(leading_lines=original.leading_lines)
        out.append(ctx.mark_new(stmt))
    return cst.FlattenSentinel(out)


def _literal_or(a: Args, name: str, default):
    if name not in a:
        return default
    ok, value = literal_value(a[name])
    return value if ok else None


def _fit_text(ctx, model, info, a):
    make, loader, subs = _loader(ctx, model, info, a, "train_loader", shuffle_default=True)
    epochs = "{epochs}" if "epochs" in a else "1"
    if "epochs" in a:
        subs["epochs"] = a["epochs"]
    verbose = _literal_or(a, "verbose", 1)
    metrics = info["metrics"]
    n = _Names(ctx, metrics, "running_loss")
    epoch, bx, by = _free_name(ctx, "epoch"), _free_name(ctx, "batch_x"), _free_name(ctx, "batch_y")
    pred, loss = _free_name(ctx, "prediction"), _free_name(ctx, "loss")
    opt = info["optimizer"]
    lines = [make] if make else []
    lines.append(f"for {epoch} in range({epochs}):")
    lines.append(f"    {model}.train()")
    report = verbose != 0
    if report:
        lines.append(f"    {n.start()}")
    lines.append(f"    for {bx}, {by} in {loader}:")
    lines.extend(_device_lines(ctx, bx, by, "        "))
    lines.append(f"        {pred} = {model}({_batch_input(ctx, model, a, bx)})")
    lines.append(f"        {loss} = {info['loss']}({pred}, {by})")
    lines.append(f"        {opt}.zero_grad()")
    lines.append(f"        {loss}.backward()")
    lines.extend(_clip_lines(info, model, "        "))
    lines.append(f"        {opt}.step()")
    if info.get("scheduler"):
        lines.append(f"        {info['scheduler']}.step()")
    if report:
        lines.append(f"        {n.total} += {loss}.item() * len({bx})")
        lines.extend(n.count_lines(pred, by, "        "))
        lines.append(f"        {n.seen} += len({bx})")
        shown = n.shown()
        total_epochs = "1"
        if "epochs" in a:
            ok, value = literal_value(a["epochs"])
            total_epochs = str(value) if ok else "{epochs}"
        lines.append(f'    print(f"Epoch {{{epoch} + 1}}/{total_epochs} - {shown}")')
    return "\n".join(lines) + "\n", subs


class _Names:
    """The running totals a loop keeps: the loss, one per metric, the samples seen."""

    def __init__(self, ctx, metrics, total: str) -> None:
        self.metrics = metrics
        self.total = _free_name(ctx, total)
        self.vars = [_free_name(ctx, _var(label)) for label, _ in metrics]
        self.seen = _free_name(ctx, "seen")

    def start(self) -> str:
        zeros = ["0.0", *["0" if v.startswith("correct") else "0.0" for v in self.vars], "0"]
        return f"{', '.join([self.total, *self.vars, self.seen])} = {', '.join(zeros)}"

    def count_lines(self, pred: str, y: str, indent: str) -> list[str]:
        return [f"{indent}{v} += " + _COUNT[kind].format(p=pred, y=y) for v, (_, kind) in zip(self.vars, self.metrics)]

    def results(self) -> list[str]:
        return [f"{v} / {self.seen}" for v in [self.total, *self.vars]]

    def shown(self) -> str:
        parts = [f"loss: {{{self.total} / {self.seen}:.4f}}"]
        parts += [f"{label}: {{{v} / {self.seen}:.4f}}" for v, (label, _) in zip(self.vars, self.metrics)]
        return " - ".join(parts)


def _batch_input(ctx, model, a, batch: str) -> str:
    """A batch from the user's dataset enters a channels-first model moved (arrays were moved already)."""
    info = ctx.models.get(model) or {}
    inputs = info.get("inputs") or []
    if _is_loader(ctx, _original_arg(a, "x")) and inputs and inputs[0].get("layout") == "cf":
        return f"{batch}.movedim(-1, 1)"
    return batch


def _device_lines(ctx, bx: str, by: str, indent: str) -> list[str]:
    """Batches move to the model's device (the variable compile() made), as PyTorch code does."""
    device = ctx.facts.get("device_var")
    return [f"{indent}{bx}, {by} = {bx}.to({device}), {by}.to({device})"] if device else []


def _clip_lines(info, model, indent):
    extras = info.get("extras") or {}
    out = []
    if "global_clipnorm" in extras:
        out.append(f"{indent}torch.nn.utils.clip_grad_norm_({model}.parameters(), {extras['global_clipnorm']})")
    if "clipnorm" in extras:  # Keras clips each variable's gradient on its own
        out.append(f"{indent}for parameter in {model}.parameters():")
        out.append(f"{indent}    torch.nn.utils.clip_grad_norm_(parameter, {extras['clipnorm']})")
    if "clipvalue" in extras:
        out.append(f"{indent}torch.nn.utils.clip_grad_value_({model}.parameters(), {extras['clipvalue']})")
    return out


def _evaluate_text(ctx, model, info, a, targets):
    make, loader, subs = _loader(ctx, model, info, a, "eval_loader", shuffle_default=False)
    metrics = info["metrics"]
    verbose = _literal_or(a, "verbose", 1)
    n = _Names(ctx, metrics, "total_loss")
    bx, by, pred = _free_name(ctx, "batch_x"), _free_name(ctx, "batch_y"), _free_name(ctx, "prediction")
    lines = [make] if make else []
    lines.append(f"{model}.eval()")
    lines.append(n.start())
    lines.append("with torch.no_grad():")
    lines.append(f"    for {bx}, {by} in {loader}:")
    lines.extend(_device_lines(ctx, bx, by, "        "))
    lines.append(f"        {pred} = {model}({_batch_input(ctx, model, a, bx)})")
    lines.append(f"        {n.total} += {info['loss']}({pred}, {by}).item() * len({bx})")
    lines.extend(n.count_lines(pred, by, "        "))
    lines.append(f"        {n.seen} += len({bx})")
    results = n.results()
    if targets:
        if len(targets) == 1 and len(results) > 1:
            lines.append(f"{targets[0]} = [{', '.join(results)}]")
        elif len(targets) == len(results):
            lines.append(f"{', '.join(targets)} = {', '.join(results)}")
        else:
            raise Unconvertible(f"evaluate() gives {len(results)} values here, assigned to {len(targets)} names")
    if verbose != 0:
        lines.append(f'print(f"{n.shown()}")')
    return "\n".join(lines) + "\n", subs


_PREDICTED = object()  # _input's `original` for predict(): the array goes straight to the model's device


def _predict_text(ctx, model, a, target):
    subs = {"x": _input(ctx, model, a.require("x"), _PREDICTED)}
    info = ctx.models.get(model) or {}
    back = ".movedim(1, -1)" if info.get("output_layout") == "cf" else ""
    text = f"{model}.eval()\nwith torch.no_grad():\n    {target} = {model}({{x}}){back}.cpu().numpy()\n"
    return text, subs


def model_call(args, ctx, original):
    """model(x, training=...) -> model(x): the statement gets model.train()/eval() (tape.mode_switch);
    image input to a channels-first model is moved where it enters."""
    a = Args(args, ctx)
    b = args.get("self")
    receiver = b.original.value if b is not None and b.original is not None else None
    x = a.require("inputs")
    if isinstance(receiver, cst.Name):
        info = ctx.models.get(receiver.value) or {}
        inputs = info.get("inputs") or []
        if inputs and inputs[0].get("layout") == "cf":
            x = ctx.build("{x}.movedim(-1, 1)", x=x)
    return ctx.build("{m}({x})", m=a.require("self"), x=x)

"""Training code: losses, optimizers, schedules, compile/fit/evaluate/predict, model calls.

Keras hides the training loop in ``model.fit``; PyTorch code writes it out. The
loop is written once per file as small helper functions (snippets.py) that the
converted ``fit``/``evaluate``/``predict`` calls use; ``model.compile`` becomes
the optimizer and loss objects those calls receive. Loss objects keep their
names; calling one swaps its arguments (Keras: ``loss(y_true, y_pred)``).
"""

from __future__ import annotations

import re

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Unconvertible, literal_value
from ...engine.query import framework_calls
from ...engine.walk import source_children
from .._util import Args

# -- losses ----------------------------------------------------------------------

_LOSS_STRINGS = {
    "sparse_categorical_crossentropy": ("keras.losses.SparseCategoricalCrossentropy", {}),
    "categorical_crossentropy": ("keras.losses.CategoricalCrossentropy", {}),
    "binary_crossentropy": ("keras.losses.BinaryCrossentropy", {}),
    "mse": ("keras.losses.MeanSquaredError", {}),
    "mean_squared_error": ("keras.losses.MeanSquaredError", {}),
    "mae": ("keras.losses.MeanAbsoluteError", {}),
    "mean_absolute_error": ("keras.losses.MeanAbsoluteError", {}),
    "huber": ("keras.losses.Huber", {}),
    "huber_loss": ("keras.losses.Huber", {}),
    "kl_divergence": ("keras.losses.KLDivergence", {}),
    "kld": ("keras.losses.KLDivergence", {}),
    "hinge": ("keras.losses.Hinge", {}),
    "cosine_similarity": ("keras.losses.CosineSimilarity", {}),
}


def need_snippet(ctx, name: str) -> None:
    """The helper ``name`` (snippets.py) is written into this file, once."""
    from ..snippet_writer import need
    from .snippets import REGISTRY

    need(ctx, REGISTRY, name)


def _loss_code(ctx, rule, values: dict[str, object]) -> str:
    """A loss object's PyTorch form; values: argument -> Python literal (or code)."""
    data = rule.data
    reduction = values.get("reduction", "sum_over_batch_size")
    torch_reduction = {"sum_over_batch_size": None, "auto": None, "sum": "sum", "none": "none", None: None}.get(reduction, "?")
    if torch_reduction == "?":
        raise Unconvertible(f"reduction={reduction!r} has no PyTorch equivalent")
    if values.get("ignore_class") is not None:
        kw = [f"ignore_index={values['ignore_class']!r}"]
    else:
        kw = []
    if "module" in data:
        for name in data.get("pass", []):
            if name == "delta" and "delta" in values:
                kw.append(f"delta={values['delta']!r}")
        if torch_reduction:
            return _per_sample(data, kw, torch_reduction)
        return f"{data['module']}({', '.join(kw)})"
    if "function" in data:
        if torch_reduction:
            raise Unconvertible(f"reduction={reduction!r} with this loss")
        need_snippet(ctx, data["function"])
        return data["function"]
    from_logits = values.get("from_logits", False)
    smoothing = values.get("label_smoothing", 0.0) or 0.0
    if from_logits is True:
        if torch_reduction and "per_sample" in data:
            if smoothing:
                raise Unconvertible(f"reduction={reduction!r} with label_smoothing: weight the smoothed per-sample losses by hand")
            return _per_sample(data, kw, torch_reduction)
        if smoothing and "logits_smoothing" in data:
            need_snippet(ctx, data["logits_smoothing"])
            return f"functools.partial({data['logits_smoothing']}, label_smoothing={smoothing!r})"
        if smoothing:
            kw.append(f"label_smoothing={smoothing!r}")
        if torch_reduction:
            kw.append(f"reduction={torch_reduction!r}")
        return f"{data['logits']}({', '.join(kw)})"
    if from_logits is not False:
        raise Unconvertible("from_logits must be True or False literally")
    if torch_reduction or kw:
        raise Unconvertible("reduction/ignore_class on probabilities (from_logits=False) is not supported")
    need_snippet(ctx, data["probabilities"])
    if smoothing:
        return f"functools.partial({data['probabilities']}, label_smoothing={smoothing!r})"
    return data["probabilities"]


def _per_sample(data: dict, kw: list[str], torch_reduction: str) -> str:
    """A loss Keras averages over the last axis before reducing (MSE, MAE, Huber, binary
    crossentropy): with reduction 'none' it gives one value per sample, and 'sum' sums those,
    where PyTorch's module would keep every element (or sum them all): the functional form,
    averaged over the last axis."""
    args = "".join(f", {k}" for k in kw)
    code = f"lambda y_pred, y_true: {data['per_sample']}(y_pred, y_true{args}, reduction='none').mean(dim=-1)"
    return code + ".sum()" if torch_reduction == "sum" else code


def _build(ctx, code: str):
    if "functools." in code:
        from ...engine.spelling import ImportNeed

        ctx.speller.needs.add(ImportNeed("functools"))
    return ctx.build(code)


def loss_object(args, ctx, original):
    a = Args(args, ctx)
    values = {}
    for name in a.values:
        values[name] = a.literal(name)
    code = _loss_code(ctx, args.rule, values)
    warning = args.rule.data.get("logits_warn")
    if warning and code.startswith(args.rule.data["logits"] + "("):
        ctx.warn(original, args.rule.source, warning)  # the rank of the logits is not known here
    return _build(ctx, code)


def loss_function(args, ctx, original):
    a = Args(args, ctx)
    from_logits = a.literal("from_logits", False)
    if a.literal("label_smoothing", 0.0):
        raise Unconvertible("label_smoothing in the loss function form: use the loss object")
    template = args.rule.data["logits" if from_logits else "probabilities"]
    return ctx.build(template, y_true=a.require("y_true"), y_pred=a.require("y_pred"))


def loss_from_string(ctx, name: str) -> str:
    if name not in _LOSS_STRINGS:
        raise Unconvertible(f"loss {name!r} has no conversion")
    source, values = _LOSS_STRINGS[name]
    return _loss_code(ctx, ctx.ruleset.lookup(source), dict(values))


# -- optimizers --------------------------------------------------------------------

_OPTIMIZER_STRINGS = {
    "sgd": "keras.optimizers.SGD", "adam": "keras.optimizers.Adam", "adamw": "keras.optimizers.AdamW",
    "rmsprop": "keras.optimizers.RMSprop", "adagrad": "keras.optimizers.Adagrad",
    "adadelta": "keras.optimizers.Adadelta", "adamax": "keras.optimizers.Adamax", "nadam": "keras.optimizers.Nadam",
}


def optimizer_code(ctx, rule, values: dict, params: str, codes: dict | None = None) -> tuple[str, dict]:
    """(torch optimizer expression, training-step extras such as clipping)."""
    data = rule.data
    codes = codes or {}
    kw: list[str] = []
    extras: dict = {}
    torch_class = data["torch"]
    rename = data.get("rename", {})
    given: dict[str, str] = {}
    for name, value in values.items():
        if name in ("clipnorm", "global_clipnorm", "clipvalue"):
            if value is not None:
                extras[name] = codes.get(name, repr(value))
            continue
        if name == "amsgrad":
            if value:
                given["amsgrad"] = "True"
            continue
        if name == "weight_decay":
            if value:
                given["weight_decay"] = codes.get(name, repr(value))
                if data.get("decoupled"):
                    torch_class = data["decoupled"]  # Keras decays decoupled, as this class does
                elif data.get("coupled_decay"):
                    extras["decoupled_decay_note"] = True
            continue
        if name in (data.get("betas") or []):
            continue
        if name == "learning_rate" and isinstance(value, _Schedule):
            given["lr"] = value.initial
            extras["schedule"] = value
            continue
        given[rename.get(name, name)] = codes.get(name, repr(value))
    betas = data.get("betas")
    if betas and any(b in values for b in betas):
        b1 = codes.get(betas[0], repr(values.get(betas[0], 0.9)))
        b2 = codes.get(betas[1], repr(values.get(betas[1], 0.999)))
        given["betas"] = f"({b1}, {b2})"
    for name, default in data.get("defaults", {}).items():
        given.setdefault(name, default)
    if "lr" in given:
        kw.append(f"lr={given.pop('lr')}")
    kw.extend(f"{k}={v}" for k, v in given.items())
    return f"{torch_class}({params}" + "".join(", " + k for k in kw) + ")", extras


class _Schedule:
    def __init__(self, initial: str, factor: str) -> None:
        self.initial = initial  # code of the initial learning rate
        self.factor = factor  # code of lambda step: multiplier


def optimizer(args, ctx, original):
    a = Args(args, ctx)
    params = ctx.facts.get("optimizer_params", {}).get(id(original))
    if params is None:
        raise Unconvertible(
            "cannot tell which model this optimizer trains (PyTorch optimizers take the parameters): "
            "use it in model.compile(optimizer=...) or apply_gradients(zip(grads, model.trainable_variables))"
        )
    values, codes = {}, {}
    for name, node in a.values.items():
        schedule = ctx.facts.get("schedules", {}).get(_name_of(args.get(name).original.value if args.get(name).original else None))
        if schedule is not None:
            values[name] = schedule
            continue
        ok, value = literal_value(node)
        if ok:
            values[name] = value
        elif isinstance(node, cst.Lambda):
            raise Unconvertible(f"{name}: assign the learning-rate schedule to a variable first; the optimizer then gets a LambdaLR scheduler")
        else:
            values[name] = None
            codes[name] = code_of(node).strip()
    text, extras = optimizer_code(ctx, args.rule, values, params, codes)
    ctx.facts.setdefault("optimizer_extras", {})[id(original)] = extras
    target = _assigned_name(ctx, original)
    if target:
        ctx.facts.setdefault("optimizer_extras_by_name", {})[target] = extras
        if isinstance(extras.get("schedule"), _Schedule):
            # the learning rate follows the schedule: a LambdaLR right after the optimizer,
            # stepped after each optimizer.step() (fit's loop, the tape's step)
            scheduler = _free_name(ctx, "scheduler", unique=True)
            ctx.facts.setdefault("schedulers", {})[target] = scheduler
            factor = extras["schedule"].factor
            line = f"{scheduler} = torch.optim.lr_scheduler.LambdaLR({target}, lambda step: {factor}(step) / {factor}(0))"
            statement = _statement_of(ctx, original)
            if statement is not None:
                ctx.facts.setdefault("append_after", {}).setdefault(id(statement), []).append(line)
    if extras.get("decoupled_decay_note"):
        ctx.warn(original, args.rule.source, "Keras applies weight_decay decoupled (as AdamW does); PyTorch's weight_decay here is L2 added to the gradient")
    return ctx.build(text)


def _name_of(node) -> str | None:
    return node.value if isinstance(node, cst.Name) else None


# -- schedules ---------------------------------------------------------------------

def schedule(args, ctx, original):
    """A Keras schedule becomes a function of the step; the optimizer it drives gets a LambdaLR."""
    a = Args(args, ctx)
    kind = args.rule.data["kind"]
    v = {name: a.literal(name) for name in a.values}
    if kind == "exponential":
        lr, steps, rate = v["initial_learning_rate"], v["decay_steps"], v["decay_rate"]
        exponent = f"(step // {steps})" if v.get("staircase") else f"(step / {steps})"
        body = f"{lr!r} * {rate!r} ** {exponent}"
    elif kind == "inverse_time":
        lr, steps, rate = v["initial_learning_rate"], v["decay_steps"], v["decay_rate"]
        t = f"(step // {steps})" if v.get("staircase") else f"(step / {steps})"
        body = f"{lr!r} / (1 + {rate!r} * {t})"
    elif kind == "piecewise":
        bounds, values = list(v["boundaries"]), list(v["values"])
        lr = values[0]
        body = f"{values!r}[sum(step > b for b in {bounds!r})]"
    elif kind == "cosine":
        lr, steps, alpha = v["initial_learning_rate"], v["decay_steps"], v.get("alpha", 0.0) or 0.0
        if v.get("warmup_steps"):
            raise Unconvertible("CosineDecay with warmup is not supported yet")
        body = f"{lr!r} * ((1 - {alpha!r}) * 0.5 * (1 + math.cos(math.pi * min(step, {steps}) / {steps})) + {alpha!r})"
        _need_import(ctx, "math")
    elif kind == "polynomial":
        lr, steps = v["initial_learning_rate"], v["decay_steps"]
        end, power = v.get("end_learning_rate", 0.0001), v.get("power", 1.0)
        if v.get("cycle"):
            raise Unconvertible("PolynomialDecay(cycle=True) is not supported yet")
        body = f"({lr!r} - {end!r}) * (1 - min(step, {steps}) / {steps}) ** {power!r} + {end!r}"
    elif kind == "cosine_restarts":
        lr, steps = v["initial_learning_rate"], v["first_decay_steps"]
        need_snippet(ctx, "cosine_decay_restarts")
        _need_import(ctx, "math")
        extra = "".join(f", {k}={v[k]!r}" for k in ("t_mul", "m_mul", "alpha") if k in v)
        body = f"cosine_decay_restarts(step, {lr!r}, {steps!r}{extra})"
    else:
        raise Unconvertible(f"schedule {kind}")
    target = _assigned_name(ctx, original)
    if target:
        ctx.facts.setdefault("schedules", {})[target] = _Schedule(repr(lr), target)
        statement = _statement_of(ctx, original)
        small = statement.body[0] if statement is not None and len(statement.body) == 1 else None
        if isinstance(small, cst.Assign) and small.value is original:
            # `decay = ExponentialDecay(...)` -> `def decay(step): return ...` (a function of the step)
            ctx.facts.setdefault("replace_with", {})[id(statement)] = [f"def {target}(step):", f"    return {body}"]
    return cst.parse_expression(f"lambda step: {body}")


def _statement_of(ctx, call):
    for fc in framework_calls(ctx):
        if fc.call is call:
            for node in reversed(fc.stack):
                if isinstance(node, cst.SimpleStatementLine):
                    return node
    return None


def _need_import(ctx, module: str) -> None:
    from ...engine.spelling import ImportNeed

    ctx.speller.needs.add(ImportNeed(module))


def _assigned_name(ctx, call) -> str | None:
    for fc in framework_calls(ctx):
        if fc.call is call:
            owner = fc.stack[-2] if len(fc.stack) >= 2 else None
            if isinstance(owner, cst.Assign) and len(owner.targets) == 1 and isinstance(owner.targets[0].target, cst.Name):
                return owner.targets[0].target.value
    return None


# -- which model an optimizer trains ---------------------------------------------

def analyze(ctx) -> None:
    source = ctx.scan.source
    if "optimizers" not in source and ".compile(" not in source and "apply_gradients" not in source:
        return
    params = ctx.facts.setdefault("optimizer_params", {})
    uses = _optimizer_uses(ctx)
    for fc in framework_calls(ctx):
        rule = ctx.ruleset.lookup(fc.api)
        if rule is None or rule.hook != "training.optimizer":
            continue
        parent = fc.stack[-2]
        model = None
        if isinstance(parent, cst.Arg) and parent.keyword is not None and parent.keyword.value == "optimizer":
            model = uses.get(("inline", id(fc.call)))
        else:
            target = _assigned_name(ctx, fc.call)
            if target:
                model = uses.get(("var", target))
        if model is not None:
            params[id(fc.call)] = f"{model}.parameters()"


def _optimizer_uses(ctx) -> dict:
    """(inline call id | optimizer variable) -> the model variable it trains."""
    found: dict = {}
    # the scan already found every `.compile`/`.apply_gradients`/`.minimize` name (method
    # rule names and TRIGGER_NAMES): their calls, without another walk over the module
    for hit in ctx.scan.hits:
        if hit.name.value not in ("compile", "apply_gradients", "minimize") or len(hit.stack) < 3:
            continue
        func, node = hit.stack[-2], hit.stack[-3]
        if not (isinstance(func, cst.Attribute) and func.attr is hit.name and isinstance(node, cst.Call) and node.func is func):
            continue
        if func.attr.value == "compile" and isinstance(func.value, cst.Name):
            for arg in node.args:
                if arg.keyword is not None and arg.keyword.value == "optimizer" or (arg.keyword is None and arg is node.args[0]):
                    if isinstance(arg.value, cst.Name):
                        found[("var", arg.value.value)] = func.value.value
                    elif isinstance(arg.value, cst.Call):
                        found[("inline", id(arg.value))] = func.value.value
        if func.attr.value in ("apply_gradients", "minimize") and isinstance(func.value, cst.Name):
            model = _model_of_variables(node)
            if model:
                found[("var", func.value.value)] = model
    # inside `def train_step(net, opt, ...)` called as train_step(model, optimizer, ...):
    # the optimizer variable trains the model variable
    from ...engine.types import parameter_aliases

    for aliases in parameter_aliases(ctx.module, ctx.resolver).values():
        for (kind, name), model in list(found.items()):
            if kind == "var" and name in aliases:
                found[("var", aliases[name])] = aliases.get(model, model)
    return found


def _model_of_variables(call: cst.Call) -> str | None:
    for node in _walk(call):
        if isinstance(node, cst.Attribute) and node.attr.value in ("trainable_variables", "trainable_weights", "variables", "weights") and isinstance(node.value, cst.Name):
            return node.value.value
    return None


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(source_children(n))


# -- compile ---------------------------------------------------------------------

# what each loss needs of its targets, and which accuracy goes with it
_LOSS_KINDS = {
    "keras.losses.SparseCategoricalCrossentropy": ("sparse", "torch.long"),
    "keras.losses.CategoricalCrossentropy": ("categorical", "torch.float32"),
    "keras.losses.BinaryCrossentropy": ("binary", "torch.float32"),
    "keras.losses.MeanSquaredError": ("regression", "torch.float32"),
    "keras.losses.MeanAbsoluteError": ("regression", "torch.float32"),
    "keras.losses.Huber": ("regression", "torch.float32"),
    "keras.losses.KLDivergence": ("distribution", "torch.float32"),
    "keras.losses.CosineSimilarity": ("regression", "torch.float32"),
    "keras.losses.Hinge": ("binary", "torch.float32"),
}


def _loss_kind(ctx, loss: cst.BaseExpression) -> tuple[str, str | None]:
    ok, value = literal_value(loss)
    if ok and isinstance(value, str):
        source, values = _LOSS_STRINGS.get(value, (None, {}))
        kind, dtype = _LOSS_KINDS.get(source, ("other", None))
        return kind, dtype
    node = loss
    if isinstance(loss, cst.Name):
        node = _assigned_value(ctx, loss.value) or loss
    if isinstance(node, cst.Call) and isinstance(node.func, (cst.Name, cst.Attribute)):
        qual = ctx.resolver.resolve_chain(node.func)
        from ...frameworks import canonical

        qual = canonical(qual) if qual else None
        rule = ctx.ruleset.lookup(qual) if qual else None
        kind, dtype = _LOSS_KINDS.get(rule.source if rule else None, ("other", None))
        if kind == "binary":
            for arg in node.args:
                if arg.keyword is not None and arg.keyword.value == "from_logits" and literal_value(arg.value) == (True, True):
                    kind = "binary_logits"
        return kind, dtype
    return "other", None


def _assigned_value(ctx, name: str):
    for stmt in ctx.module.body:
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
            small = stmt.body[0]
            if len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name) and small.targets[0].target.value == name:
                return small.value
    return None


def compile_statements(ctx, call: cst.Call, model: str) -> list[str]:
    """model.compile(...) -> assignments of the optimizer and the loss the training loop uses."""
    from .fitting import metric_kinds

    values: dict[str, cst.BaseExpression] = {}
    names = ["optimizer", "loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"]
    for i, arg in enumerate(call.args):
        key = arg.keyword.value if arg.keyword is not None else (names[i] if i < len(names) else None)
        values[key] = arg.value
    for bad in ("loss_weights", "weighted_metrics"):
        if bad in values:
            raise Unconvertible(f"compile({bad}=...) is not supported")
    lines = []
    info: dict = {"metrics": []}
    loss = values.get("loss")
    if loss is None:
        raise Unconvertible("compile() without a loss")
    loss_kind, info["target_dtype"] = _loss_kind(ctx, loss)
    metrics = values.get("metrics")
    if metrics is not None:
        ok, metric_values = literal_value(metrics)
        if not ok or not all(isinstance(m, str) for m in metric_values):
            raise Unconvertible("metrics must be a list of names ('accuracy', 'mae'...)")
        info["metrics"] = metric_kinds(ctx, list(metric_values), loss_kind)
    opt = values.get("optimizer", cst.SimpleString("'rmsprop'"))
    ok, opt_value = literal_value(opt)
    if ok and isinstance(opt_value, str):
        source = _OPTIMIZER_STRINGS.get(opt_value.lower())
        if source is None:
            raise Unconvertible(f"optimizer {opt_value!r} has no conversion")
        opt_name = _free_name(ctx, "optimizer", unique=True)
        rule = ctx.ruleset.lookup(source)
        text, extras = optimizer_code(ctx, rule, {}, f"{model}.parameters()")
        lines.append(f"{opt_name} = {text}")
        if rule.warn:
            ctx.warn(opt, rule.source, rule.warn)
    elif isinstance(opt, cst.Name):
        opt_name = opt.value
        extras = ctx.facts.get("optimizer_extras_by_name", {}).get(opt_name, {})
    elif isinstance(opt, cst.Call):
        opt_name = _free_name(ctx, "optimizer", unique=True)
        converted = ctx.updated(opt)
        if code_of(converted).strip() == code_of(opt).strip():
            raise Unconvertible("the optimizer could not be converted")
        extras = ctx.facts.get("optimizer_extras", {}).get(id(opt), {})
        lines.append(f"{opt_name} = {code_of(converted).strip()}")
    else:
        raise Unconvertible("the optimizer must be a name, a string or a constructor call")
    info["optimizer"] = opt_name
    info["extras"] = extras
    # Keras trains on the GPU when there is one: so does the converted loop
    device = ctx.facts.get("device_var")
    moves = [f"{model}.to({device})"] if device else []
    if device is None:
        device = ctx.facts["device_var"] = _free_name(ctx, "device", unique=True)
        moves = [f'{device} = torch.device("cuda" if torch.cuda.is_available() else "cpu")', f"{model}.to({device})"]
    lines[:0] = moves
    if opt_name in ctx.facts.get("schedulers", {}):
        info["scheduler"] = ctx.facts["schedulers"][opt_name]
    elif isinstance(extras.get("schedule"), _Schedule):
        scheduler = _free_name(ctx, "scheduler", unique=True)
        lines.append(f"{scheduler} = torch.optim.lr_scheduler.LambdaLR({opt_name}, lambda step: {extras['schedule'].factor}(step) / {extras['schedule'].factor}(0))")
        info["scheduler"] = scheduler
    ok, loss_value = literal_value(loss)
    if ok and isinstance(loss_value, str):
        loss_name = _free_name(ctx, "loss_fn", unique=True)
        code = loss_from_string(ctx, loss_value)
        if "functools." in code:
            _need_import(ctx, "functools")
        lines.append(f"{loss_name} = {code}")
    elif isinstance(loss, cst.Name):
        loss_name = loss.value
    else:
        loss_name = _free_name(ctx, "loss_fn", unique=True)
        converted = ctx.updated(loss)
        if code_of(converted).strip() == code_of(loss).strip():
            raise Unconvertible("the loss could not be converted")
        lines.append(f"{loss_name} = {code_of(converted).strip()}")
    info["loss"] = loss_name
    ctx.facts.setdefault("compiled", {})[model] = info
    return lines


def _free_name(ctx, base: str, unique: bool = False) -> str:
    """A name the file does not use. unique: also not one generated before (an
    optimizer); loop variables of separate generated loops may share names."""
    taken = ctx.facts.setdefault("_used_names", set()) if unique else set()
    bound = ctx.resolver.bindings.bound_values()
    name = base
    n = 2
    while name in taken or (name in bound and name not in ctx.facts.get("_own_names", set())):
        name = f"{base}{n}"
        n += 1
    taken.add(name)
    ctx.facts.setdefault("_own_names", set()).add(name)
    return name


def apply_gradients(args, ctx, original):
    raise Unconvertible("apply_gradients without the tape.gradient() it belongs to in the same block")


# -- statements: compile, and snippets at the top --------------------------------------

def on_compile(transformer, original, updated, call):
    """`model.compile(...)` -> the optimizer and loss assignments."""
    ctx = transformer.ctx
    receiver = call.func.value
    try:
        lines = compile_statements(ctx, call, receiver.value)
    except Unconvertible as exc:
        ctx.unconverted(call, "model.compile", str(exc))
        return updated
    ctx.converted(call, "model.compile", "optimizer and loss objects for the training loop")
    statements = []
    for i, line in enumerate(lines):
        for stmt in ctx.build_statements(line + "\n"):
            if i == 0:
                stmt = stmt.with_changes(leading_lines=original.leading_lines)
            statements.append(ctx.mark_new(stmt))
    if not statements:
        return cst.RemovalSentinel.REMOVE
    return cst.FlattenSentinel(statements)


def insert_snippets(transformer, original, updated):
    from ..snippet_writer import insert
    from .snippets import REGISTRY

    return insert(transformer.ctx, updated, REGISTRY)


def callback(args, ctx, original):
    """A Keras callback -> the small class of the same name and arguments (snippets.py) that
    the fit() helper calls at the end of each epoch."""
    from ...engine.transform import prepare

    name = args.rule.data["snippet"]
    need_snippet(ctx, name)
    parts, subs = [], {}
    for i, (source, _target, arg, positional) in enumerate(prepare(args.rule, args, ctx)):
        subs[f"a{i}"] = arg.value
        parts.append(f"{{a{i}}}" if positional else f"{source}={{a{i}}}")  # as the source wrote it
    return ctx.build(f"{name}({', '.join(parts)})", **subs)


def metric(args, ctx, original):
    """A Keras metric object -> the small class of the same interface (snippets.py)."""
    Args(args, ctx)  # drop/unsupported checks
    need_snippet(ctx, args.rule.data["snippet"])
    return ctx.build(args.rule.data["code"])


def device(args, ctx, original):
    """tf.device("/GPU:1") -> torch.device("cuda:1"); "/CPU:0" -> torch.device("cpu")."""
    a = Args(args, ctx)
    name = a.literal("device_name")
    m = re.fullmatch(r"/?(?:job:\w+/)?(?:replica:\d+/)?(?:task:\d+/)?(?:device:)?(CPU|GPU)(?::(\d+))?", str(name), re.I)
    if m is None:
        raise Unconvertible(f"device {name!r}: only CPU and GPU devices have a PyTorch name")
    if m.group(1).upper() == "CPU":
        target = "cpu"
    else:
        target = "cuda" if m.group(2) is None else f"cuda:{m.group(2)}"
    return ctx.build(f"torch.device({target!r})")

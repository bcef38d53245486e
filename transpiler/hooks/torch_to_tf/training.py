"""Training code: losses, optimizers, schedulers, the training step, modes, devices, saving.

PyTorch writes a training step as ``optimizer.zero_grad(); loss = ...;
loss.backward(); optimizer.step()``. TensorFlow records the forward pass on a
``tf.GradientTape`` and applies the gradients it gives::

    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        loss = criterion(labels, outputs)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))

The analyzer finds such steps (a ``backward()`` and the ``step()`` of an
optimizer after it, in one block), the statements the loss depends on (from the
first one that calls a model), and the mode each model is in where it is
called: PyTorch modules start in training mode and switch with
``train()``/``eval()``; Keras layers run in inference mode unless called with
``training=True``, so calls in training mode get it (for models with dropout or
batch norm). ``with torch.no_grad():`` keeps its body: TensorFlow records
gradients only on a tape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ...engine.build import code_of, is_simple
from ...engine.calls import Unconvertible, literal_value
from ...engine.query import framework_calls, resolve_call
from ...engine.types import Types
from ...engine.walk import source_children
from .._util import Args

STEP_MODELS = ("model",)


@dataclass
class Optimizer:
    name: str
    call: cst.Call
    api: str
    params: cst.BaseExpression | None
    weight_decay: cst.BaseExpression | None = None  # coupled (L2) decay, added to the gradients
    lr: cst.BaseExpression | None = None


@dataclass
class TrainStep:
    block: cst.CSTNode
    start: int  # first statement on the tape
    backward: int  # index of loss.backward()
    step: int  # index of optimizer.step()
    loss: cst.BaseExpression
    optimizer: str
    removed: set = field(default_factory=set)  # indices of zero_grad statements
    clips: dict = field(default_factory=dict)  # index -> clip call (between backward and step)
    variables: str = ""  # code of the variables (model.trainable_variables)
    variables_node: cst.BaseExpression | None = None
    models: list = field(default_factory=list)  # names of the models called on the tape


def _expr_call(stmt) -> cst.Call | None:
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr):
        value = stmt.body[0].value
        if isinstance(value, cst.Call):
            return value
    return None


def _method_of(call: cst.Call | None, *names: str):
    """The receiver of ``receiver.name(...)`` when name is one of ``names``."""
    if call is not None and isinstance(call.func, cst.Attribute) and call.func.attr.value in names:
        return call.func.value
    return None


def _walk(node, skip_functions: bool = False):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        for child in reversed(source_children(n)):
            if skip_functions and isinstance(child, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                continue
            stack.append(child)


def _scopes(module: cst.Module):
    """(scope, chain) for the module and every function, innermost scope first in the chain."""
    out = [(module, [module])]

    def visit(node, chain, in_class=False):
        for stmt in getattr(getattr(node, "body", None), "body", ()) if not isinstance(node, cst.Module) else node.body:
            for child in _compound_children(stmt):
                if isinstance(child, cst.FunctionDef):
                    inner = [child] + [c for c in chain if not isinstance(c, cst.ClassDef)]
                    out.append((child, inner))
                    visit(child, inner)
                elif isinstance(child, cst.ClassDef):
                    visit(child, [child] + chain, True)

    visit(module, [module])
    visit = None  # a recursive closure refers to itself: a reference cycle (docs/performance.md)
    return out


def _compound_children(stmt):
    """A statement and the statements nested in its blocks (not in nested functions)."""
    yield stmt
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        return
    for block in _blocks(stmt):
        for inner in block.body:
            yield from _compound_children(inner)


def _blocks(stmt):
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.IndentedBlock):
        yield body
    for handler in getattr(stmt, "handlers", ()) or ():
        yield handler.body
    for name in ("orelse", "finalbody"):
        part = getattr(stmt, name, None)
        if part is None:
            continue
        if isinstance(part, cst.If):
            yield from _blocks(part)
        elif isinstance(getattr(part, "body", None), cst.IndentedBlock):
            yield part.body


def _statement_blocks(scope):
    """Every statement list in a scope (its body and nested blocks), not in nested functions."""
    if isinstance(scope, cst.Module):
        yield scope
        body = scope.body
    else:
        yield scope.body
        body = scope.body.body
    for stmt in body:
        yield from _nested_blocks(stmt)


def _nested_blocks(stmt):
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        return
    for block in _blocks(stmt):
        yield block
        for inner in block.body:
            yield from _nested_blocks(inner)


# -- analysis -------------------------------------------------------------------------

def analyze(ctx) -> None:
    classes = ctx.facts.get("torch_classes", {})
    class_kinds = ctx.facts.setdefault("class_kinds", {})
    for name in classes:
        class_kinds[name] = "model"
    types = Types(ctx.resolver, ctx.ruleset, ctx.source_framework, ctx.facts)
    scopes = _scopes(ctx.module)
    _parameter_kinds(ctx, types, scopes)
    types = Types(ctx.resolver, ctx.ruleset, ctx.source_framework, ctx.facts)
    ctx.facts["_types"] = types
    _framework_objects(ctx)
    steps: dict[int, list[TrainStep]] = ctx.facts.setdefault("train_steps", {})
    on_tape: set[int] = set()
    for scope, chain in scopes:
        for block in _statement_blocks(scope):
            for step in _find_steps(ctx, types, block, chain):
                steps.setdefault(id(block), []).append(step)
                body = list(block.body)
                for i in range(step.start, step.backward):
                    on_tape.add(id(body[i]))
    ctx.facts["on_tape"] = on_tape
    _modes(ctx, types, scopes, on_tape)
    for fc in framework_calls(ctx):
        if fc.api in ("torch.no_grad", "torch.inference_mode", "torch.enable_grad", "torch.autograd.no_grad") and isinstance(fc.parent, cst.WithItem):
            ctx.owned.add(id(fc.call))
        if fc.api == "torch.load" and isinstance(fc.parent, cst.Arg) and len(fc.stack) >= 3:
            outer = fc.stack[-3]
            if isinstance(outer, cst.Call) and isinstance(outer.func, cst.Attribute) and outer.func.attr.value == "load_state_dict":
                ctx.owned.add(id(fc.call))


def _parameter_kinds(ctx, types: Types, scopes) -> None:
    """A module-level function's parameter has the kind every call site passes it
    (``check_accuracy(test_loader, model)``)."""
    functions = {scope.name.value: scope for scope, chain in scopes if isinstance(scope, cst.FunctionDef) and chain[-1] is ctx.module and len(chain) == 2}
    seen: dict[int, set] = {}
    for scope, chain in scopes:
        for node in _walk(scope.body if isinstance(scope, cst.FunctionDef) else scope, skip_functions=True):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in functions:
                fn = functions[node.func.value]
                params = list(fn.params.params)
                for i, arg in enumerate(node.args):
                    if arg.star:
                        break
                    param = None
                    if arg.keyword is None and i < len(params):
                        param = params[i]
                    elif arg.keyword is not None:
                        param = next((p for p in params if p.name.value == arg.keyword.value), None)
                    if param is not None:
                        seen.setdefault(id(param), set()).add(types.kind_of(arg.value, chain))
    param_kinds = ctx.facts.setdefault("param_kinds", {})
    for key, kinds in seen.items():
        if len(kinds) == 1 and None not in kinds and key not in param_kinds:
            param_kinds[key] = kinds.pop()


def _assigned_name(fc) -> str | None:
    parent = fc.parent
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
        return parent.targets[0].target.value
    return None


def _framework_objects(ctx) -> None:
    """Optimizers, losses and schedulers assigned to names: what their uses need to know."""
    optimizers = ctx.facts.setdefault("optimizers", {})
    devices = ctx.facts.setdefault("device_names", set())
    losses = ctx.facts.setdefault("losses", {})
    schedulers = ctx.facts.setdefault("schedulers", {})
    for fc in framework_calls(ctx):
        rule = ctx.ruleset.lookup(fc.api)
        if rule is None:
            continue
        name = _assigned_name(fc)
        if name is None:
            continue
        if rule.returns == "device":
            devices.add(name)
        if rule.hook == "training.optimizer":
            values = _bound(rule, fc.call)
            opt = Optimizer(name, fc.call, fc.api, values.get("params"), lr=values.get("lr"))
            wd = values.get("weight_decay")
            if wd is not None and not rule.data.get("decoupled") and code_of(wd).strip() not in ("0", "0.0"):
                opt.weight_decay = wd
            optimizers[name] = opt
        elif rule.hook == "training.loss":
            losses[name] = (fc.api, fc.call)
        elif rule.hook == "training.scheduler":
            values = _bound(rule, fc.call)
            schedulers[name] = values.get("optimizer")


def _bound(rule, call) -> dict:
    from ...engine.calls import bind_args

    try:
        return {b.name: b.value for b in bind_args(rule, call, call).bound}
    except Unconvertible:
        return {}


def _is_model_call(ctx, types, node, chain) -> bool:
    if not isinstance(node, cst.Call):
        return False
    func = node.func
    if isinstance(func, cst.Name):
        return types.kind_of(func, chain) in STEP_MODELS
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
        return ctx.facts.get("attribute_kinds", {}).get(func.attr.value) in ("module", "model")
    return False


def _find_steps(ctx, types, block, chain) -> list[TrainStep]:
    body = list(block.body)
    optimizers = ctx.facts.get("optimizers", {})
    found = []
    for i, stmt in enumerate(body):
        loss = _method_of(_expr_call(stmt), "backward")
        if loss is None or _expr_call(stmt).args:
            continue
        step_index, opt_name = None, None
        for j in range(i + 1, len(body)):
            receiver = _method_of(_expr_call(body[j]), "step")
            if isinstance(receiver, cst.Name) and (receiver.value in optimizers or types.kind_of(receiver, chain) == "optimizer"):
                step_index, opt_name = j, receiver.value
                break
        if step_index is None:
            continue
        step = TrainStep(block, 0, i, step_index, loss, opt_name)
        for k, other in enumerate(body):
            receiver = _method_of(_expr_call(other), "zero_grad")
            if receiver is not None and (k < step_index):
                step.removed.add(k)
                ctx.owned.add(id(_expr_call(other)))
        for k in range(i + 1, step_index):
            call = _expr_call(body[k]) or _assigned_call(body[k])
            api = resolve_call(ctx, call) if call is not None else None
            if api is not None and ctx.ruleset.lookup(api) is not None and ctx.ruleset.lookup(api).hook == "training.clip":
                step.clips[k] = call
                ctx.owned.add(id(call))
        step.start = _tape_start(ctx, types, body, i, chain, step.removed)
        for k in range(step.start, i):
            for n in _walk(body[k], skip_functions=True):
                if isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and _is_model_call(ctx, types, n, chain) and n.func.value not in step.models:
                    step.models.append(n.func.value)
        ctx.owned.add(id(_expr_call(stmt)))
        ctx.owned.add(id(_expr_call(body[step_index])))
        found.append(step)
    return found


def _assigned_call(stmt):
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
        value = stmt.body[0].value
        return value if isinstance(value, cst.Call) else None
    return None


def _reads(node) -> set[str]:
    out = set()
    for n in _walk(node):
        if isinstance(n, cst.Name):
            out.add(n.value)
    return out


def _writes(stmt) -> set[str]:
    out = set()
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            targets = []
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
            elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
                targets = [small.target]
            for t in targets:
                for n in _walk(t):
                    if isinstance(n, cst.Name):
                        out.add(n.value)
    return out


def _tape_start(ctx, types, body, backward: int, chain, removed: set) -> int:
    """The first statement the tape must record: of those the loss depends on, the
    first that calls a model (else the first of them)."""
    needed = _reads(_method_of(_expr_call(body[backward]), "backward"))
    depends = []
    for k in range(backward - 1, -1, -1):
        if k in removed:
            continue
        writes = _writes(body[k])
        if writes & needed:
            depends.append(k)
            needed |= _reads(body[k])
    if not depends:
        return backward
    depends.sort()
    for k in depends:
        if any(_is_model_call(ctx, types, n, chain) for n in _walk(body[k], skip_functions=True)):
            return k
    return depends[0]


def _modes(ctx, types, scopes, on_tape: set) -> None:
    """Which model calls run in training mode: ``facts["train_calls"]`` (ids of the called names)."""
    needs = _models_needing_training(ctx)
    train_calls = ctx.facts.setdefault("train_calls", set())
    unknown = ctx.facts.setdefault("unknown_mode_calls", set())
    for scope, chain in scopes:
        mode: dict[str, str | None] = {}
        body = scope.body if isinstance(scope, cst.Module) else scope.body.body
        for stmt in body:
            for inner in _compound_children(stmt):
                if isinstance(inner, (cst.FunctionDef, cst.ClassDef)):
                    continue
                _mode_statement(ctx, types, inner, chain, mode, needs, train_calls, unknown, on_tape)


def _models_needing_training(ctx) -> dict[str, bool]:
    out = {}
    for name, (kind, value) in ctx.facts.get("torch_models", {}).items():
        out[name] = value.needs_training
    return out


def _mode_statement(ctx, types, stmt, chain, mode, needs, train_calls, unknown, on_tape) -> None:
    if isinstance(stmt, cst.SimpleStatementLine):
        call = _expr_call(stmt)
        receiver = _method_of(call, "train", "eval")
        if isinstance(receiver, cst.Name) and types.kind_of(receiver, chain) in STEP_MODELS:
            if call.func.attr.value == "eval" or (call.args and code_of(call.args[0].value).strip() == "False"):
                mode[receiver.value] = "eval"
            else:
                mode[receiver.value] = "train"
            return
        for small in stmt.body:
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                for t in small.targets:
                    if isinstance(t.target, cst.Name) and types.kind_of(small.value, chain) in STEP_MODELS and not _is_model_call(ctx, types, small.value, chain):
                        mode[t.target.value] = "train"  # a new module starts in training mode
    nodes = [stmt] if isinstance(stmt, cst.SimpleStatementLine) else [n for n in _header_nodes(stmt)]
    for top in nodes:
        for node in _walk(top, skip_functions=True):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and _is_model_call(ctx, types, node, chain):
                name = node.func.value
                if needs.get(name) is False:
                    continue
                state = mode.get(name)
                if state == "train" or (state is None and id(stmt) in on_tape):
                    train_calls.add(id(node.func))
                elif state is None and needs.get(name):
                    unknown.add(id(node.func))


def _header_nodes(stmt):
    for name in ("test", "iter", "items"):
        value = getattr(stmt, name, None)
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            yield from value
        else:
            yield value


# -- hooks: losses -----------------------------------------------------------------------

def _reduction(a: Args, rule) -> str | None:
    """Keras's reduction for PyTorch's: None (the default mean), "sum" or "none"."""
    for legacy in ("size_average", "reduce"):
        if legacy in a:
            raise Unconvertible(f"'{legacy}' is deprecated in PyTorch: use reduction=")
    reduction = a.literal("reduction", "mean")
    if reduction == "mean":
        return None
    if reduction not in ("sum", "none"):
        raise Unconvertible(f"reduction={reduction!r}")
    if not rule.data.get("per_sample"):
        raise Unconvertible(
            f"reduction={reduction!r}: Keras's {rule.data['keras'].rsplit('.', 1)[-1]} averages over the last axis first; "
            "compute the elementwise loss with tf ops instead"
        )
    return reduction


def loss(args, ctx, original):
    a = Args(args, ctx)
    rule = args.rule
    data = rule.data
    if "weight" in a:
        raise Unconvertible("class weights: Keras losses weight samples, not classes (and PyTorch divides by the weights' sum)")
    if "pos_weight" in a:
        raise Unconvertible("pos_weight: use tf.nn.weighted_cross_entropy_with_logits")
    reduction = _reduction(a, rule)
    keras = data["keras"]
    kw = []
    if data.get("logits"):
        kw.append("from_logits=True")
    smoothing = a.literal("label_smoothing", 0.0)
    if smoothing:
        keras = "keras.losses.CategoricalCrossentropy"
        kw.append(f"label_smoothing={smoothing!r}")
    if "ignore_index" in a:
        if smoothing:
            raise Unconvertible("label_smoothing together with ignore_index")
        kw.append("ignore_class=" + code_of(a["ignore_index"]).strip())
    if data.get("smooth_l1"):
        beta = a.literal("beta", 1.0)
        if beta != 1:
            raise Unconvertible("SmoothL1Loss(beta != 1) is Huber(delta=beta) / beta")
        kw.append("delta=1.0")
    elif "delta" in a:
        kw.append("delta=" + code_of(a["delta"]).strip())
    if reduction == "sum":
        kw.append("reduction='sum'")
    elif reduction == "none":
        kw.append("reduction=None")
    if data.get("nll"):
        ctx.warn(original, rule.source, "NLLLoss expects log-probabilities: it is cross-entropy from logits on them (log_softmax leaves log-probabilities unchanged)")
    return ctx.build(keras + "(" + ", ".join(kw) + ")")


def loss_call(args, ctx, original):
    """criterion(prediction, target) -> criterion(target, prediction)."""
    a = Args(args, ctx)
    receiver = a.require("self")
    y_pred, y_true = a.require("input"), a.require("target")
    name = code_of(receiver).strip()
    info = ctx.facts.get("losses", {}).get(name)
    if info is not None:
        api, call = info
        smoothing = None
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "label_smoothing":
                smoothing = arg.value
        if smoothing is not None and code_of(smoothing).strip() not in ("0", "0.0"):
            # Keras smooths one-hot targets: as many classes as the prediction has
            if is_simple(y_pred):
                return ctx.build("{f}(tensorflow.one_hot({y}, tensorflow.shape({p})[-1]), {p})", f=receiver, y=y_true, p=y_pred)
            return ctx.build(
                "(lambda logits: {f}(tensorflow.one_hot({y}, tensorflow.shape(logits)[-1]), logits))({p})", f=receiver, y=y_true, p=y_pred
            )
    return ctx.build("{f}({y}, {p})", f=receiver, y=y_true, p=y_pred)


def loss_function(args, ctx, original):
    a = Args(args, ctx)
    rule = args.rule
    for name in ("weight", "pos_weight", "ignore_index", "label_smoothing"):
        if name in a and code_of(a[name]).strip() not in ("None", "-100", "0.0", "0"):
            raise Unconvertible(f"argument '{name}' is not converted for the functional loss; use the loss module")
    for legacy in ("size_average", "reduce"):
        if legacy in a:
            raise Unconvertible(f"'{legacy}' is deprecated in PyTorch: use reduction=")
    reduction = a.literal("reduction", "mean")
    per_element = ctx.build(rule.data["template"], input=a.require("input"), target=a.require("target"))
    if reduction == "mean":
        return ctx.build("tensorflow.reduce_mean({x})", x=per_element)
    if reduction == "sum":
        return ctx.build("tensorflow.reduce_sum({x})", x=per_element)
    if reduction == "none":
        return per_element
    raise Unconvertible(f"reduction={reduction!r}")


# -- hooks: optimizers and schedulers --------------------------------------------------------

def optimizer(args, ctx, original):
    a = Args(args, ctx)
    rule = args.rule
    data = rule.data
    for name in ("maximize", "differentiable", "capturable"):
        a.unsupported_unless(name, False, None)
    if "dampening" in a:
        a.unsupported_unless("dampening", 0, 0.0)
    if "lr_decay" in a:
        a.unsupported_unless("lr_decay", 0, 0.0)
    if a.literal("decoupled_weight_decay", False):
        raise Unconvertible("Adam(decoupled_weight_decay=True) is AdamW")
    kw = []
    lr = a.get("lr")
    kw.append("learning_rate=" + (code_of(lr).strip() if lr is not None else repr(data["lr"])))
    subs = {}
    if lr is not None and not literal_value(lr)[0]:
        subs["lr"] = lr
        kw[-1] = "learning_rate={lr}"
    if data.get("decoupled"):
        wd = a.get("weight_decay")
        if wd is not None:
            subs["wd"] = wd
        kw.append("weight_decay=" + ("{wd}" if wd is not None else repr(data["decoupled"])))
    keras = data["keras"]
    short = keras.rsplit(".", 1)[-1]
    if short in ("Adam", "AdamW"):
        betas = a.get("betas")
        if betas is not None:
            ok, value = literal_value(betas)
            if not ok or len(value) != 2:
                raise Unconvertible("betas must be a literal pair")
            kw += [f"beta_1={value[0]!r}", f"beta_2={value[1]!r}"]
        kw.append(_eps(a, data))
        if "amsgrad" in a and a.literal("amsgrad"):
            kw.append("amsgrad=True")
    elif short == "SGD":
        if "momentum" in a:
            subs["m"] = a["momentum"]
            kw.append("momentum={m}")
        if "nesterov" in a and a.literal("nesterov"):
            kw.append("nesterov=True")
    elif short == "RMSprop":
        alpha = a.literal("alpha", 0.99)
        kw.append(f"rho={alpha!r}")
        kw.append(_eps(a, data))
        if "momentum" in a:
            subs["m"] = a["momentum"]
            kw.append("momentum={m}")
        if "centered" in a and a.literal("centered"):
            kw.append("centered=True")
    elif short == "Adagrad":
        init = a.literal("initial_accumulator_value", 0.0)
        kw.append(f"initial_accumulator_value={float(init)!r}")
        kw.append(_eps(a, data))
    return ctx.build(keras + "(" + ", ".join(kw) + ")", **subs)


def _eps(a: Args, data) -> str:
    eps = a.literal("eps", data["eps"])
    if data.get("eps_inside_sqrt"):
        # Keras: lr * g / sqrt(v + eps); PyTorch: lr * g / (sqrt(v) + eps)
        return f"epsilon={float(eps) ** 2!r}"
    return f"epsilon={eps!r}"


def optimizer_method(args, ctx, original):
    name = args.rule.source
    if name == "zero_grad":
        raise Unconvertible("zero_grad() outside a training step the converter recognises (a backward() and an optimizer's step() in one block)")
    raise Unconvertible("optimizer.step() outside a training step the converter recognises (a backward() before it, in the same block)")


def scheduler(args, ctx, original):
    a = Args(args, ctx)
    data = args.rule.data
    if "last_epoch" in a:
        a.unsupported_unless("last_epoch", -1)
    opt_node = a.require("optimizer")
    opt = ctx.facts.get("optimizers", {}).get(code_of(opt_node).strip())
    subs = {}
    for key in ("step_size", "gamma", "T_max", "eta_min", "milestones"):
        if key in a:
            subs[key] = a[key]
        elif key in data:
            subs[key] = cst.parse_expression(data[key])
    if opt is not None and opt.lr is not None:
        lr = ctx.updated(opt.lr)
    elif opt is not None:
        lr = cst.parse_expression(repr(ctx.ruleset.lookup(opt.api).data["lr"]))
    else:
        lr = ctx.build("float({o}.learning_rate)", o=opt_node)
    subs["lr"] = lr
    template = data["template"]
    if "milestones" in subs:
        ok, milestones = literal_value(subs["milestones"])
        if not ok or not isinstance(milestones, (list, tuple)):
            raise Unconvertible("milestones must be a literal list")
        boundaries = [m - 1 for m in milestones]  # the learning rate changes after the milestone's step
        template = (
            f"keras.optimizers.schedules.PiecewiseConstantDecay({boundaries!r}, "
            f"[{{lr}} * {{gamma}} ** i for i in range({len(milestones) + 1})])"
        )
    return ctx.build(template, **{k: v for k, v in subs.items() if "{" + k + "}" in template})


def scheduler_step(args, ctx, original):
    a = Args(args, ctx)
    receiver = a.require("self")
    opt = ctx.facts.get("schedulers", {}).get(code_of(receiver).strip())
    if opt is None:
        raise Unconvertible("the scheduler's optimizer is not known here")
    info = ctx.facts.get("optimizers", {}).get(code_of(opt).strip())
    if info is not None and info.api in ("torch.optim.SGD", "torch.optim.RMSprop"):
        for arg in info.call.args:
            if arg.keyword is not None and arg.keyword.value == "momentum" and code_of(arg.value).strip() not in ("0", "0.0"):
                ctx.warn(receiver, "scheduler.step", "Keras keeps the learning rate inside the momentum buffer, PyTorch applies it after: after a change of rate the steps differ until the old momentum decays")
    count = _epoch_count(ctx)
    if count is None:
        raise Unconvertible("scheduler.step() outside a `for epoch in range(...)` loop: count the steps and assign optimizer.learning_rate")
    return ctx.build("{o}.learning_rate.assign({s}(" + count + "))", o=ctx.updated(opt), s=receiver)


def _epoch_count(ctx) -> str | None:
    for stmt in reversed(ctx.statement_stack):
        if isinstance(stmt, cst.For) and isinstance(stmt.target, cst.Name):
            it = stmt.iter
            if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range":
                name = stmt.target.value
                args = [x.value for x in it.args]
                start = 0
                if len(args) >= 2:
                    ok, start = literal_value(args[0])
                    if not ok or not isinstance(start, int):
                        return None
                if start == 0:
                    return f"{name} + 1"
                if start == 1:
                    return name
                return f"{name} - {start - 1}"
    return None


def scheduler_lr(args, ctx, original):
    a = Args(args, ctx)
    opt = ctx.facts.get("schedulers", {}).get(code_of(a.require("self")).strip())
    if opt is None:
        raise Unconvertible("the scheduler's optimizer is not known here")
    return ctx.build("[float({o}.learning_rate)]", o=ctx.updated(opt))


def clip(args, ctx, original):
    raise Unconvertible("gradient clipping outside a training step the converter recognises (between backward() and step())")


# -- hooks: modes, devices, saving ----------------------------------------------------------

def model_call(args, ctx, original):
    """model(x): training=True where the PyTorch module is in training mode."""
    receiver = original.args[0].value if original is not None and original.args else None
    call = args.call
    func = call.args[0].value
    rest = list(call.args[1:])
    key = id(receiver)
    if key in ctx.facts.get("train_calls", set()):
        if not any(r.keyword is not None and r.keyword.value == "training" for r in rest):
            if rest:
                rest[-1] = rest[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            rest.append(cst.Arg(keyword=cst.Name("training"), value=cst.Name("True"), equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))))
        return call.with_changes(func=func, args=rest)
    if key in ctx.facts.get("unknown_mode_calls", set()):
        ctx.warn(receiver, "model.__call__",
                 "cannot tell whether the model is in training mode here; Keras runs it in inference mode unless called with training=True")
    return call.with_changes(func=func, args=rest)


def mode(args, ctx, original):
    """model.train() / model.eval() / model.to(device): the model itself (the statement goes)."""
    return Args(args, ctx).require("self")


def model_to(args, ctx, original):
    """model.to(device) goes like mode(); model.to(dtype) casts the weights, which a Keras
    model decides when it is built (dtype=, keras.config.set_floatx): reported."""
    from .methods import _to_arguments

    a, items = _to_arguments(args, ctx)
    if "dtype" in a or any(what in ("dtype", "tensor") for _, _, what in items):
        raise Unconvertible("casts the model's weights: give the Keras layers dtype= (or keras.config.set_floatx) where the model is built")
    return a.require("self")


def device(args, ctx, original):
    a = Args(args, ctx)
    value = a.require("type")

    def name(node):
        ok, text = literal_value(node)
        if ok and isinstance(text, str):
            kind = text.split(":")[0]
            index = text.split(":")[1] if ":" in text else code_of(a["index"]).strip() if "index" in a else "0"
            if kind == "cuda":
                return cst.SimpleString(repr(f"/GPU:{index}"))
            if kind == "cpu":
                return cst.SimpleString(repr("/CPU:0"))
            if kind == "mps":
                return cst.SimpleString(repr("/GPU:0"))
            raise Unconvertible(f"device type {text!r}")
        if isinstance(node, cst.Name):
            if node.value not in ctx.resolver.bindings.bound_values() and node.value not in dir(__builtins__):
                ctx.warn(original, "torch.device", f"'{node.value}' is not defined in this file (the original raises NameError there too)")
            return node
        raise Unconvertible("a device chosen at run time: write the TensorFlow device name ('/GPU:0', '/CPU:0')")

    if isinstance(value, cst.IfExp):
        return value.with_changes(body=name(value.body), orelse=name(value.orelse))
    return name(value)


def _weights_file(ctx, node, original, api: str = "torch.save") -> cst.BaseExpression:
    ok, text = literal_value(node)
    if ok and isinstance(text, str):
        if not text.endswith(".weights.h5"):
            stem = text.rsplit(".", 1)[0] if text.rsplit("/", 1)[-1].count(".") else text
            new = stem + ".weights.h5"
            ctx.warn(original, api, f"Keras 3 weight files must end in .weights.h5: {text!r} -> {new!r}")
            return cst.SimpleString(repr(new))
        return node
    ctx.warn(original, api, "Keras 3 weight files must end in .weights.h5")
    return node


def save(args, ctx, original):
    a = Args(args, ctx)
    obj = a.require("obj")
    path = a.require("f")
    if isinstance(obj, cst.Call) and isinstance(obj.func, cst.Attribute) and obj.func.attr.value in ("state_dict", "get_weights"):
        model = obj.func.value
        return ctx.build("{m}.save_weights({f})", m=model, f=_weights_file(ctx, path, original))
    raise Unconvertible("torch.save of something other than model.state_dict(): save the model's weights with model.save_weights, other objects with pickle")


def state_dict(args, ctx, original):
    """model.state_dict() -> model.get_weights(): the weights as NumPy arrays (a list, in the
    order of model.weights; torch.save/load_state_dict of it become save_weights/load_weights)."""
    return ctx.build("{m}.get_weights()", m=Args(args, ctx).require("self"))


def load(args, ctx, original):
    raise Unconvertible("torch.load outside model.load_state_dict(torch.load(...)): load Keras weights with model.load_weights")


def load_state_dict(args, ctx, original):
    a = Args(args, ctx)
    model = a.require("self")
    value = a.require("state_dict")
    source = args.get("state_dict")
    node = source.original.value if source is not None and source.original is not None else None
    if isinstance(node, cst.Call) and resolve_call(ctx, node) == "torch.load":
        path = node.args[0].value if node.args else None
        if path is None:
            raise Unconvertible("torch.load without a file")
        ctx.consume_head(node.func)
        return ctx.build("{m}.load_weights({f})", m=model, f=_weights_file(ctx, ctx.updated(path), node, "torch.load"))
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "get_weights":
        return ctx.build("{m}.set_weights({w})", m=model, w=value)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("get_state_dict", "load_state_dict_from_url"):
        raise Unconvertible(
            "PyTorch's pretrained weights (a state_dict downloaded here): Keras cannot read them; convert them once with "
            "transpiler.weights.torch_to_keras.assign(model, info, state_dict) on the built model and save_weights() the result"
        )
    raise Unconvertible("load_state_dict of a state_dict not loaded here with torch.load: use model.load_weights(path) or model.set_weights(other.get_weights())")


# -- structural handlers ---------------------------------------------------------------------

def _unique(taken: set, name: str) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}{n}"
        n += 1
    return candidate


def _variables_of(ctx, step: TrainStep, chain_types=None) -> str | None:
    opt = ctx.facts.get("optimizers", {}).get(step.optimizer)
    params = opt.params if opt is not None else None
    if params is None:
        # an optimizer made elsewhere: the variables of the one model the tape calls
        if len(step.models) == 1:
            ctx.warn(step.loss, "optimizer.step", f"the optimizer is made elsewhere: its variables are taken to be {step.models[0]}'s")
            return step.models[0] + ".trainable_variables"
        return None
    if isinstance(params, cst.Call) and isinstance(params.func, cst.Name) and params.func.value == "list" and params.args:
        params = params.args[0].value
    if isinstance(params, cst.Call) and isinstance(params.func, cst.Attribute) and params.func.attr.value == "parameters" and not params.args:
        return code_of(params.func.value).strip() + ".trainable_variables"
    if isinstance(params, (cst.List, cst.Tuple)):
        return code_of(params).strip()
    return None


def on_block(transformer, original, updated):
    """A block with a training step: the tape, the gradients, apply_gradients."""
    ctx = transformer.ctx
    steps = ctx.facts.get("train_steps", {}).get(id(original))
    if not steps:
        return _carry_comments(transformer, original, updated)
    body = list(original.body)
    converted = []
    for stmt in body:
        new = ctx.results.get(id(stmt), stmt)
        converted.append(new)
    taken = set(re_names(ctx.scan.source))
    out: list = []
    handled: set[int] = set()
    replacements: dict[int, list] = {}
    for step in steps:
        variables = _variables_of(ctx, step)
        if variables is None:
            ctx.unconverted(body[step.backward], "tensor.backward", "the optimizer's parameters are not model.parameters() or a list: write the GradientTape step by hand")
            continue
        tape = _unique(taken, "tape")
        grads = _unique(taken, "grads")
        taken |= {tape, grads}
        opt = ctx.facts["optimizers"].get(step.optimizer)
        loss_code = code_of(ctx.updated(step.loss)).strip()
        inside = []
        for k in range(step.start, step.backward):
            if k in step.removed:
                continue
            item = converted[k]
            if item is cst.RemovalSentinel.REMOVE:
                continue
            inside.extend(item.nodes if isinstance(item, cst.FlattenSentinel) else [item])
            handled.add(k)
        if not inside:
            inside = [cst.SimpleStatementLine(body=[cst.Pass()])]
        with_stmt = ctx.build_statements(f"with tensorflow.GradientTape() as {tape}:\n    pass\n")[0]
        first = inside[0]
        with_stmt = with_stmt.with_changes(
            body=with_stmt.body.with_changes(body=[first.with_changes(leading_lines=[]), *inside[1:]]),
            leading_lines=first.leading_lines,
        )
        transformer.dirty.add(id(with_stmt))
        lines = [f"{grads} = {tape}.gradient({loss_code}, {variables})"]
        if opt is not None and opt.weight_decay is not None:
            lines.append(f"{grads} = [g + {code_of(ctx.updated(opt.weight_decay)).strip()} * v for g, v in zip({grads}, {variables})]")
        for k in range(step.backward + 1, step.step):
            if k in step.clips:
                lines.append(_clip_line(ctx, step.clips[k], body[k], grads))
                handled.add(k)
        after = [ctx.mark_new(s) for line in lines for s in ctx.build_statements(line, literal=True)]
        backward_lead = body[step.backward].leading_lines
        if after and backward_lead:
            after[0] = after[0].with_changes(leading_lines=backward_lead)
        apply = ctx.build_statements(f"{step.optimizer}.apply_gradients(zip({grads}, {variables}))", literal=True)[0]
        apply = ctx.mark_new(apply.with_changes(leading_lines=body[step.step].leading_lines))
        replacements[step.start] = [with_stmt]
        replacements[step.backward] = after
        replacements[step.step] = [apply]
        handled |= {step.backward, step.step} | step.removed
        ctx.converted(body[step.backward], "tensor.backward", "tf.GradientTape")
        ctx.converted(_expr_call(body[step.step]), "optimizer.step", "optimizer.apply_gradients")
        for k in step.removed:
            ctx.converted(_expr_call(body[k]), "optimizer.zero_grad", "(removed)", "a GradientTape computes fresh gradients")
    for k, stmt in enumerate(body):
        if k in replacements:
            out.extend(replacements[k])
            continue
        if k in handled:
            continue
        item = converted[k]
        if item is cst.RemovalSentinel.REMOVE:
            continue
        out.extend(item.nodes if isinstance(item, cst.FlattenSentinel) else [item])
    if not out:
        out = [cst.SimpleStatementLine(body=[cst.Pass()])]
    return _carry_comments(transformer, original, updated.with_changes(body=out))


def _replace(transformer, old, new):
    """``new`` stands for ``old``: it is formatted if ``old`` was to be."""
    ctx = transformer.ctx
    if id(old) in transformer.dirty:
        transformer.dirty.add(id(new))
    if id(old) in ctx.new_statements:
        ctx.new_statements.add(id(new))
    return new


def _carry_comments(transformer, original, updated):
    """Blank lines and comments above a statement the conversion removed stay, above the next one;
    functions made from statements (``T = transforms.Compose(...)``) get blank lines around them."""
    ctx = transformer.ctx
    updated = _space_definitions(transformer, original, updated)
    removed = ctx.facts.get("removed_statements", set())
    carried = []
    body = list(updated.body)
    kept = {id(ctx.results.get(id(s), s)) for s in original.body}
    for stmt in original.body:
        if id(stmt) in removed and stmt.leading_lines:
            carried.append((stmt, list(stmt.leading_lines)))
    if not carried:
        return None if updated is original else updated
    order = list(original.body)
    for stmt, lines in carried:
        index = order.index(stmt)
        for later in order[index + 1:]:
            new = ctx.results.get(id(later), later)
            if isinstance(new, cst.FlattenSentinel):
                new = new.nodes[0] if new.nodes else None
            if new is None or new is cst.RemovalSentinel.REMOVE or not any(n is new for n in body):
                continue
            i = next(j for j, n in enumerate(body) if n is new)
            own = list(new.leading_lines)
            merged = list(lines)
            if own and own[0].comment is None:
                # blank lines are not doubled: the removed statement's stand for the next one's
                while merged and merged[0].comment is None:
                    merged.pop(0)
                merged = [*own[:1], *merged] if merged else own[:1]
                own = own[1:]
            body[i] = _replace(transformer, new, new.with_changes(leading_lines=[*merged, *own]))
            ctx.results[id(later)] = body[i]
            break
    return updated.with_changes(body=body)


def _space_definitions(transformer, original, updated):
    ctx = transformer.ctx
    made = ctx.facts.get("new_definitions", set())
    if not made or not any(id(s) in made for s in updated.body):
        return updated
    want = 2 if isinstance(original, cst.Module) else 1
    body = list(updated.body)
    for i, stmt in enumerate(body):
        if id(stmt) in made or (i > 0 and id(body[i - 1]) in made):
            lines = list(stmt.leading_lines)
            blank = 0
            while blank < len(lines) and lines[blank].comment is None:
                blank += 1
            if i > 0 and blank < want:
                new = _replace(transformer, stmt, stmt.with_changes(leading_lines=[cst.EmptyLine()] * (want - blank) + lines))
                if id(stmt) in made:
                    made.add(id(new))
                body[i] = new
    return updated.with_changes(body=body)


def re_names(source: str) -> list[str]:
    import re

    return re.findall(r"[A-Za-z_]\w*", source)


def _clip_line(ctx, call: cst.Call, stmt, grads: str) -> str:
    api = resolve_call(ctx, call)
    args = [a.value for a in call.args]
    named = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    target = None
    if isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Assign):
        target = code_of(stmt.body[0].targets[0].target).strip()
    ctx.converted(call, api, "tf.clip_by_global_norm" if api.endswith("norm_") else "tf.clip_by_value")
    ctx.consume_head(call.func)
    if api.endswith("clip_grad_norm_"):
        norm = named.get("max_norm", args[1] if len(args) > 1 else None)
        if "norm_type" in named or len(args) > 2:
            nt = named.get("norm_type", args[2] if len(args) > 2 else None)
            if code_of(nt).strip() not in ("2", "2.0"):
                raise Unconvertible("clip_grad_norm_ with a norm other than 2")
        return f"{grads}, {target or '_'} = tf.clip_by_global_norm({grads}, {code_of(ctx.updated(norm)).strip()})"
    value = named.get("clip_value", args[1] if len(args) > 1 else None)
    v = code_of(ctx.updated(value)).strip()
    return f"{grads} = [tf.clip_by_value(g, -{v}, {v}) for g in {grads}]"


def on_with(transformer, original, updated):
    """``with torch.no_grad():`` -> its body (TensorFlow records gradients only on a tape)."""
    ctx = transformer.ctx
    if len(original.items) != 1:
        return None
    item = original.items[0].item
    if not isinstance(item, cst.Call) or id(item) not in ctx.owned:
        return None
    api = resolve_call(ctx, item)
    if api not in ("torch.no_grad", "torch.inference_mode", "torch.enable_grad", "torch.autograd.no_grad"):
        return None
    ctx.converted(item, api, "(removed)", "TensorFlow records gradients only inside a GradientTape")
    ctx.consume_head(item.func)
    statements = list(updated.body.body)
    if not statements:
        return cst.RemovalSentinel.REMOVE
    first = statements[0]
    comments = [line for line in original.leading_lines]
    statements[0] = first.with_changes(leading_lines=[*comments, *first.leading_lines])
    return cst.FlattenSentinel(statements)


_MODE_METHODS = {"train", "eval", "to", "cuda", "cpu"}


def on_statement(transformer, original, updated):
    """Drop ``model.train()``/``model.eval()``/``model.to(device)`` statements and ``model = model``;
    assign in-place results back (``x.add_(y)`` -> ``x = tf.math.add(x, y)``)."""
    ctx = transformer.ctx
    if len(original.body) != 1:
        return None
    name = ctx.facts.get("assign_back", {}).get(id(original))
    if name is not None and isinstance(updated, cst.SimpleStatementLine) and isinstance(updated.body[0], cst.Expr):
        value = updated.body[0].value
        return updated.with_changes(body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=value)])
    small = original.body[0]
    new_small = updated.body[0] if isinstance(updated, cst.SimpleStatementLine) and updated.body else None
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        receiver = _method_of(small.value, *_MODE_METHODS)
        if receiver is not None and isinstance(new_small, cst.Expr) and isinstance(new_small.value, (cst.Name, cst.Attribute)):
            ctx.facts.setdefault("removed_statements", set()).add(id(original))
            return cst.RemovalSentinel.REMOVE
    if isinstance(small, cst.Assign) and isinstance(new_small, cst.Assign) and len(new_small.targets) == 1:
        if code_of(new_small.targets[0].target).strip() == code_of(new_small.value).strip() and code_of(small.value).strip() != code_of(small.targets[0].target).strip():
            ctx.facts.setdefault("removed_statements", set()).add(id(original))
            return cst.RemovalSentinel.REMOVE
    return None

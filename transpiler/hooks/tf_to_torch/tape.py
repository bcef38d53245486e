"""Custom training steps: ``tf.GradientTape`` -> autograd.

The pattern TensorFlow code writes::

    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = loss_fn(y, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    grads, _ = tf.clip_by_global_norm(grads, 1.0)          # optional
    optimizer.apply_gradients(zip(grads, model.trainable_variables))

becomes what PyTorch code writes::

    model.train()
    logits = model(x)
    loss = loss_fn(logits, y)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()

The tape's block is unwrapped (autograd records every operation anyway); the
gradient and apply statements must be in the block that holds the ``with``.
``tape.watch(x)`` + ``tape.gradient(y, x)`` (gradients with respect to inputs)
become ``x.requires_grad_()`` and ``torch.autograd.grad``. Anything else done
with the gradients is reported, not guessed.
"""

from __future__ import annotations

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Deferred, Unconvertible
from ...engine.query import framework_calls
from ...engine.walk import source_children

_VARIABLES = ("trainable_variables", "trainable_weights")


def analyze(ctx) -> None:
    if "GradientTape" not in ctx.scan.source:
        return
    facts = ctx.facts
    facts.setdefault("with_kinds", {})["tape"] = "tape"  # `with GradientTape() as tape`: the tape itself
    withs = facts.setdefault("tape_withs", {})
    for fc in framework_calls(ctx):
        if fc.api != "tensorflow.GradientTape":
            continue
        stack = fc.stack[:-1]  # the call's ancestors
        if len(stack) < 3 or not isinstance(stack[-1], cst.WithItem) or not isinstance(stack[-2], cst.With):
            _fail(ctx, fc.call, "use the tape as `with tf.GradientTape() as tape:`")
            continue
        item, with_stmt = stack[-1], stack[-2]
        if len(with_stmt.items) != 1 or item.asname is None or not isinstance(item.asname.name, cst.Name):
            _fail(ctx, fc.call, "use the tape as `with tf.GradientTape() as tape:` on its own")
            continue
        for arg in fc.call.args:
            if arg.keyword is not None and arg.keyword.value == "persistent":
                _fail(ctx, fc.call, "persistent tapes (several gradient() calls) are not supported")
                break
        else:
            block = stack[-3]
            body = getattr(block, "body", None)
            if not isinstance(body, (list, tuple)):
                _fail(ctx, fc.call, "the tape's `with` must be a statement of a block")
                continue
            _plan_block(ctx, list(body), with_stmt, item.asname.name.value, fc.call)
    for with_id, info in list(withs.items()):
        if not info.get("ok"):
            withs.pop(with_id)


def _fail(ctx, call, reason: str) -> None:
    ctx.facts.setdefault("tape_failures", {})[id(call)] = reason


def _handled(ctx, call) -> None:
    """A call the statement handler rewrites with its statement: the walk leaves it (and
    the attributes in it, such as model.trainable_variables) alone."""
    ctx.facts.setdefault("tape_calls", set()).add(id(call))
    stack = [call]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Call, cst.Attribute)):
            ctx.owned.add(id(node))
        stack.extend(source_children(node))


def _method_call(node, name: str, receiver: str | None = None) -> cst.Call | None:
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == name:
        if receiver is None or (isinstance(node.func.value, cst.Name) and node.func.value.value == receiver):
            return node
    return None


def _small(stmt):
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        return stmt.body[0]
    return None


def _model_of(node) -> str | None:
    """`model.trainable_variables` -> "model"."""
    if isinstance(node, cst.Attribute) and node.attr.value in _VARIABLES and isinstance(node.value, cst.Name):
        return node.value.value
    return None


def _plan_block(ctx, body: list, with_stmt: cst.With, tape: str, tape_call: cst.Call) -> None:
    statements = ctx.facts.setdefault("tape_statements", {})
    withs = ctx.facts.setdefault("tape_withs", {})
    watched: set[str] = set()
    for stmt in _walk_statements(with_stmt.body):
        small = _small(stmt)
        call = _method_call(small.value, "watch", tape) if isinstance(small, cst.Expr) else None
        if call is not None and call.args and isinstance(call.args[0].value, cst.Name):
            name = call.args[0].value.value
            watched.add(name)
            statements[id(stmt)] = [f"{name}.requires_grad_(True)"]
            _handled(ctx, call)
    start = body.index(with_stmt) + 1
    pending: dict[str, dict] = {}  # gradient variable -> plan
    done = False
    for stmt in body[start:]:
        small = _small(stmt)
        if small is None:
            continue
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            call = _method_call(small.value, "gradient", tape)
            target = small.targets[0].target
            if call is not None:
                if len(call.args) < 2 or any(a.keyword is not None for a in call.args[:2]):
                    _fail(ctx, call, "tape.gradient(target, sources) with two positional arguments")
                    continue
                loss, sources = call.args[0].value, call.args[1].value
                model = _model_of(sources)
                if model is not None and isinstance(target, cst.Name):
                    pending[target.value] = {"stmt": stmt, "call": call, "loss": loss, "model": model, "clip": None}
                    continue
                names = [sources.value] if isinstance(sources, cst.Name) else (
                    [e.value.value for e in sources.elements if isinstance(e.value, cst.Name)]
                    if isinstance(sources, (cst.List, cst.Tuple)) else None
                )
                if names and all(n in watched for n in names):
                    many = not isinstance(sources, cst.Name)
                    src = f"[{', '.join(names)}]" if many else names[0]
                    statements[id(stmt)] = [f"{code_of(target).strip()} = torch.autograd.grad({{loss}}, {src}){'' if many else '[0]'}"]
                    ctx.facts.setdefault("tape_subs", {})[id(stmt)] = {"loss": loss}
                    _handled(ctx, call)
                    done = True
                    continue
                _fail(ctx, call, "gradients with respect to something other than model.trainable_variables or watched tensors")
                continue
            # grads, _ = tf.clip_by_global_norm(grads, norm)
            value = small.value
            if isinstance(value, cst.Call) and isinstance(target, cst.Tuple) and value.args:
                qual = ctx.resolver.resolve_chain(value.func) if isinstance(value.func, (cst.Name, cst.Attribute)) else None
                first = value.args[0].value
                if qual and qual.endswith("clip_by_global_norm") and isinstance(first, cst.Name) and first.value in pending:
                    elements = target.elements
                    if isinstance(elements[0].value, cst.Name) and elements[0].value.value == first.value and len(value.args) >= 2:
                        plan = pending[first.value]
                        plan["clip"] = (stmt, value, value.args[1].value, elements[1].value)
                        continue
        if isinstance(small, cst.Expr):
            call = _method_call(small.value, "apply_gradients")
            if call is not None and isinstance(call.func.value, cst.Name) and call.args:
                pairs = call.args[0].value
                if (
                    isinstance(pairs, cst.Call) and isinstance(pairs.func, cst.Name) and pairs.func.value == "zip"
                    and len(pairs.args) == 2 and isinstance(pairs.args[0].value, cst.Name)
                    and pairs.args[0].value.value in pending
                ):
                    plan = pending.pop(pairs.args[0].value.value)
                    if _model_of(pairs.args[1].value) != plan["model"]:
                        _fail(ctx, call, "apply_gradients to other variables than the gradients were taken of")
                        continue
                    _emit(ctx, plan, call, stmt)
                    done = True
                    continue
    for plan in pending.values():
        _fail(ctx, plan["call"], "the gradients are not passed to optimizer.apply_gradients(zip(grads, model.trainable_variables)) in the same block")
    if done:
        withs[id(with_stmt)] = {"tape": tape, "ok": True}
        _handled(ctx, tape_call)
    else:
        _fail(ctx, tape_call, "no tape.gradient() + apply_gradients() in the block of the `with`")


def _walk_statements(block):
    """Every statement of ``block`` and of the blocks nested in it (if/else, loops, with, try)."""
    for stmt in getattr(block, "body", ()):
        yield from _statement_and_nested(stmt)


def _statement_and_nested(stmt):
    yield stmt
    if isinstance(stmt, cst.BaseCompoundStatement):
        yield from _walk_statements(stmt.body)
        for part in (getattr(stmt, "orelse", None), *getattr(stmt, "handlers", ()), getattr(stmt, "finalbody", None)):
            if isinstance(part, cst.If):  # elif: a statement of its own
                yield from _statement_and_nested(part)
            elif part is not None:
                yield from _walk_statements(part.body)


def _emit(ctx, plan: dict, apply_call: cst.Call, apply_stmt) -> None:
    statements = ctx.facts["tape_statements"]
    subs = ctx.facts.setdefault("tape_subs", {})
    optimizer = apply_call.func.value.value
    model = plan["model"]
    lines = [f"{optimizer}.zero_grad()", "{loss}.backward()"]
    subs[id(plan["stmt"])] = {"loss": plan["loss"]}
    _handled(ctx, plan["call"])
    if plan["clip"] is not None:
        clip_stmt, clip_call, norm, norm_target = plan["clip"]
        keep = isinstance(norm_target, cst.Name) and norm_target.value != "_"
        statements[id(clip_stmt)] = [("{norm_target} = " if keep else "") + f"torch.nn.utils.clip_grad_norm_({model}.parameters(), {{norm}})"]
        ctx.facts.setdefault("tape_reports", {})[id(clip_stmt)] = (clip_call, "tensorflow.clip_by_global_norm", "torch.nn.utils.clip_grad_norm_")
        subs[id(clip_stmt)] = {"norm": norm, **({"norm_target": norm_target} if keep else {})}
        _handled(ctx, clip_call)
    statements[id(plan["stmt"])] = lines
    statements[id(apply_stmt)] = [f"{optimizer}.step()"]
    ctx.facts.setdefault("tape_steps", {})[id(apply_stmt)] = optimizer
    _handled(ctx, apply_call)
    ctx.facts.setdefault("trained_models", set()).add(model)


# -- call hooks: the statement handler does the work ---------------------------------

def _check(ctx, call) -> None:
    if id(call) in ctx.facts.get("tape_calls", ()):
        raise Deferred()
    reason = ctx.facts.get("tape_failures", {}).get(id(call))
    raise Unconvertible(reason or "only `with tf.GradientTape() as tape:` + tape.gradient + apply_gradients in one block is converted")


def gradient_tape(args, ctx, original):
    _check(ctx, original)


def tape_method(args, ctx, original):
    _check(ctx, ctx.method_call)


def clip_by_global_norm(args, ctx, original):
    _check(ctx, original)


def apply_gradients(args, ctx, original):
    _check(ctx, ctx.method_call)


# -- statement handlers ----------------------------------------------------------------

def on_with(transformer, original, updated):
    ctx = transformer.ctx
    info = ctx.facts.get("tape_withs", {}).get(id(original))
    if info is None:
        return None
    ctx.converted(original, "tensorflow.GradientTape", "autograd (the block runs as it is)")
    _check_unknown_calls(transformer, original)
    for item in original.items:
        ctx.consume_subtree(item)
    body = list(updated.body.body)
    if not body:
        return cst.RemovalSentinel.REMOVE
    comments = [line for line in original.leading_lines]
    body[0] = body[0].with_changes(leading_lines=[*comments, *body[0].leading_lines])
    return cst.FlattenSentinel(body)


def _check_unknown_calls(transformer, with_stmt) -> None:
    """In the tape's block, calls of values the file does not define (a fragment's
    ``model`` and ``loss_fn``) are named in the report: their arguments differ in PyTorch."""
    ctx = transformer.ctx
    chain = ctx.resolver.chain_of(tuple(transformer.stack))
    defined = {  # the file's own functions and classes: their arguments are the user's
        stmt.name.value for stmt in (ctx.module.body if ctx.module is not None else ())
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef))
    }
    stack = [with_stmt.body]
    while stack:
        node = stack.pop()
        stack.extend(source_children(node))
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Name)) or ctx.types is None:
            continue
        if ctx.types.kind_of(node.func, chain) is not None or ctx.resolver.resolve_chain(node.func) is not None:
            continue
        name = node.func.value
        if name in defined:
            continue
        if any(a.keyword is not None and a.keyword.value == "training" for a in node.args):
            ctx.unconverted(node, "model.__call__", f"cannot tell whether '{name}' is a Keras model (not defined in this file): a PyTorch module takes no training= argument; call {name}.train() before")
        elif len(node.args) == 2 and all(a.keyword is None for a in node.args):
            ctx.warn(node, "loss.__call__", f"'{name}' is not defined in this file: if it is a Keras loss, the PyTorch loss takes (prediction, target), the reverse of Keras's (y_true, y_pred)")


def on_statement(transformer, original, updated):
    ctx = transformer.ctx
    lines = ctx.facts.get("tape_statements", {}).get(id(original))
    if lines is None:
        return None
    optimizer = ctx.facts.get("tape_steps", {}).get(id(original))
    scheduler = ctx.facts.get("schedulers", {}).get(optimizer) if optimizer else None
    if scheduler:  # stepped with the optimizer, as Keras reads the schedule at each update
        lines = [*lines, f"{scheduler}.step()"]
    subs = {}
    for name, node in ctx.facts.get("tape_subs", {}).get(id(original), {}).items():
        subs[name] = ctx.updated(node) if hasattr(ctx, "updated") else node
    statements = ctx.build_statements("\n".join(lines) + "\n", **subs)
    ctx.consume_subtree(original)  # the statement is written anew (the loss expression was converted before)
    named = ctx.facts.get("tape_reports", {}).get(id(original))
    if named is not None:
        ctx.converted(*named)
    ctx.converted(original.body[0], "GradientTape step", "; ".join(lines).replace("{", "").replace("}", ""))
    out = []
    for i, stmt in enumerate(statements):
        if i == 0:
            stmt = stmt.with_changes(leading_lines=original.leading_lines)
        out.append(ctx.mark_new(stmt))
    return cst.FlattenSentinel(out)


def mode_switch(transformer, original, updated):
    """`model(x, training=True)` -> `model.train()` before the statement (PyTorch keeps
    the mode on the module); `training=False` -> `model.eval()`; a variable -> `model.train(flag)`."""
    ctx = transformer.ctx
    if ctx.types is None or id(original) not in _statements_with_training_calls(ctx):
        return None
    chain = ctx.resolver.chain_of(tuple(transformer.stack))
    switches: list[str] = []
    subs: dict = {}
    stack = [original]
    while stack:
        node = stack.pop()
        stack.extend(source_children(node))
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Name)):
            continue
        flag = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == "training"), None)
        if flag is None or ctx.types.kind_of(node.func, chain) != "model":
            continue
        model = node.func.value
        if isinstance(flag, cst.Name) and flag.value in ("True", "False"):
            line = f"{model}.train()" if flag.value == "True" else f"{model}.eval()"
        elif isinstance(flag, cst.Name) and flag.value == "None":
            line = f"{model}.eval()"
        else:
            key = f"flag{len(subs)}"
            subs[key] = ctx.updated(flag)
            line = f"{model}.train({{{key}}})"
        if line not in switches:
            switches.append(line)
    if not switches:
        return None
    new = [ctx.mark_new(s) for s in ctx.build_statements("\n".join(switches) + "\n", **subs)]
    new[0] = new[0].with_changes(leading_lines=updated.leading_lines)
    return cst.FlattenSentinel([*new, updated.with_changes(leading_lines=[])])


def _statements_with_training_calls(ctx) -> set[int]:
    """Statements holding a call ``name(..., training=...)`` of a scanned name (models
    are followed names), found once from the scan's hits."""
    found = ctx.facts.get("_training_statements")
    if found is None:
        found = set()
        for hit in ctx.scan.hits if "training" in ctx.scan.source else ():
            stack = hit.stack
            if len(stack) < 2 or not isinstance(stack[-2], cst.Call) or stack[-2].func is not hit.name:
                continue
            if any(a.keyword is not None and a.keyword.value == "training" for a in stack[-2].args):
                for node in reversed(stack):
                    if isinstance(node, cst.SimpleStatementLine):
                        found.add(id(node))
                        break
        ctx.facts["_training_statements"] = found
    return found

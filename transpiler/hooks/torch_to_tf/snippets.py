"""Small helpers the converted TensorFlow code may need, written once per output file.

Some PyTorch behaviour has no one-line TensorFlow form: a slice store writes into a
tensor, and TensorFlow tensors are immutable. The conversion writes the helper it
needs, once, after the file's imports, as plain code the user can read and edit
(hooks/snippet_writer.py). Names are written in full and spelled like the rest of
the output.
"""

from __future__ import annotations

from ..snippet_writer import Registry, insert

REGISTRY = Registry()
snippet = REGISTRY.snippet


snippet("slice_update")('''
def slice_update(tensor, key, value):
    """PyTorch's `tensor[key] = value` for an immutable TensorFlow tensor: the updated copy.

    key is the index as a tuple (`np.s_[:, 1:]`): integers, slices, `...` and None; value is
    broadcast to the selected elements and cast to tensor's dtype, as PyTorch does.
    """
    positions = tensorflow.reshape(tensorflow.range(tensorflow.size(tensor)), tensorflow.shape(tensor))[key]
    updates = tensorflow.broadcast_to(tensorflow.cast(value, tensor.dtype), tensorflow.shape(positions))
    flat = tensorflow.tensor_scatter_nd_update(
        tensorflow.reshape(tensor, [-1]), tensorflow.reshape(positions, [-1, 1]), tensorflow.reshape(updates, [-1])
    )
    return tensorflow.reshape(flat, tensorflow.shape(tensor))
''')


snippet("scaled_dot_product_attention", imports=("math",))('''
def scaled_dot_product_attention(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """PyTorch's F.scaled_dot_product_attention (its reference formula): softmax(q k^T * scale
    + mask) v on (..., length, dim) tensors. A bool attn_mask keeps the True positions; another
    attn_mask is added to the scores; is_causal masks the upper triangle (top-left aligned)."""
    if enable_gqa:
        key = tensorflow.repeat(key, query.shape[-3] // key.shape[-3], axis=-3)
        value = tensorflow.repeat(value, query.shape[-3] // value.shape[-3], axis=-3)
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    scores = tensorflow.matmul(query, key, transpose_b=True) * scale
    masked = tensorflow.constant(float("-inf"), scores.dtype)
    if is_causal:
        causal = tensorflow.linalg.band_part(tensorflow.ones([tensorflow.shape(query)[-2], tensorflow.shape(key)[-2]], tensorflow.bool), -1, 0)
        scores = tensorflow.where(causal, scores, masked)
    if attn_mask is not None:
        if attn_mask.dtype == tensorflow.bool:
            scores = tensorflow.where(attn_mask, scores, masked)
        else:
            scores = scores + tensorflow.cast(attn_mask, scores.dtype)
    weights = tensorflow.nn.softmax(scores, axis=-1)
    if dropout_p > 0.0:
        weights = tensorflow.nn.dropout(weights, rate=dropout_p)
    return tensorflow.matmul(weights, value)
''')


def helper_call(args, ctx, original):
    """A PyTorch function with no TensorFlow counterpart -> the same computation as a small
    function written once in the output (REGISTRY), called with the arguments as the source
    gave them (keywords named as the rule renames them)."""
    from ...engine.transform import prepare

    name = args.rule.data["snippet"]
    need_snippet(ctx, name)
    parts, subs = [], {}
    for i, (_source, target, arg, positional) in enumerate(prepare(args.rule, args, ctx)):
        subs[f"a{i}"] = arg.value
        parts.append(f"{{a{i}}}" if positional else f"{target}={{a{i}}}")
    return ctx.build(f"{name}({', '.join(parts)})", **subs)


def need_snippet(ctx, name: str) -> None:
    """The helper ``name`` is written into this file, once."""
    from ..snippet_writer import need

    need(ctx, REGISTRY, name)


def insert_snippets(transformer, original, updated):
    return insert(transformer.ctx, updated, REGISTRY)

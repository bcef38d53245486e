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


snippet("StochasticDepthLayer")('''
class StochasticDepthLayer(keras.layers.Layer):
    """torchvision.ops.StochasticDepth: in training, drops the residual branch of each sample
    (mode "row") or of the whole batch (mode "batch") with probability p, and scales what it
    keeps by 1 / (1 - p); the identity in inference."""

    def __init__(self, p, mode, **kwargs):
        super().__init__(**kwargs)
        if p < 0.0 or p > 1.0:
            raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
        if mode not in ["batch", "row"]:
            raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
        self.p = p
        self.mode = mode

    def call(self, inputs, training=None):
        if not training or self.p == 0.0:
            return inputs
        survival_rate = 1.0 - self.p
        rank = len(inputs.shape)
        size = [tensorflow.shape(inputs)[0]] + [1] * (rank - 1) if self.mode == "row" else [1] * rank
        noise = tensorflow.cast(tensorflow.random.uniform(size) < survival_rate, inputs.dtype)
        if survival_rate > 0.0:
            noise = noise / survival_rate
        return inputs * noise
''')


def helper_call(args, ctx, original):
    """A PyTorch function with no TensorFlow counterpart -> the same computation as a small
    function written once in the output (REGISTRY)."""
    from ..snippet_writer import helper_call as call_helper

    return call_helper(ctx, REGISTRY, args)


def need_snippet(ctx, name: str) -> None:
    """The helper ``name`` is written into this file, once."""
    from ..snippet_writer import need

    need(ctx, REGISTRY, name)


def insert_snippets(transformer, original, updated):
    return insert(transformer.ctx, updated, REGISTRY)


snippet("smooth_l1_loss")('''
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """PyTorch's F.smooth_l1_loss: 0.5 * d**2 / beta where |d| < beta, else |d| - 0.5 * beta
    (plain |d| for beta = 0), d = input - target, reduced by reduction ("mean", "sum", "none")."""
    diff = tensorflow.abs(input - target)
    if beta == 0.0:
        loss = diff
    else:
        loss = tensorflow.where(diff < beta, 0.5 * tensorflow.square(diff) / beta, diff - 0.5 * beta)
    if reduction == "mean":
        return tensorflow.reduce_mean(loss)
    if reduction == "sum":
        return tensorflow.reduce_sum(loss)
    return loss
''')


snippet("functional_layer_norm")('''
def functional_layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """PyTorch's F.layer_norm: normalises over the last len(normalized_shape) dimensions
    (biased variance), then scales by weight and shifts by bias when given."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    axes = list(range(-len(normalized_shape), 0))
    mean, variance = tensorflow.nn.moments(input, axes, keepdims=True)
    output = (input - mean) * tensorflow.math.rsqrt(variance + eps)
    if weight is not None:
        output = output * weight
    if bias is not None:
        output = output + bias
    return output
''')


snippet("unique_consecutive")('''
def unique_consecutive(input):
    """PyTorch's torch.unique_consecutive(input) (no dim): the flattened input with each run
    of equal consecutive elements reduced to one element."""
    flat = tensorflow.reshape(input, [-1])
    keep = tensorflow.concat([tensorflow.ones_like(flat[:1], dtype=tensorflow.bool), flat[1:] != flat[:-1]], axis=0)
    return tensorflow.boolean_mask(flat, keep)
''')

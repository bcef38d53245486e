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


def need_snippet(ctx, name: str) -> None:
    """The helper ``name`` is written into this file, once."""
    from ..snippet_writer import need

    need(ctx, REGISTRY, name)


def insert_snippets(transformer, original, updated):
    return insert(transformer.ctx, updated, REGISTRY)

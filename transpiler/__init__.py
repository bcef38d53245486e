"""TensorFlow/Keras <-> PyTorch source-to-source converter.

Use :func:`transpiler.convert_source` from Python, or the ``transpiler`` command.
"""

__version__ = "0.1.0"


def convert_source(text, **kwargs):
    """See :func:`transpiler.api.convert_source`."""
    from .api import convert_source as _convert

    return _convert(text, **kwargs)

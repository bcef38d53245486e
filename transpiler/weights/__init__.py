"""Moving trained weights between a Keras model and its converted PyTorch module.

The converter knows, for every model it converts, which PyTorch parameter each
Keras weight becomes and how its layout changes (ConversionResult.models);
`transforms.py` applies those changes to arrays (NumPy only). Importing this
package does not import TensorFlow or PyTorch.
"""

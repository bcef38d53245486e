"""A small TensorFlow program: tensors, math and activations (bundled example)."""
import tensorflow as tf

x = tf.constant([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
w = tf.Variable(tf.random.normal([3, 2], stddev=0.1))

h = tf.nn.relu(tf.matmul(x, w))
probs = tf.nn.softmax(h, axis=-1)
total = tf.reduce_sum(probs, axis=1, keepdims=True)
best = tf.argmax(probs, axis=1)
print(tf.reduce_mean(tf.square(x)), best)
# an API without a rule is kept and reported
y = tf.linalg.expm(tf.eye(2))

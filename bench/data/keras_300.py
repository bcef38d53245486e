"""Image classifier: data pipeline, model, custom training loop (bench input)."""
import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

BATCH = 32
EPOCHS = 3
NUM_CLASSES = 10


def make_data(n=256, size=32):
    x = np.random.rand(n, size, size, 3).astype("float32")
    y = np.random.randint(0, NUM_CLASSES, size=(n,))
    return x, y


def normalize(images):
    mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    std = tf.math.reduce_std(images, axis=[1, 2], keepdims=True)
    return (images - mean) / tf.maximum(std, 1e-6)


class Block1(layers.Layer):
    """Residual block number 1."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv_a = layers.Conv2D(filters, 3, padding="same")
        self.bn_a = layers.BatchNormalization()
        self.conv_b = layers.Conv2D(filters, 3, padding="same")
        self.bn_b = layers.BatchNormalization()

    def call(self, inputs, training=False):
        x = self.conv_a(inputs)
        x = self.bn_a(x, training=training)
        x = tf.nn.relu(x)
        x = self.conv_b(x)
        x = self.bn_b(x, training=training)
        scale = tf.sigmoid(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        return tf.nn.relu(x * scale + inputs)


def head_1(features):
    pooled = tf.reduce_mean(features, axis=[1, 2])
    logits = tf.matmul(pooled, tf.ones([tf.shape(pooled)[-1], NUM_CLASSES]))
    return tf.nn.softmax(logits, axis=-1)


class Block2(layers.Layer):
    """Residual block number 2."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv_a = layers.Conv2D(filters, 3, padding="same")
        self.bn_a = layers.BatchNormalization()
        self.conv_b = layers.Conv2D(filters, 3, padding="same")
        self.bn_b = layers.BatchNormalization()

    def call(self, inputs, training=False):
        x = self.conv_a(inputs)
        x = self.bn_a(x, training=training)
        x = tf.nn.relu(x)
        x = self.conv_b(x)
        x = self.bn_b(x, training=training)
        scale = tf.sigmoid(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        return tf.nn.relu(x * scale + inputs)


def head_2(features):
    pooled = tf.reduce_mean(features, axis=[1, 2])
    logits = tf.matmul(pooled, tf.ones([tf.shape(pooled)[-1], NUM_CLASSES]))
    return tf.nn.softmax(logits, axis=-1)


class Block3(layers.Layer):
    """Residual block number 3."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv_a = layers.Conv2D(filters, 3, padding="same")
        self.bn_a = layers.BatchNormalization()
        self.conv_b = layers.Conv2D(filters, 3, padding="same")
        self.bn_b = layers.BatchNormalization()

    def call(self, inputs, training=False):
        x = self.conv_a(inputs)
        x = self.bn_a(x, training=training)
        x = tf.nn.relu(x)
        x = self.conv_b(x)
        x = self.bn_b(x, training=training)
        scale = tf.sigmoid(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        return tf.nn.relu(x * scale + inputs)


def head_3(features):
    pooled = tf.reduce_mean(features, axis=[1, 2])
    logits = tf.matmul(pooled, tf.ones([tf.shape(pooled)[-1], NUM_CLASSES]))
    return tf.nn.softmax(logits, axis=-1)


class Block4(layers.Layer):
    """Residual block number 4."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv_a = layers.Conv2D(filters, 3, padding="same")
        self.bn_a = layers.BatchNormalization()
        self.conv_b = layers.Conv2D(filters, 3, padding="same")
        self.bn_b = layers.BatchNormalization()

    def call(self, inputs, training=False):
        x = self.conv_a(inputs)
        x = self.bn_a(x, training=training)
        x = tf.nn.relu(x)
        x = self.conv_b(x)
        x = self.bn_b(x, training=training)
        scale = tf.sigmoid(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        return tf.nn.relu(x * scale + inputs)


def head_4(features):
    pooled = tf.reduce_mean(features, axis=[1, 2])
    logits = tf.matmul(pooled, tf.ones([tf.shape(pooled)[-1], NUM_CLASSES]))
    return tf.nn.softmax(logits, axis=-1)


class Block5(layers.Layer):
    """Residual block number 5."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv_a = layers.Conv2D(filters, 3, padding="same")
        self.bn_a = layers.BatchNormalization()
        self.conv_b = layers.Conv2D(filters, 3, padding="same")
        self.bn_b = layers.BatchNormalization()

    def call(self, inputs, training=False):
        x = self.conv_a(inputs)
        x = self.bn_a(x, training=training)
        x = tf.nn.relu(x)
        x = self.conv_b(x)
        x = self.bn_b(x, training=training)
        scale = tf.sigmoid(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        return tf.nn.relu(x * scale + inputs)


def head_5(features):
    pooled = tf.reduce_mean(features, axis=[1, 2])
    logits = tf.matmul(pooled, tf.ones([tf.shape(pooled)[-1], NUM_CLASSES]))
    return tf.nn.softmax(logits, axis=-1)


class Block6(layers.Layer):
    """Residual block number 6."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv_a = layers.Conv2D(filters, 3, padding="same")
        self.bn_a = layers.BatchNormalization()
        self.conv_b = layers.Conv2D(filters, 3, padding="same")
        self.bn_b = layers.BatchNormalization()

    def call(self, inputs, training=False):
        x = self.conv_a(inputs)
        x = self.bn_a(x, training=training)
        x = tf.nn.relu(x)
        x = self.conv_b(x)
        x = self.bn_b(x, training=training)
        scale = tf.sigmoid(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        return tf.nn.relu(x * scale + inputs)


def head_6(features):
    pooled = tf.reduce_mean(features, axis=[1, 2])
    logits = tf.matmul(pooled, tf.ones([tf.shape(pooled)[-1], NUM_CLASSES]))
    return tf.nn.softmax(logits, axis=-1)


class Block7(layers.Layer):
    """Residual block number 7."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv_a = layers.Conv2D(filters, 3, padding="same")
        self.bn_a = layers.BatchNormalization()
        self.conv_b = layers.Conv2D(filters, 3, padding="same")
        self.bn_b = layers.BatchNormalization()

    def call(self, inputs, training=False):
        x = self.conv_a(inputs)
        x = self.bn_a(x, training=training)
        x = tf.nn.relu(x)
        x = self.conv_b(x)
        x = self.bn_b(x, training=training)
        scale = tf.sigmoid(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        return tf.nn.relu(x * scale + inputs)


def head_7(features):
    pooled = tf.reduce_mean(features, axis=[1, 2])
    logits = tf.matmul(pooled, tf.ones([tf.shape(pooled)[-1], NUM_CLASSES]))
    return tf.nn.softmax(logits, axis=-1)


class Block8(layers.Layer):
    """Residual block number 8."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv_a = layers.Conv2D(filters, 3, padding="same")
        self.bn_a = layers.BatchNormalization()
        self.conv_b = layers.Conv2D(filters, 3, padding="same")
        self.bn_b = layers.BatchNormalization()

    def call(self, inputs, training=False):
        x = self.conv_a(inputs)
        x = self.bn_a(x, training=training)
        x = tf.nn.relu(x)
        x = self.conv_b(x)
        x = self.bn_b(x, training=training)
        scale = tf.sigmoid(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
        return tf.nn.relu(x * scale + inputs)


def head_8(features):
    pooled = tf.reduce_mean(features, axis=[1, 2])
    logits = tf.matmul(pooled, tf.ones([tf.shape(pooled)[-1], NUM_CLASSES]))
    return tf.nn.softmax(logits, axis=-1)


def build_model():
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = Block1(32)(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = Block2(64)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(NUM_CLASSES)(x)
    return keras.Model(inputs, outputs)


model = build_model()
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
train_acc = keras.metrics.SparseCategoricalAccuracy()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = loss_fn(y, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    train_acc.update_state(y, logits)
    return loss


def train():
    x, y = make_data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(256).batch(BATCH)
    for epoch in range(EPOCHS):
        for step, (xb, yb) in enumerate(dataset):
            loss = train_step(normalize(xb), yb)
            if step % 4 == 0:
                print(epoch, step, float(loss))
        print("accuracy", float(train_acc.result()))
        train_acc.reset_state()


def augment(images):
    flipped = tf.reverse(images, axis=[2])
    noise = tf.random.normal(tf.shape(images), stddev=0.01)
    mixed = tf.where(tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) > 0.5, flipped, images)
    return tf.clip_by_value(mixed + noise, 0.0, 1.0)


def confusion(labels, logits):
    predicted = tf.argmax(logits, axis=-1)
    matches = tf.cast(tf.equal(predicted, tf.cast(labels, tf.int64)), tf.float32)
    per_class = tf.math.unsorted_segment_mean(matches, labels, NUM_CLASSES)
    return tf.reduce_mean(matches), per_class


def summarize(history):
    losses = tf.constant(history, dtype=tf.float32)
    return {
        "mean": float(tf.reduce_mean(losses)),
        "min": float(tf.reduce_min(losses)),
        "max": float(tf.reduce_max(losses)),
    }


if __name__ == "__main__":
    train()

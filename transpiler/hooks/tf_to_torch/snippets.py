"""Small helpers the converted code may need, written once per output file.

Some Keras behaviour has no one-line PyTorch form: a loss on probabilities
(from_logits=False, with Keras's clipping), a running metric object, the
training loop behind ``model.fit``. The conversion writes the helper it needs,
once, after the file's imports, as plain code the user can read and edit. Each
snippet is ordinary PyTorch; names are written in full and spelled like the rest
of the output.
"""

from __future__ import annotations

from ..snippet_writer import Registry

REGISTRY = Registry()
SNIPPETS = REGISTRY.code
snippet = REGISTRY.snippet
ordered = REGISTRY.ordered


snippet("categorical_crossentropy")('''
def categorical_crossentropy(probabilities, target, label_smoothing=0.0, eps=1e-07):
    """Keras's categorical crossentropy on probabilities (from_logits=False): mean over the batch."""
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / target.shape[-1]
    probabilities = probabilities / probabilities.sum(dim=-1, keepdim=True)
    return -(target * torch.log(probabilities.clamp(eps, 1.0 - eps))).sum(dim=-1).mean()
''')

snippet("sparse_categorical_crossentropy")('''
def sparse_categorical_crossentropy(probabilities, target, eps=1e-07):
    """Keras's sparse categorical crossentropy on probabilities (from_logits=False)."""
    probabilities = probabilities / probabilities.sum(dim=-1, keepdim=True)
    # the classes on axis 1, where nll_loss reads them ((batch, time, classes) too)
    log_probabilities = torch.log(probabilities.clamp(eps, 1.0 - eps)).movedim(-1, 1)
    return torch.nn.functional.nll_loss(log_probabilities, target.long())
''')

snippet("binary_crossentropy")('''
def binary_crossentropy(probabilities, target, label_smoothing=0.0, eps=1e-07):
    """Keras's binary crossentropy on probabilities (from_logits=False), with its clipping."""
    target = target.to(probabilities.dtype)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
    probabilities = probabilities.clamp(eps, 1.0 - eps)
    loss = -(target * torch.log(probabilities) + (1.0 - target) * torch.log(1.0 - probabilities))
    return loss.mean()
''')

snippet("binary_crossentropy_with_logits")('''
def binary_crossentropy_with_logits(logits, target, label_smoothing=0.0):
    """Keras's binary crossentropy on logits, with its label smoothing."""
    target = target.to(logits.dtype)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
''')

snippet("kl_divergence_loss")('''
def kl_divergence_loss(probabilities, target, eps=1e-07):
    """Keras's KL divergence: sum over the last axis of target * log(target / prediction), clipped."""
    target = target.clamp(eps, 1.0)
    probabilities = probabilities.clamp(eps, 1.0)
    return (target * torch.log(target / probabilities)).sum(dim=-1).mean()
''')

snippet("cosine_similarity_loss")('''
def cosine_similarity_loss(prediction, target, dim=-1):
    """Keras's CosineSimilarity loss: minus the mean cosine similarity."""
    return -torch.nn.functional.cosine_similarity(prediction, target, dim=dim, eps=1e-12).mean()
''')

snippet("hinge_loss")('''
def hinge_loss(prediction, target):
    """Keras's hinge loss; 0/1 targets are read as -1/1, as Keras does."""
    target = target.to(prediction.dtype)
    target = torch.where(target == 0, -torch.ones_like(target), target)
    return torch.clamp(1.0 - target * prediction, min=0.0).mean()
''')

snippet("Mean")('''
class Mean:
    """A running mean, as keras.metrics.Mean: update_state(), result(), reset_state()."""

    def __init__(self):
        self.reset_state()

    def update_state(self, values):
        values = torch.as_tensor(values).detach().float()
        self.total += values.sum().item()
        self.count += values.numel()

    def result(self):
        return torch.tensor(self.total / max(self.count, 1))

    def reset_state(self):
        self.total = 0.0
        self.count = 0
''')

snippet("Accuracy")('''
class Accuracy:
    """Running accuracy, as keras.metrics.*Accuracy: update_state(), result(), reset_state().

    kind: "sparse" (class indices against scores), "categorical" (one-hot against
    scores) or "binary" (0/1 against probabilities, threshold 0.5).
    """

    def __init__(self, kind="sparse", threshold=0.5):
        self.kind = kind
        self.threshold = threshold
        self.reset_state()

    def update_state(self, target, prediction):
        target = torch.as_tensor(target).detach()
        prediction = torch.as_tensor(prediction).detach()
        if self.kind == "binary":
            correct = (prediction > self.threshold).to(target.dtype) == target
        elif self.kind == "categorical":
            correct = prediction.argmax(dim=-1) == target.argmax(dim=-1)
        else:
            correct = prediction.argmax(dim=-1) == target.reshape(prediction.shape[:-1]).long()
        self.correct += correct.sum().item()
        self.count += correct.numel()

    def result(self):
        return torch.tensor(self.correct / max(self.count, 1))

    def reset_state(self):
        self.correct = 0
        self.count = 0
''')

snippet("SquaredError")('''
class SquaredError:
    """A running mean squared error, as keras.metrics.MeanSquaredError, or with root=True
    keras.metrics.RootMeanSquaredError (the square root of the running mean): each sample's
    mean squared error, averaged over the samples seen; update_state(), result(), reset_state()."""

    def __init__(self, root=False):
        self.root = root
        self.reset_state()

    def update_state(self, target, prediction):
        prediction = torch.as_tensor(prediction).detach().float()
        target = torch.as_tensor(target).detach().to(prediction.dtype)
        # Keras matches ranks that differ by a last axis of size 1
        if target.dim() == prediction.dim() + 1 and target.shape[-1] == 1:
            if prediction.dim() == 1:
                prediction = prediction.unsqueeze(-1)
            else:
                target = target.squeeze(-1)
        elif prediction.dim() == target.dim() + 1 and prediction.shape[-1] == 1:
            if target.dim() == 1:
                target = target.unsqueeze(-1)
            else:
                prediction = prediction.squeeze(-1)
        errors = (prediction - target) ** 2
        if not self.root:
            errors = errors.mean(dim=-1)
        if errors.dim() > 1:  # Keras averages samples: each one's mean over its other axes
            errors = errors.flatten(1).mean(dim=1)
        self.total += errors.sum().item()
        self.count += errors.shape[0] if errors.dim() else 1

    def result(self):
        mean = torch.tensor(self.total / max(self.count, 1))
        return mean.sqrt() if self.root else mean

    def reset_state(self):
        self.total = 0.0
        self.count = 0
''')

snippet("History")('''
class History:
    """What model.fit returned in Keras: history.history["loss"] and so on, per epoch."""

    def __init__(self):
        self.history = {}
        self.epoch = []
''')

snippet("as_loader")('''
def as_loader(x, y=None, batch_size=32, shuffle=False):
    """A DataLoader over arrays or tensors (as Keras's fit/evaluate/predict take them), or x if it is one."""
    if isinstance(x, torch.utils.data.DataLoader):
        return x
    tensors = [torch.as_tensor(x)]
    if y is not None:
        tensors.append(torch.as_tensor(y))
    dataset = torch.utils.data.TensorDataset(*tensors)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
''')

# per-batch metric functions: the share (or mean error) over the batch's rows
snippet("sparse_accuracy")('''
def sparse_accuracy(prediction, target):
    """Keras's accuracy for integer labels: the highest score is the target class."""
    return (prediction.argmax(dim=-1) == target.reshape(prediction.shape[:-1])).float().mean().item()
''')

snippet("categorical_accuracy")('''
def categorical_accuracy(prediction, target):
    """Keras's accuracy for one-hot labels."""
    return (prediction.argmax(dim=-1) == target.argmax(dim=-1)).float().mean().item()
''')

snippet("binary_accuracy")('''
def binary_accuracy(prediction, target, threshold=0.5):
    """Keras's binary accuracy: probabilities above the threshold count as 1."""
    return ((prediction > threshold).to(target.dtype) == target).float().mean().item()
''')

snippet("binary_accuracy_from_logits")('''
def binary_accuracy_from_logits(prediction, target):
    """Keras's binary accuracy for a model that outputs logits (threshold 0)."""
    return ((prediction > 0).to(target.dtype) == target).float().mean().item()
''')

snippet("mean_absolute_error")('''
def mean_absolute_error(prediction, target):
    return (prediction - target).abs().mean().item()
''')

snippet("mean_squared_error")('''
def mean_squared_error(prediction, target):
    return ((prediction - target) ** 2).mean().item()
''')

snippet("fit", requires=("History", "as_loader"))('''
def fit(model, x, y, loss_fn, optimizer, epochs=1, batch_size=32, shuffle=True,
        validation_data=None, validation_split=0.0, metrics=None, callbacks=(), verbose=1, scheduler=None):
    """The training loop behind Keras's model.fit: epochs of batches, validation, metrics, callbacks.

    metrics: {name: function(prediction, target) -> value for the batch}.
    callbacks: objects with on_train_begin(model, optimizer), on_epoch_end(epoch, logs) -> stop?
    and on_train_end(). Returns a History whose .history holds each epoch's values, as Keras's does.
    """
    metrics = metrics or {}
    device = next(model.parameters()).device
    for callback in callbacks:
        callback.on_train_begin(model, optimizer)
    if validation_split and validation_data is None:
        split = int(len(x) * (1.0 - validation_split))  # Keras holds out the last samples, unshuffled
        x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
    loader = as_loader(x, y, batch_size=batch_size, shuffle=shuffle)
    history = History()
    for epoch in range(epochs):
        model.train()
        totals = dict.fromkeys(["loss", *metrics], 0.0)
        seen = 0
        for batch_x, batch_y in loader:
            batch_x, batch_y = batch_x.to(device), batch_y.to(device)
            prediction = model(batch_x)
            loss = loss_fn(prediction, batch_y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            totals["loss"] += loss.item() * len(batch_x)
            for name, metric in metrics.items():
                totals[name] += metric(prediction.detach(), batch_y) * len(batch_x)
            seen += len(batch_x)
        logs = {name: total / seen for name, total in totals.items()}
        if validation_data is not None:
            model.eval()
            totals = dict.fromkeys(["val_loss", *(f"val_{name}" for name in metrics)], 0.0)
            seen = 0
            with torch.no_grad():
                for batch_x, batch_y in as_loader(*validation_data, batch_size=batch_size):
                    batch_x, batch_y = batch_x.to(device), batch_y.to(device)
                    prediction = model(batch_x)
                    totals["val_loss"] += loss_fn(prediction, batch_y).item() * len(batch_x)
                    for name, metric in metrics.items():
                        totals[f"val_{name}"] += metric(prediction, batch_y) * len(batch_x)
                    seen += len(batch_x)
            logs.update({name: total / seen for name, total in totals.items()})
        history.epoch.append(epoch)
        for name, value in logs.items():
            history.history.setdefault(name, []).append(value)
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        stop = False
        for callback in callbacks:
            stop = callback.on_epoch_end(epoch, logs) or stop
        if stop:
            break
    for callback in callbacks:
        callback.on_train_end()
    return history
''')

snippet("evaluate", requires=("as_loader",))('''
def evaluate(model, x, y, loss_fn, batch_size=32, metrics=None, verbose=1):
    """Keras's model.evaluate: the mean loss (then each metric) over the data, in eval mode."""
    metrics = metrics or {}
    device = next(model.parameters()).device
    model.eval()
    totals = dict.fromkeys(["loss", *metrics], 0.0)
    seen = 0
    with torch.no_grad():
        for batch_x, batch_y in as_loader(x, y, batch_size=batch_size):
            batch_x, batch_y = batch_x.to(device), batch_y.to(device)
            prediction = model(batch_x)
            totals["loss"] += loss_fn(prediction, batch_y).item() * len(batch_x)
            for name, metric in metrics.items():
                totals[name] += metric(prediction, batch_y) * len(batch_x)
            seen += len(batch_x)
    values = [total / seen for total in totals.values()]
    if verbose:
        print(" - ".join(f"{k}: {v:.4f}" for k, v in zip(totals, values)))
    return values if metrics else values[0]
''')

snippet("predict", requires=("as_loader",))('''
def predict(model, x, batch_size=32):
    """Keras's model.predict: the model's outputs over the data, in eval mode, as a NumPy array."""
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        outputs = [model(batch_x.to(device)) for (batch_x,) in as_loader(x, batch_size=batch_size)]
    return torch.cat(outputs).cpu().numpy()
''')


snippet("load_mnist")('''
def load_mnist(root="data"):
    """keras.datasets.mnist.load_data() with torchvision: ((x_train, y_train), (x_test, y_test)),
    uint8 images of shape (n, 28, 28) and integer labels, as NumPy arrays."""
    import torchvision

    train = torchvision.datasets.MNIST(root, train=True, download=True)
    test = torchvision.datasets.MNIST(root, train=False, download=True)
    return (train.data.numpy(), train.targets.numpy()), (test.data.numpy(), test.targets.numpy())
''')

snippet("load_fashion_mnist")('''
def load_fashion_mnist(root="data"):
    """keras.datasets.fashion_mnist.load_data() with torchvision, as NumPy arrays."""
    import torchvision

    train = torchvision.datasets.FashionMNIST(root, train=True, download=True)
    test = torchvision.datasets.FashionMNIST(root, train=False, download=True)
    return (train.data.numpy(), train.targets.numpy()), (test.data.numpy(), test.targets.numpy())
''')

snippet("load_cifar10")('''
def load_cifar10(root="data"):
    """keras.datasets.cifar10.load_data() with torchvision: uint8 images (n, 32, 32, 3) and
    labels of shape (n, 1), as NumPy arrays."""
    import numpy
    import torchvision

    train = torchvision.datasets.CIFAR10(root, train=True, download=True)
    test = torchvision.datasets.CIFAR10(root, train=False, download=True)
    labels = lambda dataset: numpy.array(dataset.targets, dtype="int64").reshape(-1, 1)
    return (train.data, labels(train)), (test.data, labels(test))
''')


snippet("cosine_decay_restarts", imports=("math",))('''
def cosine_decay_restarts(step, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
    """Keras's CosineDecayRestarts: cosine decay that restarts, each period t_mul times longer
    and each restart m_mul times lower."""
    fraction = step / first_decay_steps
    if t_mul == 1.0:
        restarts = math.floor(fraction)
        fraction -= restarts
    else:
        restarts = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
        done = (1.0 - t_mul**restarts) / (1.0 - t_mul)
        fraction = (fraction - done) / t_mul**restarts
    cosine = 0.5 * m_mul**restarts * (1.0 + math.cos(math.pi * fraction))
    return initial_learning_rate * ((1.0 - alpha) * cosine + alpha)
''')


snippet("Callback")('''
class Callback:
    """What the fit() helper calls, as Keras calls its callbacks (per epoch)."""

    def on_train_begin(self, model, optimizer):
        self.model, self.optimizer = model, optimizer

    def on_epoch_end(self, epoch, logs):
        return False  # True stops training

    def on_train_end(self):
        pass


def monitor_improved(current, best, mode, monitor, min_delta=0.0):
    """Keras's rule: 'auto' maximises accuracies, minimises the rest; min_delta must be beaten."""
    if mode == "max" or (mode == "auto" and "acc" in monitor):
        return best is None or current - abs(min_delta) > best
    return best is None or current + abs(min_delta) < best
''')

snippet("EarlyStopping", requires=("Callback",), imports=("copy",))('''
class EarlyStopping(Callback):
    """keras.callbacks.EarlyStopping: stop when `monitor` has not improved for `patience` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        self.monitor, self.min_delta, self.patience, self.verbose = monitor, min_delta, patience, verbose
        self.mode, self.baseline, self.restore_best_weights = mode, baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, model, optimizer):
        super().on_train_begin(model, optimizer)
        self.wait, self.best, self.best_state, self.stopped_epoch = 0, None, None, 0

    def on_epoch_end(self, epoch, logs):
        current = logs.get(self.monitor)
        if current is None or epoch < self.start_from_epoch:
            return False
        if self.restore_best_weights and self.best_state is None:
            self.best_state = copy.deepcopy(self.model.state_dict())
        self.wait += 1
        if monitor_improved(current, self.best, self.mode, self.monitor, self.min_delta):
            self.best = current
            if self.restore_best_weights:
                self.best_state = copy.deepcopy(self.model.state_dict())
            if self.baseline is None or monitor_improved(current, self.baseline, self.mode, self.monitor, self.min_delta):
                self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            if self.restore_best_weights and self.best_state is not None:
                self.model.load_state_dict(self.best_state)
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping")
            return True
        return False
''')

snippet("ModelCheckpoint", requires=("Callback",))('''
class ModelCheckpoint(Callback):
    """keras.callbacks.ModelCheckpoint: torch.save the state_dict after each epoch (or the best)."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None):
        self.filepath, self.monitor, self.verbose = filepath, monitor, verbose
        self.save_best_only, self.mode, self.best = save_best_only, mode, initial_value_threshold

    def on_epoch_end(self, epoch, logs):
        path = str(self.filepath).format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None or not monitor_improved(current, self.best, self.mode, self.monitor):
                return False
            self.best = current
        torch.save(self.model.state_dict(), path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved {path}")
        return False
''')

snippet("ReduceLROnPlateau", requires=("Callback",))('''
class ReduceLROnPlateau(Callback):
    """keras.callbacks.ReduceLROnPlateau through torch.optim.lr_scheduler.ReduceLROnPlateau,
    stepped once per epoch with the monitored value."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=0.0001, cooldown=0, min_lr=0.0):
        self.monitor, self.mode = monitor, mode
        self.options = dict(factor=factor, patience=patience, threshold=min_delta,
                            threshold_mode="abs", cooldown=cooldown, min_lr=min_lr)

    def on_train_begin(self, model, optimizer):
        super().on_train_begin(model, optimizer)
        mode = "max" if self.mode == "max" or (self.mode == "auto" and "acc" in self.monitor) else "min"
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, **self.options)

    def on_epoch_end(self, epoch, logs):
        if self.monitor in logs:
            self.scheduler.step(logs[self.monitor])
        return False
''')

snippet("LearningRateScheduler", requires=("Callback",))('''
class LearningRateScheduler(Callback):
    """keras.callbacks.LearningRateScheduler: schedule(epoch, lr) sets the learning rate
    before each epoch (Keras calls it at the epoch's start; here after the previous one ends)."""

    def __init__(self, schedule, verbose=0):
        self.schedule, self.verbose = schedule, verbose

    def on_train_begin(self, model, optimizer):
        super().on_train_begin(model, optimizer)
        self._set(0)

    def on_epoch_end(self, epoch, logs):
        self._set(epoch + 1)
        return False

    def _set(self, epoch):
        for group in self.optimizer.param_groups:
            group["lr"] = float(self.schedule(epoch, group["lr"]))
''')

snippet("TensorBoard", requires=("Callback",))('''
class TensorBoard(Callback):
    """keras.callbacks.TensorBoard: the epoch's logs as scalars with torch.utils.tensorboard."""

    def __init__(self, log_dir="logs", **unused):
        self.log_dir = log_dir

    def on_train_begin(self, model, optimizer):
        super().on_train_begin(model, optimizer)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(self.log_dir)

    def on_epoch_end(self, epoch, logs):
        for name, value in logs.items():
            self.writer.add_scalar(name, value, epoch)
        return False

    def on_train_end(self):
        self.writer.close()
''')

snippet("CSVLogger", requires=("Callback",), imports=("csv",))('''
class CSVLogger(Callback):
    """keras.callbacks.CSVLogger: one row per epoch (epoch, then the logs)."""

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.separator, self.append = filename, separator, append

    def on_train_begin(self, model, optimizer):
        super().on_train_begin(model, optimizer)
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer = None

    def on_epoch_end(self, epoch, logs):
        if self.writer is None:
            self.writer = csv.DictWriter(self.file, ["epoch", *logs], delimiter=self.separator)
            if not self.append:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **logs})
        self.file.flush()
        return False

    def on_train_end(self):
        self.file.close()
''')


# -- Keras utilities (keras_utils.toml) and run-time activations -------------------------

snippet("pack_x_y_sample_weight")('''
def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """keras.utils.pack_x_y_sample_weight: x alone, (x,) for a tuple or list x, (x, y) or (x, y, sample_weight)."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)
''')

snippet("unpack_x_y_sample_weight")('''
def unpack_x_y_sample_weight(data):
    """keras.utils.unpack_x_y_sample_weight: (x, y, sample_weight), None for what data lacks."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) > 3:
        raise ValueError(f"expected x, (x,), (x, y) or (x, y, sample_weight), found: {data}")
    return tuple(data) + (None,) * (3 - len(data))
''')

snippet("slice_update")('''
def slice_update(inputs, start_indices, updates):
    """keras.ops.slice_update: a copy of inputs with updates written from start_indices (one start per axis)."""
    index = tuple(slice(s, s + n) for s, n in zip(start_indices, updates.shape))
    out = inputs.clone()
    out[index] = updates
    return out
''')

snippet("fori_loop")('''
def fori_loop(lower, upper, body_fun, init_val):
    """keras.ops.fori_loop: val = body_fun(i, val) for i from lower to upper - 1."""
    val = init_val
    for i in range(lower, upper):
        val = body_fun(i, val)
    return val
''')

snippet("while_loop")('''
def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """keras.ops.while_loop: loop_vars = body(*loop_vars) while cond(*loop_vars), at most
    maximum_iterations times; a tuple or list of loop variables gives a tuple back."""
    is_tuple = isinstance(loop_vars, (tuple, list))
    loop_vars = tuple(loop_vars) if is_tuple else (loop_vars,)
    iteration = 0
    while cond(*loop_vars) and (maximum_iterations is None or iteration < maximum_iterations):
        loop_vars = body(*loop_vars)
        loop_vars = tuple(loop_vars) if isinstance(loop_vars, (tuple, list)) else (loop_vars,)
        iteration += 1
    return loop_vars if is_tuple else loop_vars[0]
''')

snippet("pad_pairs")('''
def pad_pairs(x, paddings, value=0):
    """tf.pad / keras.ops.pad, constant mode: paddings holds one (before, after) pair per axis,
    first axis first, where F.pad takes them from the last axis back."""
    if len(paddings) != x.ndim:
        raise ValueError(f"one (before, after) pair per axis expected: {paddings}")
    pad = [int(n) for pair in reversed(list(paddings)) for n in pair]
    return torch.nn.functional.pad(x, pad, value=value)
''')

snippet("split_pieces")('''
def split_pieces(value, num_or_size_splits, dim=0):
    """tf.split: an int is the number of equal pieces (torch.split takes a piece size), a list the sizes."""
    if isinstance(num_or_size_splits, int):
        return torch.tensor_split(value, num_or_size_splits, dim=dim)
    return torch.split(value, list(num_or_size_splits), dim=dim)
''')

snippet("convert_boxes")('''
def convert_boxes(boxes, source, target, dtype=torch.float32):
    """keras.utils.bounding_boxes.convert_format for the absolute formats: xyxy, yxyx,
    xywh, center_xywh, center_yxhw (the last axis holds the 4 coordinates)."""
    a, b, c, d = boxes.to(dtype).unbind(-1)
    x1, y1, x2, y2 = {
        "xyxy": lambda: (a, b, c, d),
        "yxyx": lambda: (b, a, d, c),
        "xywh": lambda: (a, b, a + c, b + d),
        "center_xywh": lambda: (a - c / 2, b - d / 2, a + c / 2, b + d / 2),
        "center_yxhw": lambda: (b - d / 2, a - c / 2, b + d / 2, a + c / 2),
    }[source]()
    out = {
        "xyxy": (x1, y1, x2, y2),
        "yxyx": (y1, x1, y2, x2),
        "xywh": (x1, y1, x2 - x1, y2 - y1),
        "center_xywh": ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1),
        "center_yxhw": ((y1 + y2) / 2, (x1 + x2) / 2, y2 - y1, x2 - x1),
    }[target]
    return torch.stack(out, dim=-1)
''')

snippet("get_uid")('''
def get_uid(prefix=""):
    """keras.backend.get_uid: a counter per prefix (1, 2, ...), used to name things uniquely."""
    counts = get_uid.__dict__.setdefault("counts", {})
    counts[prefix] = counts.get(prefix, 0) + 1
    return counts[prefix]
''')

snippet("ActivationFunction")('''
class ActivationFunction(torch.nn.Module):
    """A function used as an activation (Keras takes any callable), as a module."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)
''')

snippet("get_activation", requires=("ActivationFunction",))('''
def get_activation(activation, dim=-1):
    """A Keras activation given at run time (its name, a callable or None) as a PyTorch module.
    softmax, log_softmax and glu work along dim: Keras's last axis."""
    if activation is None:
        return torch.nn.Identity()
    if isinstance(activation, torch.nn.Module):
        return activation
    if callable(activation):
        return ActivationFunction(activation)
    modules = {
        "linear": torch.nn.Identity,
        "relu": torch.nn.ReLU,
        "relu6": torch.nn.ReLU6,
        "leaky_relu": lambda: torch.nn.LeakyReLU(0.2),
        "elu": torch.nn.ELU,
        "celu": torch.nn.CELU,
        "selu": torch.nn.SELU,
        "gelu": torch.nn.GELU,
        "silu": torch.nn.SiLU,
        "swish": torch.nn.SiLU,
        "hard_silu": torch.nn.Hardswish,
        "hard_swish": torch.nn.Hardswish,
        "mish": torch.nn.Mish,
        "sigmoid": torch.nn.Sigmoid,
        "hard_sigmoid": torch.nn.Hardsigmoid,
        "log_sigmoid": torch.nn.LogSigmoid,
        "tanh": torch.nn.Tanh,
        "hard_tanh": torch.nn.Hardtanh,
        "tanh_shrink": torch.nn.Tanhshrink,
        "soft_shrink": torch.nn.Softshrink,
        "hard_shrink": torch.nn.Hardshrink,
        "softplus": torch.nn.Softplus,
        "softsign": torch.nn.Softsign,
        "softmax": lambda: torch.nn.Softmax(dim=dim),
        "log_softmax": lambda: torch.nn.LogSoftmax(dim=dim),
        "glu": lambda: torch.nn.GLU(dim=dim),
        "exponential": lambda: ActivationFunction(torch.exp),
    }
    if activation not in modules:
        raise ValueError(f"Keras activation {activation!r} has no PyTorch module here")
    return modules[activation]()
''')


snippet("gather_batched")('''
def gather_batched(params, indices, batch_dims, axis=None):
    """tf.gather(params, indices, axis=axis, batch_dims=batch_dims): for each index i of the batch
    axes that params and indices share, params[i] gathered along axis with indices[i]."""
    if axis is None:
        axis = batch_dims
    if batch_dims < 0:
        batch_dims += indices.ndim
    if axis < 0:
        axis += params.ndim
    params = params.movedim(axis, batch_dims)
    index = []
    for dim in range(batch_dims):
        shape = [1] * indices.ndim
        shape[dim] = -1
        index.append(torch.arange(params.shape[dim], device=params.device).view(shape))
    gathered = params[(*index, indices)]
    # the gathered axes come right after the batch axes; TensorFlow puts them where axis was
    n, m = indices.ndim - batch_dims, axis - batch_dims
    return gathered.movedim(list(range(batch_dims, batch_dims + n)), list(range(batch_dims + m, batch_dims + m + n)))
''')


snippet("TiedEmbedding")('''
class TiedEmbedding(torch.nn.Embedding):
    """keras.layers.ReversibleEmbedding: an embedding that, called with reverse=True, maps hidden
    states back to logits over the vocabulary with its own weight (tie_weights=True) or a
    separate one (tie_weights=False), optionally soft-capped: tanh(logits / cap) * cap."""

    def __init__(self, num_embeddings, embedding_dim, tie_weights=True, logit_soft_cap=None):
        super().__init__(num_embeddings, embedding_dim)
        self.tie_weights = tie_weights
        self.logit_soft_cap = logit_soft_cap
        if not tie_weights:
            self.reverse_weight = torch.nn.Parameter(torch.empty(num_embeddings, embedding_dim))
            torch.nn.init.normal_(self.reverse_weight)

    def forward(self, inputs, reverse=False):
        if not reverse:
            return super().forward(inputs)
        weight = self.weight if self.tie_weights else self.reverse_weight
        logits = torch.nn.functional.linear(inputs, weight)
        if self.logit_soft_cap is not None:
            logits = torch.tanh(logits / self.logit_soft_cap) * self.logit_soft_cap
        return logits
''')

snippet("EinsumDense", imports=("math",))('''
class EinsumDense(torch.nn.Module):
    """keras.layers.EinsumDense: torch.einsum(equation, inputs, kernel) plus the bias, the kernel
    laid out as the equation's second operand and initialised as Keras does (Glorot uniform
    with Keras's fans: the last two axes times the others; a zero bias)."""

    def __init__(self, equation, kernel_shape, bias_shape=None):
        super().__init__()
        self.equation = equation
        self.kernel = torch.nn.Parameter(torch.empty(kernel_shape))
        receptive_field = math.prod(kernel_shape[:-2])
        fan_in = kernel_shape[-2] * receptive_field if len(kernel_shape) > 1 else kernel_shape[0]
        fan_out = kernel_shape[-1] * receptive_field
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        torch.nn.init.uniform_(self.kernel, -limit, limit)
        self.bias = torch.nn.Parameter(torch.zeros(bias_shape)) if bias_shape is not None else None

    def forward(self, inputs):
        outputs = torch.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return outputs
''')

snippet("linalg_normalize")('''
def linalg_normalize(x, ord=2, dim=None):
    """tf.linalg.normalize: x divided by its norm along dim, and that norm (size-1 axes kept)."""
    norm = torch.linalg.vector_norm(x, ord, dim=dim, keepdim=True)
    return x / norm, norm
''')

snippet("pool_same")('''
def pool_same(x, kernel, stride, kind):
    """TensorFlow's padding='SAME' pooling on (N, C, *spatial): each axis gives ceil(size / stride)
    outputs, padded by (total // 2, the rest); the pad counts neither in a max nor in a mean."""
    n = x.ndim - 2

    def per_axis(sizes):
        sizes = [sizes] if isinstance(sizes, int) else list(sizes)
        if len(sizes) not in (1, n):
            raise ValueError(f"one window size or stride per spatial axis expected: {sizes}")
        return sizes * n if len(sizes) == 1 else sizes

    kernel, stride = per_axis(kernel), per_axis(stride)
    pad = []
    for size, k, s in reversed(list(zip(x.shape[2:], kernel, stride))):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        pad += [total // 2, total - total // 2]
    if kind == "max":
        pool = [torch.nn.functional.max_pool1d, torch.nn.functional.max_pool2d, torch.nn.functional.max_pool3d][n - 1]
        return pool(torch.nn.functional.pad(x, pad, value=float("-inf")), kernel, stride)
    pool = [torch.nn.functional.avg_pool1d, torch.nn.functional.avg_pool2d, torch.nn.functional.avg_pool3d][n - 1]
    counts = pool(torch.nn.functional.pad(torch.ones_like(x[:1, :1]), pad), kernel, stride)
    return pool(torch.nn.functional.pad(x, pad), kernel, stride) / counts
''')

snippet("ensure_shape")('''
def ensure_shape(x, shape):
    """tf.ensure_shape: x, once its shape is checked against shape (None matches any size)."""
    if shape is not None and (
        len(x.shape) != len(shape) or any(want is not None and want != have for have, want in zip(x.shape, shape))
    ):
        raise ValueError(f"shape {tuple(x.shape)} is not compatible with {list(shape)}")
    return x
''')

snippet("band_part")('''
def band_part(x, num_lower, num_upper):
    """tf.linalg.band_part with counts known at run time: keeps num_lower diagonals below the
    main one and num_upper above (a negative count keeps that whole triangle)."""
    rows = torch.arange(x.shape[-2], device=x.device).unsqueeze(-1)
    cols = torch.arange(x.shape[-1], device=x.device)
    keep = ((num_lower < 0) | (rows - cols <= num_lower)) & ((num_upper < 0) | (cols - rows <= num_upper))
    return torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device))
''')

snippet("segment_reduce")('''
def segment_reduce(data, segment_ids, num_segments, kind):
    """tf.math.unsorted_segment_sum/mean/max/min: data's rows (over segment_ids' dimensions)
    reduced into num_segments rows by their id. Negative ids are dropped, as TensorFlow does; an
    empty segment gives 0 (sum, mean), the dtype's lowest value (max) or its highest (min)."""
    segment_ids = torch.as_tensor(segment_ids, device=data.device)
    inner = data.shape[segment_ids.dim():]
    ids = segment_ids.reshape(-1).long()
    values = data.reshape(-1, *inner)
    keep = ids >= 0
    ids, values = ids[keep], values[keep]
    n = int(num_segments)
    if kind in ("sum", "mean"):
        out = values.new_zeros((n, *inner)).index_add_(0, ids, values)
        if kind == "mean":
            count = values.new_zeros(n).index_add_(0, ids, values.new_ones(len(ids)))
            out = out / count.clamp(min=1).reshape(n, *([1] * len(inner)))
        return out
    limits = torch.finfo(values.dtype) if values.is_floating_point() else torch.iinfo(values.dtype)
    out = values.new_full((n, *inner), limits.min if kind == "max" else limits.max)
    index = ids.reshape(-1, *([1] * len(inner))).expand_as(values)
    return out.scatter_reduce(0, index, values, "amax" if kind == "max" else "amin", include_self=True)

''')

snippet("unsorted_segment_sum", requires=("segment_reduce",))('''
def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    return segment_reduce(data, segment_ids, num_segments, "sum")
''')

snippet("unsorted_segment_mean", requires=("segment_reduce",))('''
def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    return segment_reduce(data, segment_ids, num_segments, "mean")
''')

snippet("unsorted_segment_max", requires=("segment_reduce",))('''
def unsorted_segment_max(data, segment_ids, num_segments, name=None):
    return segment_reduce(data, segment_ids, num_segments, "max")
''')

snippet("unsorted_segment_min", requires=("segment_reduce",))('''
def unsorted_segment_min(data, segment_ids, num_segments, name=None):
    return segment_reduce(data, segment_ids, num_segments, "min")
''')

snippet("custom_gradient")('''
def custom_gradient(f):
    """tf.custom_gradient: f(*args) returns (output, grad), grad(*upstream) the gradients of f's
    tensor arguments. f runs unrecorded, as TensorFlow runs it; backward calls its grad."""

    class Function(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            output, ctx.grad = f(*args)
            ctx.is_tensor = [isinstance(a, torch.Tensor) for a in args]
            return output

        @staticmethod
        def backward(ctx, *upstream):
            grads = ctx.grad(*upstream)
            grads = list(grads) if isinstance(grads, (tuple, list)) else [grads]
            return tuple(grads.pop(0) if is_tensor else None for is_tensor in ctx.is_tensor)

    def apply(*args):
        return Function.apply(*args)

    apply.__name__, apply.__doc__ = f.__name__, f.__doc__
    return apply
''')

snippet("dynamic_slice")('''
def dynamic_slice(input, start_indices, size_indices):
    """XLA's dynamic_slice: the block of size_indices at start_indices, each start clamped into
    [0, dim - size] so that the block fits, as XLA clamps it."""
    index = []
    for dim, start, size in zip(input.shape, start_indices, size_indices):
        start = min(max(int(start), 0), dim - int(size))
        index.append(slice(start, start + int(size)))
    return input[tuple(index)]
''')

snippet("TensorArray")('''
class TensorArray:
    """tf.TensorArray: tensors written by index. write() gives the array back, as TensorFlow's
    does (keep assigning its result: `ta = ta.write(i, x)`)."""

    def __init__(self, dtype, size=0, dynamic_size=False, element_shape=None):
        self.dtype = dtype
        self.dynamic_size = bool(dynamic_size)
        self.items = [None] * int(size or 0)

    def write(self, index, value):
        index = int(index)
        if index >= len(self.items):
            if not self.dynamic_size:
                raise IndexError(f"TensorArray of size {len(self.items)}: no index {index}")
            self.items.extend([None] * (index + 1 - len(self.items)))
        self.items[index] = torch.as_tensor(value, dtype=self.dtype)
        return self

    def read(self, index):
        return self.items[int(index)]

    def unstack(self, value):
        self.items = list(torch.unbind(torch.as_tensor(value, dtype=self.dtype)))
        return self

    def gather(self, indices):
        return torch.stack([self.items[int(i)] for i in indices])

    def stack(self):
        return torch.stack(self.items)

    def concat(self):
        return torch.cat(self.items)

    def size(self):
        return len(self.items)
''')

snippet("scatter_nd")('''
def scatter_nd(indices, updates, shape):
    """tf.scatter_nd: zeros of updates' dtype, with updates added at the coordinates (each row of
    indices is one; duplicates are summed, as TensorFlow does)."""
    index = tuple(torch.as_tensor(indices).long().unbind(-1))
    return updates.new_zeros(tuple(shape)).index_put(index, updates, accumulate=True)
''')

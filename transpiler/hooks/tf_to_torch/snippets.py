"""Small helpers the converted code may need, written once per output file.

Some Keras behaviour has no one-line PyTorch form: a loss on probabilities
(from_logits=False, with Keras's clipping), a running metric object, the
training loop behind ``model.fit``. The conversion writes the helper it needs,
once, after the file's imports, as plain code the user can read and edit. Each
snippet is ordinary PyTorch; names are written in full and spelled like the rest
of the output.
"""

from __future__ import annotations

SNIPPETS: dict[str, str] = {}
REQUIRES: dict[str, list[str]] = {}


def snippet(name: str, requires: tuple[str, ...] = ()):
    def register(text: str) -> str:
        SNIPPETS[name] = text
        REQUIRES[name] = list(requires)
        return text

    return register


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
    return torch.nn.functional.nll_loss(torch.log(probabilities.clamp(eps, 1.0 - eps)), target.long())
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

snippet("kl_divergence")('''
def kl_divergence(probabilities, target, eps=1e-07):
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

snippet("hinge")('''
def hinge(prediction, target):
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

snippet("History")('''
class History:
    """What model.fit returned in Keras: history.history["loss"] and so on, per epoch."""

    def __init__(self):
        self.history = {}
        self.epoch = []
''')

snippet("as_loader", requires=())('''
def as_loader(x, y=None, batch_size=32, shuffle=False):
    """A DataLoader over arrays or tensors (as fit/evaluate/predict took them), or x if it is one."""
    if isinstance(x, torch.utils.data.DataLoader):
        return x
    tensors = [torch.as_tensor(x)]
    if y is not None:
        tensors.append(torch.as_tensor(y))
    dataset = torch.utils.data.TensorDataset(*tensors)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
''')

snippet("batch_metric", requires=("Accuracy",))('''
def batch_metric(name, target, prediction):
    """A Keras metric name ("accuracy", "mae"...) as a function of one batch."""
    if name in ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy"):
        if name == "binary_accuracy" or prediction.shape[-1:] == (1,) and name in ("accuracy", "acc") and target.dtype.is_floating_point:
            kind = "binary"
        elif name == "categorical_accuracy" or (target.dim() == prediction.dim() and target.shape == prediction.shape):
            kind = "categorical"
        else:
            kind = "sparse"
        metric = Accuracy(kind)
        metric.update_state(target, prediction)
        return metric.result().item()
    if name in ("mae", "mean_absolute_error"):
        return (prediction - target).abs().mean().item()
    if name in ("mse", "mean_squared_error"):
        return ((prediction - target) ** 2).mean().item()
    raise ValueError(f"metric {name!r} is not supported")
''')

snippet("fit", requires=("History", "as_loader", "evaluate", "batch_metric"))('''
def fit(model, x, y, loss_fn, optimizer, epochs=1, batch_size=32, shuffle=True,
        validation_data=None, validation_split=0.0, metrics=(), callbacks=(), verbose=1, scheduler=None):
    """The training loop behind Keras's model.fit: batches, epochs, validation, metrics, callbacks."""
    device = next(model.parameters()).device
    if validation_split and validation_data is None:
        count = len(x)
        split = int(count * (1.0 - validation_split))  # Keras takes the last part, before shuffling
        x, validation_x = x[:split], x[split:]
        y, validation_y = y[:split], y[split:]
        validation_data = (validation_x, validation_y)
    loader = as_loader(x, y, batch_size=batch_size, shuffle=shuffle)
    history = History()
    for callback in callbacks:
        callback.set_model(model, optimizer)
    for epoch in range(epochs):
        model.train()
        totals = {"loss": 0.0, **{name: 0.0 for name in metrics}}
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
            count = len(batch_x)
            seen += count
            totals["loss"] += loss.item() * count
            for name in metrics:
                totals[name] += batch_metric(name, batch_y, prediction.detach()) * count
        logs = {name: value / max(seen, 1) for name, value in totals.items()}
        if validation_data is not None:
            values = evaluate(model, validation_data[0], validation_data[1], loss_fn, batch_size=batch_size, metrics=metrics)
            values = values if isinstance(values, list) else [values]
            logs.update({f"val_{name}": value for name, value in zip(["loss", *metrics], values)})
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

snippet("evaluate", requires=("as_loader", "batch_metric"))('''
def evaluate(model, x, y, loss_fn, batch_size=32, metrics=(), verbose=1):
    """Keras's model.evaluate: the mean loss (and metrics) over the data, in eval mode."""
    device = next(model.parameters()).device
    model.eval()
    totals = {"loss": 0.0, **{name: 0.0 for name in metrics}}
    seen = 0
    with torch.no_grad():
        for batch_x, batch_y in as_loader(x, y, batch_size=batch_size):
            batch_x, batch_y = batch_x.to(device), batch_y.to(device)
            prediction = model(batch_x)
            count = len(batch_x)
            seen += count
            totals["loss"] += loss_fn(prediction, batch_y).item() * count
            for name in metrics:
                totals[name] += batch_metric(name, batch_y, prediction) * count
    values = [value / max(seen, 1) for value in totals.values()]
    if verbose:
        print(" - ".join(f"{k}: {v:.4f}" for k, v in zip(totals, values)))
    return values if metrics else values[0]
''')

snippet("predict", requires=("as_loader",))('''
def predict(model, x, batch_size=32):
    """Keras's model.predict: the model's outputs over the data, in eval mode, as a NumPy array."""
    device = next(model.parameters()).device
    model.eval()
    outputs = []
    with torch.no_grad():
        for (batch_x,) in as_loader(x, batch_size=batch_size):
            outputs.append(model(batch_x.to(device)).cpu())
    return torch.cat(outputs).numpy()
''')


def ordered(names) -> list[str]:
    """The snippets ``names`` need, each after the ones it uses."""
    out: list[str] = []

    def add(name: str) -> None:
        if name in out:
            return
        for dep in REQUIRES.get(name, []):
            add(dep)
        out.append(name)

    for name in names:
        add(name)
    return out

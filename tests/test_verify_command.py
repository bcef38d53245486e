"""`transpiler verify` and `transpiler weights` as a user runs them.

In both directions (TensorFlow/Keras -> PyTorch, PyTorch -> Keras):

* fixture programs verify (exit 0, a MATCH line; JSON with --format json);
* a deliberately wrong conversion (the converted file edited) fails with exit 1
  and names the check;
* a recording made with the original's framework replays in a process where
  importing that framework fails, and a changed program refuses the recording;

and trained Keras weights load into the converted model and give its outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures_util import FIXTURES, ROOT
from numeric_util import needs_frameworks

pytestmark = [pytest.mark.numeric, needs_frameworks()]

PROGRAM = FIXTURES / "tf_to_torch" / "training" / "tape_step.py"
TORCH_PROGRAM = FIXTURES / "torch_to_tf" / "seeds" / "s003_net_synthetic.py"  # synthetic data, an SGD loop
# PyTorch programs --to tf: a model file (input shapes from --spec), training loops (losses, batch norm)
TORCH_CASES = ["models/cnn.py", "models/recurrent.py", "training/batchnorm.py", "training/losses.py"]


def cli(*args, env_extra=None, cwd=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join([*(env_extra or {}).pop("PREPEND", []), str(ROOT), env.get("PYTHONPATH", "")])
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "transpiler", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_verify_passes_and_reports_json(tmp_path):
    proc = cli("verify", PROGRAM, "--format", "json", "--keep", tmp_path / "work")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["passed"] and report["trained"] and report["training_steps"] == 8
    assert any(c["name"].startswith("loss of training steps") for c in report["checks"])
    assert (tmp_path / "work" / "tape_step_converted.py").is_file()


def test_a_wrong_conversion_fails(tmp_path):
    converted = tmp_path / "wrong.py"
    code = (FIXTURES / "tf_to_torch" / "training" / "tape_step.expected.py").read_text()
    assert "lr=0.1" in code
    converted.write_text(code.replace("lr=0.1", "lr=0.11"))  # a conversion that got a default wrong
    proc = cli("verify", PROGRAM, "--converted", converted)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert any(line.startswith("loss of training steps") and "FAIL" in line for line in proc.stdout.splitlines())
    assert "MISMATCH" in proc.stdout


def test_record_then_replay_without_tensorflow(tmp_path):
    recording = tmp_path / "recording"
    proc = cli("verify", PROGRAM, "--record", recording)
    assert proc.returncode == 0, proc.stderr
    assert (recording / "record.npz").is_file() and (recording / "recording.json").is_file()
    blocker = _blocker(tmp_path, "tensorflow", "keras")
    proc = cli("verify", PROGRAM, "--replay", recording, env_extra={"PREPEND": [str(blocker)]})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MATCH" in proc.stdout
    changed = tmp_path / "changed.py"
    changed.write_text(PROGRAM.read_text() + "\nprint('one more line')\n")
    proc = cli("verify", changed, "--replay", recording)
    assert proc.returncode == 2 and "records another version" in proc.stderr


def _spec_of(path: Path) -> list[str]:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    return ["--spec", first.split("spec=", 1)[1]] if "spec=" in first else []


def _blocker(tmp_path: Path, *names: str) -> Path:
    blocker = tmp_path / "blocker"
    for name in names:
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('{name} is not available in this process')\n")
    return blocker


@pytest.mark.parametrize("case", TORCH_CASES)
def test_verify_to_tf_passes(case, tmp_path):
    program = FIXTURES / "torch_to_tf" / case
    proc = cli("verify", program, "--to", "tf", "--format", "json", "--keep", tmp_path / "work", *_spec_of(program))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["passed"] and not report["errors"], report
    assert (tmp_path / "work" / f"{program.stem}_converted.py").is_file()
    models = {c["name"].split(":")[0] for c in report["checks"] if c["name"].startswith("model ")}
    assert models, "no model compared"
    if case.startswith("training/"):
        assert report["trained"] and report["training_steps"] > 0
        steps = [c for c in report["checks"] if c["name"].startswith("loss of training steps")]
        assert steps and steps[0]["passed"] and steps[0]["tolerance"] == 1e-4


def test_verify_to_tf_table_on_a_seed_program():
    """Synthetic data drawn with torch.rand/randint: the conversion's tf.random draws the same numbers."""
    proc = cli("verify", TORCH_PROGRAM)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"{TORCH_PROGRAM} -> ") and lines[0].endswith("(original run on cpu)")
    assert lines[1].split() == ["check", "max", "abs", "max", "rel", "tolerance", "result"]
    table = {line.split()[0]: line.split()[-1] for line in lines[2:] if line.split() and line.split()[-1] in ("ok", "FAIL")}
    assert table.get("inputs") == "ok" and table.get("labels") == "ok"  # the same synthetic batch on both sides
    assert any(line.startswith("loss of training steps 1-4 ") and line.endswith("ok") for line in lines)
    assert lines[-1].startswith("MATCH: ") and "4 training step(s) compared" in lines[-1]


def test_a_wrong_conversion_to_tf_fails(tmp_path):
    converted = tmp_path / "wrong.py"
    code = TORCH_PROGRAM.with_name(TORCH_PROGRAM.stem + ".expected.py").read_text()
    assert "momentum=0.9" in code
    converted.write_text(code.replace("momentum=0.9", "momentum=0.8"))  # a conversion that got an argument wrong
    proc = cli("verify", TORCH_PROGRAM, "--to", "tf", "--converted", converted)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = [line for line in proc.stdout.splitlines() if "FAIL" in line]
    assert any(line.startswith("loss of training steps 1-4") for line in failed), proc.stdout
    assert any(line.startswith("model net: output 0") for line in failed), proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("MISMATCH: ")


def test_a_model_made_inside_a_function_is_named_in_the_notes(tmp_path):
    """Verify gives the same initial weights to module-level models only: a model trained
    inside a function starts from each framework's own initialisation, and the report says so."""
    program = tmp_path / "local.py"
    program.write_text(
        "import torch\nimport torch.nn as nn\n\n\n"
        "def train():\n"
        "    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))\n"
        "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))\n"
        "    for step in range(3):\n"
        "        opt.zero_grad()\n"
        "        loss = nn.functional.cross_entropy(model(x), y)\n"
        "        loss.backward()\n"
        "        opt.step()\n"
        "    return model\n\n\n"
        "trained = train()\n"
    )
    proc = cli("verify", program)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "note: no module-level model trained" in proc.stdout
    assert "note: model trained: not compared (it ran before it was a module-level variable" in proc.stdout


def test_record_then_replay_to_tf_without_torch(tmp_path):
    recording = tmp_path / "recording"
    proc = cli("verify", TORCH_PROGRAM, "--record", recording)
    assert proc.returncode == 0, proc.stderr
    for name in ("record.npz", "record.json", "program.npz", "program.json", "recording.json"):
        assert (recording / name).is_file(), name
    manifest = json.loads((recording / "recording.json").read_text())
    assert manifest["framework"] == "torch"
    with np.load(recording / "record.npz", allow_pickle=False) as arrays:  # plain arrays, no pickle
        assert {"net/in/0", "net/out/0", "net/init/conv1.weight", "net/w/fc3.bias"} <= set(arrays.files)
    blocker = _blocker(tmp_path, "torch")
    proc = cli("verify", TORCH_PROGRAM, "--replay", recording, "--format", "json", env_extra={"PREPEND": [str(blocker)]})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["passed"] and report["training_steps"] == 4
    changed = tmp_path / "changed.py"
    changed.write_text(TORCH_PROGRAM.read_text() + "\nprint('one more line')\n")
    proc = cli("verify", changed, "--replay", recording)
    assert proc.returncode == 2 and "records another version" in proc.stderr


def test_weights_command_loads_trained_weights(tmp_path):
    program = tmp_path / "net.py"
    program.write_text(
        "from tensorflow import keras\n\n"
        "model = keras.Sequential([keras.Input(shape=(12, 12, 1)), keras.layers.Conv2D(4, 3, activation='relu'),\n"
        "                          keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(3)])\n"
    )
    train = tmp_path / "train.py"
    train.write_text(
        "import runpy, numpy as np\n"
        "model = runpy.run_path('net.py')['model']\n"
        "rng = np.random.default_rng(1)\n"
        "for w in model.weights:\n"
        "    w.assign(rng.standard_normal(tuple(w.shape)).astype('float32') * 0.3)\n"
        "model.save_weights('trained.weights.h5')\n"
        "x = rng.standard_normal((2, 12, 12, 1)).astype('float32')\n"
        "np.save('x.npy', x)\n"
        "np.save('y.npy', np.asarray(model(x)))\n"
    )
    subprocess.run([sys.executable, str(train)], cwd=tmp_path, check=True, capture_output=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    proc = cli("weights", tmp_path / "trained.weights.h5", "--program", program, "-o", tmp_path / "trained.pt")
    assert proc.returncode == 0, proc.stderr
    assert cli("convert", program, "--to", "torch", "-o", tmp_path / "net_torch.py").returncode == 0
    import runpy

    import torch

    model = runpy.run_path(str(tmp_path / "net_torch.py"))["model"]
    model.load_state_dict(torch.load(tmp_path / "trained.pt"))
    model.eval()
    x = torch.from_numpy(np.load(tmp_path / "x.npy")).movedim(-1, 1)
    with torch.no_grad():
        y = model(x).numpy()
    np.testing.assert_allclose(y, np.load(tmp_path / "y.npy"), rtol=1e-4, atol=1e-5)
    missing = cli("weights", tmp_path / "trained.weights.h5", "--program", program, "--model", "nope", "-o", tmp_path / "x.pt")
    assert missing.returncode == 2 and "no converted model named 'nope'" in missing.stderr


def test_nothing_to_compare_is_not_a_match(tmp_path):
    program = tmp_path / "only_functions.py"
    program.write_text("import tensorflow as tf\n\n\ndef total(x):\n    return tf.reduce_sum(x)\n")
    proc = cli("verify", program, "--to", "torch", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "NOTHING COMPARED" in proc.stdout

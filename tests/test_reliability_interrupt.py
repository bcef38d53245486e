"""Stopping a run midway (Ctrl-C, SIGKILL) leaves every file either old or new.

A tree of 2,000 small TensorFlow files is converted in place by the parallel
runner; the run is interrupted once some files have changed, and every file
must then be byte-identical to its original or to its full conversion
(computed here with ``convert_source``), with no half-written file. The run
is then finished, and a further run changes nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from transpiler.api import convert_source
from transpiler.files import TMP_SUFFIX

N_FILES = 2000

TEMPLATE = '''"""Module {i}."""
import tensorflow as tf

ID = {i}


def layer_{i}(x, scale={scale}):
    y = tf.reduce_sum(x, axis={axis}, keepdims=True)
    z = tf.nn.relu(tf.matmul(x, tf.transpose(x))) * scale + tf.reduce_mean(tf.square(x), axis=0, keepdims=True) + tf.reduce_max(y)
    return tf.concat([y, z], axis=0)  # comment {i}
'''
UNCONVERTED = "\n# an API without a rule stays, marked\nw = tf.linalg.expm(tf.eye(2))\n"


def make_tree(root: Path) -> dict[Path, bytes]:
    originals = {}
    for i in range(N_FILES):
        folder = root / f"pkg{i % 25}"
        folder.mkdir(parents=True, exist_ok=True)
        text = TEMPLATE.format(i=i, axis=i % 2, scale=i / 7)
        if i % 10 == 3:
            text += UNCONVERTED
        data = text.encode()
        if i % 10 == 7:
            data = data.replace(b"\n", b"\r\n")
        path = folder / f"m{i}.py"
        path.write_bytes(data)
        originals[path] = data
    return originals


_EXPECTED: dict[bytes, bytes] = {}


def expected(data: bytes) -> bytes:
    if data not in _EXPECTED:
        _EXPECTED[data] = convert_source(data.decode("utf-8"), to="torch").code.encode("utf-8")
    return _EXPECTED[data]


def changed_count(originals: dict[Path, bytes]) -> int:
    count = 0
    for path, data in originals.items():
        try:
            if os.stat(path).st_size != len(data):
                count += 1
        except FileNotFoundError:
            count += 1
    return count


def start(root: Path) -> subprocess.Popen:
    env = dict(os.environ, TRANSPILER_SERVER="0", NO_COLOR="1")
    return subprocess.Popen(
        [sys.executable, "-m", "transpiler", "convert", str(root), "--to", "torch", "--in-place", "-j", "2", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
    )


def interrupt_when(proc, originals, at_least: int, signum: int) -> int:
    """Send ``signum`` to the run's process group once ``at_least`` files changed."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run finished before it could be interrupted ({changed_count(originals)} files changed)")
        n = changed_count(originals)
        if n >= at_least:
            os.killpg(proc.pid, signum)
            return n
        time.sleep(0.002)
    pytest.fail("the run made no progress")


def check_old_or_new(root: Path, originals: dict[Path, bytes], *, temp_allowed: bool, sample: int | None = None) -> tuple[int, int]:
    """Every file is its original or its full conversion; returns (old, new) counts.

    With ``sample``, converted files are compared with their expected
    conversion for that many files only (plus those compared before): the
    others must still differ from their original and parse.
    """
    import ast
    import random

    rng = random.Random(0)
    old = new = 0
    for path, data in originals.items():
        now = path.read_bytes()
        if now == data:
            old += 1
            continue
        new += 1
        if sample is None or data in _EXPECTED or rng.random() < sample / len(originals):
            assert now == expected(data), f"{path} is neither the original nor its conversion"
        else:
            ast.parse(now)
    extra = {p for p in root.rglob("*") if p.is_file()} - set(originals)
    temps = {p for p in extra if p.name.startswith(".") and p.name.endswith(TMP_SUFFIX)}
    assert extra == temps, f"unexpected files: {sorted(extra - temps)[:5]}"
    if not temp_allowed:
        assert not temps, f"temporary files left: {sorted(temps)[:5]}"
    return old, new


def _cleanup(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=30)


def test_ctrl_c_midway_leaves_every_file_old_or_new(tmp_path):
    originals = make_tree(tmp_path)
    proc = start(tmp_path)
    try:
        interrupt_when(proc, originals, 100, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        _cleanup(proc)
    assert proc.returncode == 130, err
    assert b"interrupted; every file is either unchanged or fully converted" in err
    assert b"Traceback" not in err
    old, new = check_old_or_new(tmp_path, originals, temp_allowed=False)
    assert new >= 100 and old > 0, (old, new)  # it did stop midway


def test_sigkill_midway_leaves_every_file_old_or_new_then_a_rerun_finishes(tmp_path):
    originals = make_tree(tmp_path)
    threshold = 100
    for _ in range(2):  # killed twice at different points, resuming in between
        proc = start(tmp_path)
        try:
            interrupt_when(proc, originals, threshold, signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            _cleanup(proc)
        assert proc.returncode == -signal.SIGKILL
        old, new = check_old_or_new(tmp_path, originals, temp_allowed=True)
        assert new >= threshold and old > 0, (old, new)
        threshold = new + 150
    for temp in tmp_path.rglob("*" + TMP_SUFFIX):  # what a kill may leave: never a .py file
        temp.unlink()
    final = start(tmp_path)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    old, new = check_old_or_new(tmp_path, originals, temp_allowed=False, sample=200)
    assert (old, new) == (0, N_FILES)

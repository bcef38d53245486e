"""An installed wheel, not only an editable install, carries the rule files and works."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_rules_and_converts(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("transpiler-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.split("transpiler/rules/", 1)[1] for n in names if n.startswith("transpiler/rules/") and n.endswith(".toml")}
    in_repo = {p.relative_to(ROOT / "rules").as_posix() for p in (ROOT / "rules").rglob("*.toml")}
    assert shipped == in_repo
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # the unpacked wheel comes first on the path, and the repository is not the working folder
    env = dict(os.environ, PYTHONPATH=str(site))
    where = subprocess.run(
        [sys.executable, "-c", "import transpiler.rules as r; print(r.rules_root())"],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )
    assert where.stdout.strip() == str(site / "transpiler" / "rules"), where.stderr
    check = subprocess.run(
        [sys.executable, "-m", "transpiler", "rules", "--check"], capture_output=True, text=True, cwd=tmp_path, env=env,
    )
    assert check.returncode == 0 and "0 problem(s)" in check.stdout + check.stderr, check.stdout + check.stderr
    converted = subprocess.run(
        [sys.executable, "-m", "transpiler", "convert", "-", "--to", "torch"],
        input="import tensorflow as tf\nx = tf.reduce_sum(tf.ones([2, 3]), axis=1)\n",
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )
    assert converted.returncode == 0, converted.stderr
    assert "torch.sum(torch.ones([2, 3]), dim=1)" in converted.stdout

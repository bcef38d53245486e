"""Running fixture programs under the real frameworks, many per subprocess."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def needs_frameworks():
    missing = [m for m in ("tensorflow", "torch", "numpy") if not have(m)]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} installed")


def run_programs(programs: list[Path], out_dir: Path, *, env_extra: dict | None = None, timeout: int = 900) -> list[str]:
    """Run every program via transpiler.verify.capture; return result prefixes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    env.update(env_extra or {})
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "transpiler.verify.capture", str(out_dir), *map(str, programs)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"capture failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return [str(out_dir / str(i)) for i in range(len(programs))]

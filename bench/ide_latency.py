"""IDE latency: wall time of `transpiler convert - --to torch` on a 300-line Keras file.

Each run is a fresh process reading stdin and writing stdout, as an editor's
external tool does; `black -` on the same file is measured in the same run, in
alternation, as the reference. Prints medians. Run: python bench/ide_latency.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = HERE / "data" / "keras_300.py"


def run(cmd: list[str], data: bytes) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed: {proc.stderr.decode()[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    data = args.file.read_bytes()
    bindir = Path(sys.executable).parent
    transpiler = [str(bindir / "transpiler"), "convert", "-", "--to", "torch", "-q"]
    in_process = transpiler + ["--no-server"]
    black = [str(bindir / "black"), "-q", "-"]
    subprocess.run([str(bindir / "transpiler"), "server", "stop"], capture_output=True)
    cold = run(transpiler, data)  # no server yet: converts in-process and starts one
    time.sleep(3)  # let the server finish loading
    for cmd in (transpiler, black, in_process):  # warm the file cache
        run(cmd, data)
    ours, theirs, local = [], [], []
    for _ in range(args.runs):
        ours.append(run(transpiler, data))
        theirs.append(run(black, data))
        local.append(run(in_process, data))
    t, b, n = statistics.median(ours), statistics.median(theirs), statistics.median(local)
    lines = data.count(b"\n")
    print(f"input: {args.file.name}, {lines} lines, {args.runs} runs each")
    print(f"transpiler convert -              : median {t * 1000:6.0f} ms  (min {min(ours) * 1000:.0f})  [background server]")
    print(f"transpiler convert - --no-server  : median {n * 1000:6.0f} ms  (min {min(local) * 1000:.0f})  [everything in-process]")
    print(f"first call (no server running yet): {cold * 1000:6.0f} ms")
    print(f"black -                           : median {b * 1000:6.0f} ms  (min {min(theirs) * 1000:.0f})")
    print(f"ratio transpiler / black: {t / b:.2f} (server), {n / b:.2f} (in-process)")


if __name__ == "__main__":
    main()

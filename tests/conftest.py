import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# TensorFlow turns its oneDNN kernels on by itself only on some x86 CPUs (AVX-512 ones);
# without them its CPU Conv2D refuses channels-first data, which the channels_first
# fixtures run. On for every machine (the TensorFlow subprocesses inherit it), so the
# suite behaves the same on Intel and AMD runners.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

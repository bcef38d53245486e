"""Helper modules the conversion writes into its output (hooks/tf_to_torch/snippets.py)
compute what the Keras layers they stand for compute, given the same weights (mapped
as the layer plan's weight map says).

Each check runs in a subprocess with both frameworks (as the numeric fixtures do).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from numeric_util import needs_frameworks
from transpiler.hooks.tf_to_torch.snippets import SNIPPETS

pytestmark = [pytest.mark.numeric, needs_frameworks()]

ROOT = Path(__file__).resolve().parent.parent


def _run(script: str) -> str:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_tied_embedding_matches_keras_reversible_embedding():
    helper = SNIPPETS["TiedEmbedding"]
    script = textwrap.dedent('''
        import numpy as np
        import keras
        import torch
        from keras.layers import ReversibleEmbedding
    ''') + helper + textwrap.dedent('''
        rng = np.random.default_rng(0)
        ids = rng.integers(0, 11, size=(2, 5))
        hidden = rng.normal(size=(2, 5, 4)).astype("float32")
        for tie, cap in ((True, None), (False, None), (True, 2.0), (False, 0.5)):
            layer = ReversibleEmbedding(11, 4, tie_weights=tie, logit_soft_cap=cap)
            layer.build()
            module = TiedEmbedding(11, 4, tie_weights=tie, logit_soft_cap=cap)
            with torch.no_grad():  # the plan's weight map: embeddings -> weight, reverse_embeddings -> reverse_weight (transposed)
                module.weight.copy_(torch.tensor(np.asarray(layer.embeddings)))
                if not tie:
                    module.reverse_weight.copy_(torch.tensor(np.asarray(layer.reverse_embeddings)).T)
                forward = module(torch.tensor(ids)).numpy()
                reverse = module(torch.tensor(hidden), reverse=True).numpy()
            np.testing.assert_allclose(forward, np.asarray(layer(ids)), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(reverse, np.asarray(layer(hidden, reverse=True)), rtol=1e-5, atol=1e-5)
        print("OK")
    ''')
    assert _run(script).strip().endswith("OK")

"""A process with TensorFlow and PyTorch both imported, answering model-equivalence jobs.

Property tests need many small comparisons; starting the frameworks for each one
would take seconds. This worker runs `transpiler.verify.keras_record.main` and
`transpiler.verify.torch_replay.main` in-process for each job read from stdin
(one JSON list per line) and answers "ok" or the error on stdout.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def main() -> None:
    import keras  # noqa: F401
    import torch  # noqa: F401

    from transpiler.verify import keras_record, torch_replay

    out = sys.stdout
    sys.stdout = sys.stderr  # programs that print must not break the protocol
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        keras_args, torch_args = json.loads(line)
        try:
            keras_record.main(*keras_args)
            torch_replay.main(*torch_args)
            out.write(json.dumps({"ok": True}) + "\n")
        except BaseException as exc:
            out.write(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-3000:]}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()

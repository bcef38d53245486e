"""Load recorded Keras weights into the converted PyTorch models and run the recorded inputs.

``python -m transpiler.verify.models_torch PROGRAM INFO_JSON RECORD_DIR OUT_DIR [DEVICE]``
(needs PyTorch, not TensorFlow). INFO_JSON is ConversionResult.models: for each
model, its form, input layouts and weight map. Writes OUT_DIR/run.npz and
OUT_DIR/run.json: outputs (in Keras's layout), parameter counts, load problems.
"""

from __future__ import annotations

import json
import os
import runpy
import sys

import numpy as np


def to_torch_layout(x: np.ndarray, layout: str) -> np.ndarray:
    if layout == "cf" and x.ndim >= 3:
        return np.moveaxis(x, -1, 1)
    return x


def from_torch_layout(y: np.ndarray, layout: str, rank) -> np.ndarray:
    if layout == "cf" and y.ndim >= 3:
        return np.moveaxis(y, 1, -1)
    return y


def main(program: str, info_path: str, record_dir: str, out_dir: str, device: str = "cpu") -> None:
    import torch

    from ..weights.transforms import origin_key, state_dict_arrays

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    infos = json.load(open(info_path))
    record = np.load(os.path.join(record_dir, "record.npz"), allow_pickle=False)
    meta = json.load(open(os.path.join(record_dir, "record.json")))
    namespace = runpy.run_path(program, run_name="__main__")
    arrays: dict[str, np.ndarray] = {}
    result: dict = {"models": {}}
    for name, keras_meta in meta["models"].items():
        entry: dict = {}
        result["models"][name] = entry
        module = namespace.get(name)
        info = infos.get(name)
        if not isinstance(module, torch.nn.Module) or info is None:
            entry["error"] = f"no converted model named {name!r}"
            continue
        by_origin: dict = {}
        for layer in keras_meta["layers"]:
            if not layer["weights"] or layer["origin"] is None:
                continue
            li = layer["index"]
            weights = [(rank, wname, record[f"{name}/w/{li}/{wi}"]) for wi, (wname, rank) in enumerate(zip(layer["weights"], layer["ranks"]))]
            by_origin.setdefault(origin_key(layer["origin"]), []).extend(weights)
        # layers created by one call (a Bidirectional's two directions) in the model's weight order
        by_origin = {k: [(n, a) for _, n, a in sorted(v, key=lambda t: t[0])] for k, v in by_origin.items()}
        inputs = [record[f"{name}/in/{i}"] for i in range(keras_meta["inputs"])]
        layouts = [i["layout"] for i in info["inputs"]] + ["keras"] * len(inputs)
        tensors = [torch.from_numpy(np.ascontiguousarray(to_torch_layout(x, layouts[i]))) for i, x in enumerate(inputs)]
        try:
            module.eval()
            with torch.no_grad():
                module(*tensors)  # materialise Lazy modules before loading weights
            state = state_dict_arrays(info, by_origin)
            own = module.state_dict()
            missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
            unexpected = [k for k in state if k not in own]
            if missing or unexpected:
                entry["error"] = f"weight map mismatch: missing {missing}, unexpected {unexpected}"
                continue
            for key, value in state.items():
                if tuple(own[key].shape) != tuple(value.shape):
                    raise ValueError(f"{key}: Keras gives {value.shape}, the module wants {tuple(own[key].shape)}")
                own[key].copy_(torch.from_numpy(np.ascontiguousarray(value)))
            module.to(device)
            with torch.no_grad():
                out = module(*[t.to(device) for t in tensors])
        except Exception as exc:  # a failing model is a result, reported by name
            entry["error"] = f"{type(exc).__name__}: {exc}"
            continue
        outs = out if isinstance(out, (list, tuple)) else [out]
        for i, y in enumerate(outs):
            arrays[f"{name}/out/{i}"] = from_torch_layout(y.detach().cpu().numpy(), info.get("output_layout", "keras"), info.get("output_rank"))
        entry["outputs"] = len(outs)
        from ..weights.transforms import SYNTHETIC

        # Keras counts non-trainable weights (BatchNorm statistics) too; PyTorch keeps those as buffers
        own = module.state_dict()
        total = sum(v.numel() for k, v in own.items() if not k.endswith("num_batches_tracked"))
        entry["count_params"] = int(total - sum(own[k].numel() for k in SYNTHETIC if k in own))
        entry["synthetic"] = sorted(SYNTHETIC)
    os.makedirs(out_dir, exist_ok=True)
    np.savez(os.path.join(out_dir, "run.npz"), **arrays)
    with open(os.path.join(out_dir, "run.json"), "w") as handle:
        json.dump(result, handle, indent=1)


def main_jobs(path: str) -> None:
    """Several programs in one process (the framework is imported once): a JSON list of argument lists."""
    import traceback

    for args in json.load(open(path)):
        try:
            main(*args)
        except BaseException as exc:  # one failing program must not hide the others
            out_dir = args[3]
            os.makedirs(out_dir, exist_ok=True)
            with open(os.path.join(out_dir, "failure.txt"), "w") as handle:
                handle.write(f"{type(exc).__name__}: {exc}\n" + traceback.format_exc())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--jobs":
        main_jobs(sys.argv[2])
    else:
        main(*sys.argv[1:])

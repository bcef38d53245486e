"""Run the converted PyTorch program against a recording of the Keras original.

``python -m transpiler.verify.torch_replay PROGRAM INFO_JSON RECORD_DIR OUT_DIR [DEVICE]``
(needs PyTorch, not TensorFlow). INFO_JSON is ConversionResult.models: for each
model, its form, input layouts and weight map. RECORD_DIR is what keras_record.py
wrote. While the program runs:

* the first time any module runs, each converted model found in the program's
  module-level variables gets the Keras model's *initial* weights through the
  weight map, so both programs train from the same point;
* dropout is off and DataLoaders do not shuffle (deterministic.py);
* on ``cuda`` new tensors go to the GPU (``torch.set_default_device``), and
  TF32 is off so that float32 means float32.

Afterwards each model runs the recorded inputs in eval mode, and where the
Keras model was trained its final weights are compared with the PyTorch ones.
Writes OUT_DIR/run.npz, OUT_DIR/run.json and OUT_DIR/program.{npz,json}.
"""

from __future__ import annotations

import json
import os
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


def keras_state(info: dict, keras_meta: dict, record, name: str, which: str) -> dict[str, np.ndarray]:
    """The state_dict the Keras model's weights (``which``: "init" or "w") map to."""
    from ..weights.transforms import origin_key, state_dict_arrays

    by_origin: dict = {}
    classes: dict = {}
    for layer in keras_meta["layers"]:
        if not layer["weights"] or layer["origin"] is None:
            continue
        classes[origin_key(layer["origin"])] = layer.get("class")
        li = layer["index"]
        weights = [
            (rank, wname, record[f"{name}/{which}/{li}/{wi}"])
            for wi, (wname, rank) in enumerate(zip(layer["weights"], layer["ranks"]))
        ]
        by_origin.setdefault(origin_key(layer["origin"]), []).extend(weights)
    # layers created by one call (a Bidirectional's two directions) in the model's weight order
    by_origin = {k: [(n, a) for _, n, a in sorted(v, key=lambda t: t[0])] for k, v in by_origin.items()}
    return state_dict_arrays(info, by_origin, classes)


def with_aliases(module, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``state`` with every key of a tensor the module holds under several names (T5's shared
    embedding, given to its encoder and decoder: ``shared.weight``, ``encoder.embed_tokens.weight``),
    where the weight map gives one of them."""
    names: dict[int, list[str]] = {}
    for key, tensor in module.state_dict(keep_vars=True).items():
        names.setdefault(id(tensor), []).append(key)
    out = dict(state)
    for keys in names.values():
        given = next((k for k in keys if k in state), None)
        if given is not None:
            for key in keys:
                out.setdefault(key, state[given])
    return out


def load_state(module, state: dict[str, np.ndarray]) -> None:
    import torch

    state = with_aliases(module, state)
    own = module.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise ValueError(f"weight map mismatch: missing {missing}, unexpected {unexpected}")
    with torch.no_grad():
        for key, value in state.items():
            if tuple(own[key].shape) != tuple(value.shape):
                raise ValueError(f"{key}: Keras gives {value.shape}, the module wants {tuple(own[key].shape)}")
            own[key].copy_(torch.from_numpy(np.require(value, requirements="C")))


def _lazy(module) -> bool:
    from torch.nn.parameter import UninitializedParameter

    return any(isinstance(p, UninitializedParameter) for p in module.parameters())


def main(program: str, info_path: str, record_dir: str, out_dir: str, device: str = "cpu", echo: bool = False) -> dict:
    import torch

    from . import capture, deterministic
    from .compare import compare_arrays
    from ..weights.transforms import SYNTHETIC

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    deterministic.torch_patches()
    torch.manual_seed(0)
    infos = json.load(open(info_path))
    record = np.load(os.path.join(record_dir, "record.npz"), allow_pickle=False)
    meta = json.load(open(os.path.join(record_dir, "record.json")))
    result: dict = {"framework": "torch", "models": {}, "device": device}
    entries = {name: result["models"].setdefault(name, {}) for name in meta["models"]}
    namespace: dict = {}
    loaded: dict[str, int] = {}  # model name -> id of the module that got the initial weights

    def load_initial(name: str, module) -> None:
        loaded[name] = id(module)
        try:
            load_state(module, keras_state(infos[name], meta["models"][name], record, name, "init"))
        except Exception as exc:
            entries[name]["error"] = f"initial weights: {type(exc).__name__}: {exc}"

    pending = [n for n, m in meta["models"].items() if "error" not in m and n in infos]

    def before_forward(module, args):
        if not pending:
            return
        for name in list(pending):
            value = namespace.get(name)
            if isinstance(value, torch.nn.Module) and not _lazy(value):
                pending.remove(name)
                load_initial(name, value)
                entries[name]["loaded_before_first_call"] = True

    hook = torch.nn.modules.module.register_module_forward_pre_hook(before_forward)
    deterministic.reset()
    try:
        with deterministic.torch_device(torch, device):
            namespace, program_meta, program_arrays = capture.execute(program, namespace, echo=echo)
    finally:
        hook.remove()
    result["step_losses"] = list(deterministic.STEP_LOSSES)
    os.makedirs(out_dir, exist_ok=True)
    capture.save(program_meta, program_arrays, os.path.join(out_dir, "program"))
    arrays: dict[str, np.ndarray] = {}
    for name, keras_meta in meta["models"].items():
        entry = entries[name]
        module = namespace.get(name)
        info = infos.get(name)
        if "error" in keras_meta:
            entry["error"] = keras_meta["error"]
            continue
        if not isinstance(module, torch.nn.Module) or info is None:
            entry["error"] = f"no converted model named {name!r}"
            continue
        if "error" in entry:
            continue
        try:
            inputs = [record[f"{name}/in/{i}"] for i in range(keras_meta["inputs"])]
            layouts = [i["layout"] for i in info["inputs"]] + ["keras"] * len(inputs)
            tensors = [torch.from_numpy(np.require(to_torch_layout(x, layouts[i]), requirements="C")).to(device) for i, x in enumerate(inputs)]
            if loaded.get(name) != id(module):  # the program never ran it
                if _lazy(module):
                    module.eval()
                    with torch.no_grad():
                        module(*tensors)  # materialise Lazy modules before loading weights
                load_initial(name, module)
                if "error" in entry:
                    continue
            if keras_meta.get("trained"):
                expected = keras_state(info, keras_meta, record, name, "w")
                own = module.state_dict()
                checks = []
                for key, value in expected.items():
                    if key in SYNTHETIC:
                        continue
                    check = compare_arrays(key, value, own[key].detach().cpu().numpy(), 0.0, 0.0)
                    checks.append({"name": key, "max_abs": check.max_abs, "max_rel": check.max_rel})
                    arrays[f"{name}/final/{key}"] = own[key].detach().cpu().numpy()
                    arrays[f"{name}/expected/{key}"] = value
                entry["weights"] = checks
            module.eval()
            with torch.no_grad():
                out = module(*tensors)
        except Exception as exc:  # a failing model is a result, reported by name
            entry["error"] = f"{type(exc).__name__}: {exc}"
            continue
        outs = out if isinstance(out, (list, tuple)) else [out]
        for i, y in enumerate(outs):
            arrays[f"{name}/out/{i}"] = from_torch_layout(y.detach().cpu().numpy(), info.get("output_layout", "keras"), info.get("output_rank"))
        entry["outputs"] = len(outs)
        # Keras counts non-trainable weights (BatchNorm statistics) too; PyTorch keeps those as buffers
        own = module.state_dict()
        total = sum(v.numel() for k, v in own.items() if not k.endswith("num_batches_tracked"))
        entry["count_params"] = int(total - sum(own[k].numel() for k in SYNTHETIC if k in own))
        entry["synthetic"] = sorted(SYNTHETIC)
    np.savez(os.path.join(out_dir, "run.npz"), **arrays)
    with open(os.path.join(out_dir, "run.json"), "w") as handle:
        json.dump(result, handle, indent=1)
    return result


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

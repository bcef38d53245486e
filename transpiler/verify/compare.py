"""Comparing two recorded program runs, value by value."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Check:
    name: str
    max_abs: float
    max_rel: float
    tolerance: float
    passed: bool
    detail: str = ""


@dataclass
class Comparison:
    checks: list[Check] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.errors and all(c.passed for c in self.checks)


def load_run(prefix: str) -> tuple[dict, dict[str, np.ndarray]]:
    with open(prefix + ".json", encoding="utf-8") as handle:
        meta = json.load(handle)
    with np.load(prefix + ".npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return meta, arrays


def compare_arrays(
    name: str, a: np.ndarray, b: np.ndarray, rtol: float, atol: float, *, shape_only: bool = False, allow_nan: bool = True
) -> Check:
    """allow_nan: NaN at the same places on both sides counts as equal (numeric
    fixtures of functions outside their domain); verify passes False: NaN never passes."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        # a Python scalar printed on one side and a 0-d tensor on the other compare fine
        if a.size == b.size == 1:
            a, b = a.reshape(()), b.reshape(())
        else:
            return Check(name, float("inf"), float("inf"), rtol, False, f"shape {a.shape} != {b.shape}")
    if shape_only:
        return Check(name, 0.0, 0.0, rtol, True, "shape only")
    if a.dtype.kind == "b" or b.dtype.kind == "b":
        equal = bool(np.array_equal(a.astype(bool), b.astype(bool)))
        return Check(name, 0.0 if equal else 1.0, 0.0 if equal else 1.0, 0.0, equal, "boolean")
    if a.dtype.kind == "c" or b.dtype.kind == "c":
        a = np.stack([np.real(a), np.imag(a)], axis=-1)
        b = np.stack([np.real(b), np.imag(b)], axis=-1)
    af = a.astype(np.float64)
    bf = b.astype(np.float64)
    if np.isnan(af).any() or np.isnan(bf).any():
        if not allow_nan:
            return Check(name, float("nan"), float("nan"), rtol, False, "NaN")
        same_nan = bool(np.array_equal(np.isnan(af), np.isnan(bf)))
        if not same_nan:
            return Check(name, float("nan"), float("nan"), rtol, False, "NaN in one run only")
        mask = ~np.isnan(af)
        af, bf = af[mask], bf[mask]
        if af.size == 0:
            return Check(name, float("nan"), float("nan"), rtol, False, "all NaN")
    if af.size == 0:
        return Check(name, 0.0, 0.0, rtol, True)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.abs(af - bf)
        inf_mismatch = np.isinf(af) != np.isinf(bf)
        diff = np.where(np.isinf(af) & np.isinf(bf) & (np.sign(af) == np.sign(bf)), 0.0, diff)
        max_abs = float(np.nanmax(diff)) if diff.size else 0.0
        scale = np.maximum(np.abs(af), np.abs(bf))
        rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1), 0.0)
        max_rel = float(np.nanmax(rel)) if rel.size else 0.0
    passed = bool(np.all(diff <= atol + rtol * np.abs(bf))) and not bool(inf_mismatch.any())
    return Check(name, max_abs, max_rel, rtol, passed)


def compare_runs(
    prefix_a: str, prefix_b: str, *, rtol: float = 1e-5, atol: float = 1e-6, shape_only: set[str] = frozenset(), allow_nan: bool = True,
    scale_rtol: float | None = None,
) -> Comparison:
    """scale_rtol: each array's absolute tolerance is at least scale_rtol times its largest
    magnitude (values computed after training: near-zero entries carry the absolute error
    of the whole tensor)."""
    result = Comparison()

    def check(name, a, b, **kwargs):
        tol = atol
        if scale_rtol is not None and a.size and a.dtype.kind in "fc":
            finite = np.abs(a[np.isfinite(a)]) if np.isfinite(a).any() else np.zeros(1)
            tol = max(atol, scale_rtol * float(finite.max()))
        return compare_arrays(name, a, b, rtol, tol, allow_nan=allow_nan, **kwargs)

    meta_a, arr_a = load_run(prefix_a)
    meta_b, arr_b = load_run(prefix_b)
    for label, meta in (("original", meta_a), ("converted", meta_b)):
        if meta.get("error"):
            result.errors.append(f"{label} program failed: {meta['error']}")
    if result.errors:
        return result
    pa = [p for p in meta_a["printed"] if "array" in p]
    pb = [p for p in meta_b["printed"] if "array" in p]
    if len(pa) != len(pb):
        result.errors.append(f"printed {len(pa)} values in the original, {len(pb)} in the conversion")
    for i, (x, y) in enumerate(zip(pa, pb)):
        result.checks.append(check(f"print #{i + 1}", arr_a[x["array"]], arr_b[y["array"]]))
    for name in sorted(set(meta_a["variables"]) & set(meta_b["variables"])):
        result.checks.append(check(name, arr_a[f"var_{name}"], arr_b[f"var_{name}"], shape_only=name in shape_only))
    return result

"""The public measurement corpus: model code from pinned releases of public packages.

The wheels are fetched at bench time with ``pip download --no-deps`` into a cache
outside the repository (default ~/.cache/transpiler-corpus, or
$TRANSPILER_CORPUS_CACHE, or --cache) and only the model sources are unpacked;
nothing here is ever imported or committed. Why these packages: bench/README.md.

Layout: CACHE/corpus/<framework>/<package>-<version>/<path in the wheel>, so
that a location in a report reads like the package's own file name.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

# torchvision ships platform wheels only; its Python sources are the same in each,
# so one fixed platform is named, which also fixes the file (and its hash)
_ONE_WHEEL = ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
              "--implementation", "cp", "--abi", "cp311"]


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    framework: str  # whose uses its files hold: "tf" or "torch"
    include: tuple[str, ...]  # fnmatch patterns on paths inside the wheel
    exclude: tuple[str, ...] = ()
    sha256: str = ""  # of the wheel, as first downloaded (a mismatch is reported, not fatal)
    pip_args: tuple[str, ...] = ()
    # (old, new): take the twin of each selected file, its name with old replaced by new
    twin: tuple[str, str] | None = None
    # what its users declare as [tool.transpiler] reexports: names the package's own
    # modules hand out for a framework's (transformers' files import keras from modeling_tf_utils)
    reexports: tuple[tuple[str, str], ...] = ()
    # what its users declare as [tool.transpiler] twins: base classes of the package with a
    # twin in the other framework (transformers' TFPreTrainedModel and PreTrainedModel)
    class_twins: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name}-{self.version}"


PACKAGES = (
    # TF2/Keras 2 code (tf.keras layers, tf.* ops), and the PyTorch twin of each of those models
    # with the shared TF modules those files import (their base and loss mixins, shape_list,
    # the output classes): converting the models means converting these too
    Package("transformers", "4.46.3", "tf", ("transformers/models/*/modeling_tf_*.py", "transformers/modeling_tf_utils.py",
                                             "transformers/tf_utils.py", "transformers/modeling_tf_outputs.py"),
            sha256="a12ef6f52841fd190a3e5602145b542d03507222f2c64ebb7ee92e8788093aef",
            reexports=(("transformers.modeling_tf_utils.keras", "keras"),
                       ("transformers.modeling_tf_utils.keras_serializable", "keras.saving.register_keras_serializable")),
            class_twins=(("transformers.modeling_tf_utils.TFPreTrainedModel", "transformers.modeling_utils.PreTrainedModel"),)),
    Package("transformers", "4.46.3", "torch", ("transformers/models/*/modeling_tf_*.py",),
            twin=("/modeling_tf_", "/modeling_"), sha256="a12ef6f52841fd190a3e5602145b542d03507222f2c64ebb7ee92e8788093aef"),
    # Keras 3 code on keras.ops: models and their layers (tests and preset tables left out)
    Package("keras-hub", "0.32.0", "tf", ("keras_hub/src/models/*.py", "keras_hub/src/layers/modeling/*.py"),
            exclude=("*_test.py", "*_presets.py"),
            sha256="c0a07ed19b894f5588188afd841659263eb6d3732e21188c82e3e7d3b6de4268"),
    # plain PyTorch vision models; 0.28 goes with the torch 2.13 the project pins
    Package("torchvision", "0.28.0", "torch", ("torchvision/models/*.py",),
            sha256="7e80f543b22503d9415e126db5f0ff3917036925e38560ee6b9ae38c571a4002", pip_args=tuple(_ONE_WHEEL)),
)


def default_cache() -> Path:
    return Path(os.environ.get("TRANSPILER_CORPUS_CACHE") or Path.home() / ".cache" / "transpiler-corpus")


def _wheel(pkg: Package, downloads: Path) -> Path:
    stem = pkg.name.replace("-", "_")
    found = sorted(downloads.glob(f"{stem}-{pkg.version}-*.whl"))
    if not found:
        downloads.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(downloads),
             f"{pkg.name}=={pkg.version}", *pkg.pip_args],
            check=True,
        )
        found = sorted(downloads.glob(f"{stem}-{pkg.version}-*.whl"))
    if not found:
        raise SystemExit(f"pip download gave no wheel for {pkg.name}=={pkg.version}")
    digest = hashlib.sha256(found[0].read_bytes()).hexdigest()
    if pkg.sha256 and digest != pkg.sha256:
        print(f"warning: {found[0].name}: sha256 {digest} differs from the one recorded ({pkg.sha256})", file=sys.stderr)
    return found[0]


def _selected(pkg: Package, names: list[str]) -> list[str]:
    # fnmatch's "*" also crosses "/": "models/*.py" takes every file below models/
    chosen = [n for n in names if any(fnmatch.fnmatch(n, p) for p in pkg.include)
              and not any(fnmatch.fnmatch(n, p) for p in pkg.exclude)]
    if pkg.twin:
        present = set(names)
        chosen = [t for t in (n.replace(*pkg.twin, 1) for n in chosen) if t in present]
    return chosen


# the unpacked layout; a folder unpacked by an older layout is unpacked again
LAYOUT = "3"  # 2: the packages' __init__.py on the way to each selected file (empty); 3: transformers' shared TF modules


def _package_markers(selected: list[str], names: list[str]) -> list[str]:
    """The ``__init__.py`` of the folders above the selected files that the wheel has: they make
    those folders packages, so that a file's imports of another (``from keras_hub.src.layers...
    import X``) name it. Written empty: their own code is not part of the selection."""
    present = set(names)
    markers = set()
    for name in selected:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            marker = "/".join(parts[:depth]) + "/__init__.py"
            if marker in present and marker not in selected:
                markers.add(marker)
    return sorted(markers)


def unpack(pkg: Package, cache: Path) -> Path:
    """The package's selected sources, unpacked once (a finished folder is reused)."""
    target = cache / "corpus" / pkg.framework / pkg.label
    stamp = target / ".corpus-layout"
    if target.is_dir() and stamp.is_file() and stamp.read_text() == LAYOUT:
        return target
    wheel = _wheel(pkg, cache / "downloads")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        selected = _selected(pkg, names)
        for name in selected:
            out = partial / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.read(name))
        for name in _package_markers(selected, names):
            out = partial / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(b"")
    (partial / ".corpus-layout").write_text(LAYOUT)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # only a complete folder carries the final name
    return target


def assemble(cache: Path | None = None) -> dict[str, list[Path]]:
    """framework -> the unpacked package folders holding its code."""
    cache = cache or default_cache()
    roots: dict[str, list[Path]] = {}
    for pkg in PACKAGES:
        roots.setdefault(pkg.framework, []).append(unpack(pkg, cache))
    return roots


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default ~/.cache/transpiler-corpus)")
    args = parser.parse_args()
    for framework, folders in assemble(args.cache).items():
        for folder in folders:
            count = sum(1 for _ in folder.rglob("*.py"))
            print(f"{framework:6} {count:5d} files  {folder}")

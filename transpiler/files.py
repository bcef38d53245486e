"""Finding, reading and safely writing the files a run converts.

Reading keeps what the bytes were (encoding, BOM, line endings) so that writing
gives back the same kind of file. Writing is atomic: a temporary file in the same
folder, then a rename, so an interrupted run leaves every file old or new.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024  # larger "source" files are almost surely generated data


class FileError(Exception):
    """A file that cannot be read or written; the message says why."""


@dataclass
class SourceFile:
    path: str
    text: str
    encoding: str = "utf-8"
    bom: bool = False


def read_source(path: str | Path) -> SourceFile:
    p = Path(path)
    try:
        if p.is_symlink() and not p.exists():
            raise FileError("broken symbolic link")
        st = p.stat()
    except FileNotFoundError:
        raise FileError("no such file") from None
    except PermissionError:
        raise FileError("permission denied") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise FileError("symbolic link loop") from None
        raise FileError(exc.strerror or str(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise FileError("is a directory")
    if st.st_size > MAX_BYTES:
        raise FileError(f"too large ({st.st_size // (1024 * 1024)} MiB; the limit is {MAX_BYTES // (1024 * 1024)} MiB)")
    try:
        data = p.read_bytes()
    except PermissionError:
        raise FileError("permission denied") from None
    except FileNotFoundError:
        raise FileError("file vanished while reading") from None
    except OSError as exc:
        raise FileError(exc.strerror or str(exc)) from None
    return decode_source(str(path), data)


def decode_source(path: str, data: bytes) -> SourceFile:
    if b"\x00" in data[:8192]:
        raise FileError("binary file (contains NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise FileError(f"cannot tell the encoding: {exc}") from None
    bom = encoding == "utf-8-sig"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FileError(f"not valid {encoding}: {exc}") from None
    if bom:
        encoding = "utf-8"
    return SourceFile(path, text, encoding, bom)


def encode_source(source: SourceFile, text: str) -> bytes:
    data = text.encode(source.encoding)
    return (b"\xef\xbb\xbf" + data) if source.bom else data


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step, keeping its permissions."""
    p = Path(path)
    target = p.resolve() if p.is_symlink() else p
    directory = target.parent
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".transpiler-tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
_ALWAYS_SKIP = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", ".mypy_cache", ".pytest_cache", "node_modules", ".eggs"}


def discover(
    paths: list[str],
    *,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    use_gitignore: bool = True,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Files to convert under ``paths``; returns (files, [(path, error)]).

    Files named directly are always taken; inside folders, ``.gitignore`` files
    and ``exclude`` globs are honoured and only ``include`` globs (default:
    Python files and notebooks) are taken.
    """
    import pathspec

    include_spec = pathspec.GitIgnoreSpec.from_lines(include) if include else None
    exclude_spec = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
    files: list[str] = []
    errors: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in paths:
        p = Path(raw)
        if not p.exists() and not p.is_symlink():
            errors.append((raw, "no such file or directory"))
            continue
        if not p.is_dir():
            key = os.path.realpath(raw)
            if key not in seen:
                seen.add(key)
                files.append(raw)
            continue
        root = p
        ignores: list[tuple[Path, object]] = []
        visited_dirs: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            d = Path(dirpath)
            try:
                st = d.stat()
                key = (st.st_dev, st.st_ino)
            except OSError:
                dirnames[:] = []
                continue
            if key in visited_dirs:  # a symlink loop
                errors.append((str(d), "symbolic link loop; not followed"))
                dirnames[:] = []
                continue
            visited_dirs.add(key)
            if use_gitignore:
                gi = d / ".gitignore"
                if gi.is_file():
                    try:
                        spec = pathspec.GitIgnoreSpec.from_lines(gi.read_text(encoding="utf-8", errors="replace").splitlines())
                        ignores.append((d, spec))
                    except Exception:
                        pass
            kept_dirs = []
            for name in sorted(dirnames):
                if name in _ALWAYS_SKIP:
                    continue
                sub = d / name
                if _ignored(sub, root, ignores, exclude_spec, is_dir=True):
                    continue
                kept_dirs.append(name)
            dirnames[:] = kept_dirs
            for name in sorted(filenames):
                f = d / name
                rel = f.relative_to(root).as_posix()
                if include_spec is not None:
                    if not include_spec.match_file(rel):
                        continue
                elif not name.endswith(SOURCE_SUFFIXES):
                    continue
                if _ignored(f, root, ignores, exclude_spec, is_dir=False):
                    continue
                key = os.path.realpath(f)
                if key in seen:
                    continue
                seen.add(key)
                files.append(str(f))
    return files, errors


def _ignored(path: Path, root: Path, ignores, exclude_spec, *, is_dir: bool) -> bool:
    suffix = "/" if is_dir else ""
    if exclude_spec is not None and exclude_spec.match_file(path.relative_to(root).as_posix() + suffix):
        return True
    for base, spec in ignores:
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            continue
        if spec.match_file(rel + suffix):
            return True
    return False

"""Finding, reading and safely writing the files a run converts.

Reading keeps what the bytes were (encoding, BOM, line endings) so that writing
gives back the same kind of file. Writing is atomic: a temporary file in the same
folder, then a rename, so an interrupted run leaves every file old or new.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024  # larger "source" files are almost surely generated data
TMP_SUFFIX = ".transpiler-tmp"  # what an interrupted write may leave (never a .py name)


class FileError(Exception):
    """A file that cannot be read or written; the message says why."""


@dataclass
class SourceFile:
    path: str
    text: str
    encoding: str = "utf-8"
    bom: bool = False
    # what the file was when read: an in-place write refuses to replace a file
    # that changed on disk in the meantime (an editor saved it during the run)
    mtime_ns: int | None = None
    size: int | None = None


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.EISDIR:
        return "is a directory"
    return exc.strerror or str(exc)


def read_source(path: str | Path) -> SourceFile:
    p = Path(path)
    try:
        if p.is_symlink() and not p.exists():
            raise FileError("broken symbolic link")
        st = p.stat()
    except OSError as exc:
        raise FileError(_os_reason(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise FileError("is a directory")
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the run forever
        raise FileError("not a regular file")
    if st.st_size > MAX_BYTES:
        raise FileError(f"too large ({st.st_size / (1024 * 1024):.1f} MiB; the limit is {MAX_BYTES / (1024 * 1024):.0f} MiB)")
    try:
        with open(p, "rb") as handle:
            st = os.fstat(handle.fileno())
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise FileError("no such file (it disappeared during the run)") from None
    except PermissionError:
        raise FileError("permission denied: cannot read the file") from None
    except OSError as exc:
        raise FileError(_os_reason(exc)) from None
    if len(data) > MAX_BYTES:
        raise FileError(f"too large (the limit is {MAX_BYTES // (1024 * 1024)} MiB)")
    source = decode_source(str(path), data)
    source.mtime_ns, source.size = st.st_mtime_ns, st.st_size
    return source


def _position(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {col}"


def decode_source(path: str, data: bytes) -> SourceFile:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileError("UTF-16 or UTF-32 text; Python source must be UTF-8 or an encoding named by a coding comment")
    if b"\x00" in data[:8192]:
        raise FileError("binary file (contains NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise FileError(f"cannot tell the encoding: {exc}") from None
    bom = encoding == "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "utf-8" if bom else encoding
        raise FileError(
            f"not valid {name} at {_position(data, exc.start)} (byte 0x{data[exc.start]:02x}); "
            "fix the file or declare its encoding with a coding comment (PEP 263)"
        ) from None
    except LookupError as exc:
        raise FileError(f"unknown encoding: {exc}") from None
    if bom:
        encoding = "utf-8"  # utf-8-sig has removed the BOM; encode_source puts it back
    return SourceFile(path, text, encoding, bom)


def encode_source(source: SourceFile, text: str) -> bytes:
    """The bytes of ``text`` in the file's own encoding (and BOM), as read."""
    try:
        data = text.encode(source.encoding)
    except UnicodeEncodeError as exc:
        raise FileError(
            f"the converted code cannot be written in the file's encoding ({source.encoding}): {exc.reason}"
        ) from None
    return (b"\xef\xbb\xbf" + data) if source.bom else data


def write_atomic(path: str | Path, data: bytes, *, unchanged_since: SourceFile | None = None) -> None:
    """Replace ``path`` with ``data`` in one step, keeping its permissions.

    A temporary file in the same folder is written, flushed to disk and renamed
    over the target, so a reader (or a crash, or a kill) sees the old or the new
    file, never a mix. A symbolic link is kept: the file it points to is
    replaced. With ``unchanged_since`` the write is refused when the file's size
    or modification time differ from when it was read. Raises
    :class:`FileError` with the reason; the target is then untouched.
    """
    p = Path(path)
    target = Path(os.path.realpath(p)) if p.is_symlink() else p
    directory = target.parent
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise FileError(_os_reason(exc)) from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise FileError("not a regular file")
        if not os.access(target, os.W_OK):
            raise FileError("permission denied: the file is read-only")
    if unchanged_since is not None and unchanged_since.mtime_ns is not None:
        if st is None:
            raise FileError("the file was deleted during the run; not written")
        if (st.st_mtime_ns, st.st_size) != (unchanged_since.mtime_ns, unchanged_since.size):
            raise FileError("the file changed on disk during the run; left as it is")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=directory)
    except PermissionError:
        raise FileError(f"permission denied: cannot create a file in {directory}") from None
    except OSError as exc:
        raise FileError(_os_reason(exc)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            if hasattr(os, "chown") and (st.st_uid, st.st_gid) != _owner(tmp):
                try:  # root rewriting someone else's file: keep its owner
                    os.chown(tmp, st.st_uid, st.st_gid)
                except OSError:
                    pass
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise FileError(_os_reason(exc)) from None
        raise


def _owner(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_uid, st.st_gid


SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
_ALWAYS_SKIP = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", ".mypy_cache", ".pytest_cache", "node_modules", ".eggs"}


class Globs:
    """Gitignore-style patterns, matched against paths relative to ``base``.

    Without a base (patterns given on the command line) a path inside a folder
    argument is matched relative to that folder, a file named directly relative
    to the current folder; ``[tool.transpiler]`` patterns are relative to the
    pyproject.toml that holds them.
    """

    def __init__(self, patterns: list[str], base: str | Path | None = None):
        import pathspec

        self.spec = pathspec.GitIgnoreSpec.from_lines(patterns)
        self.base = Path(os.path.abspath(base)) if base is not None else None

    def match(self, path: Path, root: Path | None, *, is_dir: bool) -> bool:
        base = self.base or root or Path(os.getcwd())
        try:
            rel = Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(base))).as_posix()
        except ValueError:
            return False
        if rel == ".":
            return False
        return self.spec.match_file(rel + ("/" if is_dir else ""))


def _globs(value) -> list[Globs]:
    if value is None:
        return []
    if isinstance(value, Globs):
        return [value]
    if value and all(isinstance(v, Globs) for v in value):
        return list(value)
    return [Globs(list(value))] if value else []


def discover(
    paths: list[str],
    *,
    include=None,
    exclude=None,
    use_gitignore: bool = True,
    force_exclude: bool = False,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Files to convert under ``paths``; returns (files, [(path, error)]).

    Files named directly are always taken (with ``force_exclude``, unless an
    exclude pattern matches them); inside folders, ``.gitignore`` files (also
    those of the folders above, up to the repository root) and ``exclude``
    globs are honoured and only ``include`` globs (default: Python files and
    notebooks) are taken. ``include``/``exclude`` are lists of patterns or of
    :class:`Globs`. Folders reached twice through symbolic links are walked
    once; a link back to a folder above is reported as a loop.
    """
    includes = _globs(include)
    excludes = _globs(exclude)
    files: list[str] = []
    errors: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in paths:
        p = Path(raw)
        if not p.exists() and not p.is_symlink():
            errors.append((raw, "no such file or directory"))
            continue
        if not p.is_dir():
            if force_exclude and any(g.match(p, None, is_dir=False) for g in excludes):
                continue
            key = os.path.realpath(raw)
            if key not in seen:
                seen.add(key)
                files.append(raw)
            continue
        root = p
        ignores: list[tuple[Path, object]] = _parent_gitignores(root) if use_gitignore else []
        dir_keys: dict[str, tuple[int, int]] = {}
        walked: set[tuple[int, int]] = set()

        def on_error(exc: OSError) -> None:
            where = getattr(exc, "filename", None) or str(root)
            errors.append((str(where), f"cannot list the folder: {_os_reason(exc)}"))

        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=on_error):
            d = Path(dirpath)
            try:
                st = d.stat()
                key = (st.st_dev, st.st_ino)
            except OSError as exc:
                errors.append((str(d), _os_reason(exc)))
                dirnames[:] = []
                continue
            dir_keys[dirpath] = key
            parent_keys = {dir_keys.get(str(a)) for a in d.parents}
            if key in parent_keys:  # a link back to a folder above: a loop
                errors.append((str(d), "symbolic link loop; not followed"))
                dirnames[:] = []
                continue
            if key in walked:  # the same folder through another link: already done
                dirnames[:] = []
                continue
            walked.add(key)
            if use_gitignore:
                spec = _read_gitignore(d)
                if spec is not None:
                    ignores.append((d, spec))
            kept_dirs = []
            for name in sorted(dirnames):
                if name in _ALWAYS_SKIP:
                    continue
                sub = d / name
                if _ignored(sub, root, ignores, excludes, is_dir=True):
                    continue
                kept_dirs.append(name)
            dirnames[:] = kept_dirs
            for name in sorted(filenames):
                if name.endswith(TMP_SUFFIX):
                    continue
                f = d / name
                if includes:
                    if not any(g.match(f, root, is_dir=False) for g in includes):
                        continue
                elif not name.endswith(SOURCE_SUFFIXES):
                    continue
                if _ignored(f, root, ignores, excludes, is_dir=False):
                    continue
                key = os.path.realpath(f)
                if key in seen:
                    continue
                seen.add(key)
                files.append(str(f))
    return files, errors


def _read_gitignore(folder: Path):
    import pathspec

    gi = folder / ".gitignore"
    if not gi.is_file():
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(gi.read_text(encoding="utf-8", errors="replace").splitlines())
    except Exception:  # a malformed pattern: ignore that file, as git would its bad lines
        return None


def _parent_gitignores(root: Path) -> list[tuple[Path, object]]:
    """The .gitignore files of the folders above ``root``, up to its repository's root."""
    folder = Path(os.path.abspath(root))
    chain = []
    if (folder / ".git").exists():
        return []
    for parent in folder.parents:
        chain.append(parent)
        if (parent / ".git").exists():
            break
    else:
        return []  # not in a git checkout: only the tree's own .gitignore files count
    out = []
    for parent in reversed(chain):
        spec = _read_gitignore(parent)
        if spec is not None:
            out.append((parent, spec))
    return out


def _ignored(path: Path, root: Path, ignores, excludes, *, is_dir: bool) -> bool:
    if any(g.match(path, root, is_dir=is_dir) for g in excludes):
        return True
    suffix = "/" if is_dir else ""
    absolute = Path(os.path.abspath(path))
    for base, spec in ignores:
        try:
            rel = absolute.relative_to(os.path.abspath(base)).as_posix()
        except ValueError:
            continue
        if spec.match_file(rel + suffix):
            return True
    return False

"""Converting many files: one at a time, or across cores, with per-file errors kept apart.

Workers only read and convert; the parent process does every write (see
``cli.py``), so stopping a run (Ctrl-C, a kill) can never leave a file half
written by a worker. A worker that dies (a crash in native code) costs only the
file that crashed it: the others are converted again, one by one, in fresh
workers, and that file is reported as an internal error.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .report import FileReport

# LibCST's native parser recurses on the C stack: on a very deeply nested
# expression (thousands of levels) the default 8 MiB stack overflows and the
# process dies. Conversions run on a thread with a large stack instead, where
# the same input ends in a RecursionError, reported as "too deeply nested".
# The memory is only reserved, not used, unless a file needs it.
_STACK_BYTES = 512 * 1024 * 1024
# Python's own parser rejects such nesting at once, while LibCST can take
# minutes before giving up: checked first for files with very long lines
# (generated code), the only place such nesting is found in practice.
_LONG_LINE = 5000


@dataclass(frozen=True)
class Options:
    to: str = "auto"
    source: str | None = None
    rules: tuple[str, ...] = ()
    format: bool = True
    # names the project's own modules re-export, each with the framework name it
    # stands for ([tool.transpiler] reexports, --reexport)
    reexports: tuple[tuple[str, str], ...] = ()
    # base classes of other packages, each with its twin in the target framework
    # ([tool.transpiler] twins, --twin)
    twins: tuple[tuple[str, str], ...] = ()
    # the project index: the summaries of the run's classes (project.py), set by run_many
    project: tuple = ()


@dataclass
class Outcome:
    path: str
    report: FileReport
    original: str | None = None  # decoded text
    converted: str | None = None  # None when unchanged or failed
    data: bytes | None = None  # bytes to write when changed
    error: str | None = None
    source: object | None = None  # the files.SourceFile read (encoding, BOM, size and time)
    classes: tuple = ()  # the file's classes as other files see them (project.py)
    imports: tuple = ()  # (module, name) of the classes it imports from the project

    @property
    def changed(self) -> bool:
        return self.converted is not None

    def original_bytes(self) -> bytes | None:
        """The file as read (the same bytes: decoding and encoding back round-trip)."""
        if self.original is None:
            return None
        if self.source is None:
            return self.original.encode("utf-8")
        from .files import encode_source

        return encode_source(self.source, self.original)


def _check_depth(text: str) -> None:
    from .api import InputError

    if len(text) < _LONG_LINE or max(map(len, text.splitlines()), default=0) < _LONG_LINE:
        return
    import ast

    try:
        ast.parse(text)
    except (RecursionError, MemoryError):
        raise InputError("too deeply nested to convert (Python's own parser gives up on it)") from None
    except (SyntaxError, ValueError):
        pass  # LibCST has the last word on what parses


def _on_big_stack(function, *args, **kwargs):
    if threading.current_thread().name == "transpiler-convert":
        return function(*args, **kwargs)
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = function(*args, **kwargs)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    try:
        previous = threading.stack_size(_STACK_BYTES)
    except (ValueError, RuntimeError):  # the platform will not have it: convert here
        return function(*args, **kwargs)
    try:
        thread = threading.Thread(target=target, name="transpiler-convert", daemon=True)
        thread.start()
    except RuntimeError:  # cannot start a thread (limits): convert here
        return function(*args, **kwargs)
    finally:
        threading.stack_size(previous)
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def convert_text(path: str, text: str, options: Options):
    from .api import convert_source
    from .engine.formatting import black_config_for

    _check_depth(text)
    directory = str(Path(path).resolve().parent) if path not in ("-", "<stdin>") else os.getcwd()
    result = _on_big_stack(
        convert_source,
        text,
        to=options.to,
        filename=path,
        source=options.source,
        rules=options.rules,
        black_config=black_config_for(directory),
        format=options.format,
        reexports=dict(options.reexports) or None,
        twins=dict(options.twins) or None,
        project=_index(options.project),
    )
    if result.changed and text.endswith("\r") and not result.code.endswith("\r"):
        # LibCST drops the final line ending of a file whose lines end in a lone
        # CR (classic Mac); put it back
        result.code += "\r"
        result.changed = result.code != text
        if not result.changed:
            result.report.status = "unchanged"
    return result


@functools.lru_cache(maxsize=2)
def _index(summaries: tuple):
    from .project import ProjectIndex

    return ProjectIndex(summaries) if summaries else None


def convert_file(path: str, options: Options) -> Outcome:
    """Read, convert and encode one file; never raises for a bad input."""
    from .api import InputError, InternalError
    from .files import FileError, encode_source, read_source
    from .rules import RuleError

    report = FileReport(path=path)
    try:
        if path.endswith(".ipynb"):
            from .notebooks import convert_notebook

            return convert_notebook(path, options)
        source = read_source(path)
        result = convert_text(path, source.text, options)
        data = encode_source(source, result.code) if result.changed else None
    except (FileError, InputError, InternalError, RuleError) as exc:
        kind = "internal error" if isinstance(exc, InternalError) else None
        report.status = "error"
        report.error = f"{kind}: {exc}" if kind else str(exc)
        return Outcome(path, report, error=report.error)
    except RecursionError:
        report.status = "error"
        report.error = "too deeply nested to convert"
        return Outcome(path, report, error=report.error)
    except MemoryError:
        report.status = "error"
        report.error = "out of memory converting this file"
        return Outcome(path, report, error=report.error)
    except Exception as exc:  # a bug in a rule or hook must not stop the other files
        report.status = "error"
        report.error = f"internal error: {type(exc).__name__}: {exc}"
        return Outcome(path, report, error=report.error)
    result.report.path = path
    return Outcome(
        path,
        result.report,
        original=source.text,
        converted=result.code if result.changed else None,
        data=data,
        source=source,
        classes=result.classes,
        imports=result.imports,
    )


def _crashed(path: str, how: str) -> Outcome:
    report = FileReport(path=path, status="error", error=f"internal error: the converter crashed on this file ({how})")
    return Outcome(path, report, error=report.error)


def _worker(args):
    paths, options = args
    return [convert_file(path, options) for path in paths]


def run_many(paths: list[str], options: Options, *, jobs: int | None = None, progress=None):
    """Yield an Outcome per path, in the order of ``paths``.

    Files convert together: once every file has converted, the files that import a Keras class
    of another file of the run convert again, knowing what that class became (project.py),
    until what they know no longer changes. Each file is yielded once, with its last outcome."""
    if len(paths) < 2:
        yield from _run_pass(paths, options, jobs=jobs, progress=progress)
        return
    outcomes = {o.path: o for o in _run_pass(paths, options, jobs=jobs, progress=progress)}
    known: dict = {}
    for _ in range(MAX_PROJECT_PASSES):
        summaries = _summaries(outcomes)
        if summaries == known:
            break
        changed = {(s.module, s.name) for s in set(summaries.values()) ^ set(known.values())}
        known = summaries
        again = [p for p, o in outcomes.items() if any(i in changed for i in o.imports)]
        if not again:
            break
        project = tuple(summaries[k] for k in sorted(summaries))
        with_index = dataclasses.replace(options, project=project)
        for outcome in _run_pass(again, with_index, jobs=jobs):
            outcomes[outcome.path] = outcome
    for path in paths:
        yield outcomes[path]


# a chain of classes, each made by a class of the next file, settles one file per pass;
# imports without cycles settle within their depth
MAX_PROJECT_PASSES = 8


def _summaries(outcomes: dict) -> dict:
    """(module, class name) -> summary, from each file's last conversion."""
    out = {}
    for outcome in outcomes.values():
        for summary in outcome.classes:
            out[(summary.module, summary.name)] = summary
    return out


def _run_pass(paths: list[str], options: Options, *, jobs: int | None = None, progress=None):
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(paths) < 4:
        for path in paths:
            outcome = convert_file(path, options)
            if progress:
                progress()
            yield outcome
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        context = multiprocessing.get_context()
    size = max(1, min(32, len(paths) // (jobs * 8) or 1))
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker)
    left: list[str] = []
    try:
        futures = []
        for chunk in chunks:
            try:
                futures.append(pool.submit(_worker, (chunk, options)))
            except BrokenProcessPool:
                break  # a worker died while the rest was being handed out: those run below
        for index, future in enumerate(futures):
            try:
                outcomes = future.result()
            except BrokenProcessPool:
                # a worker died: what it and the others had not finished is done again below
                left = [p for chunk in chunks[index:] for p in chunk]
                break
            for outcome in outcomes:
                if progress:
                    progress()
                yield outcome
        else:
            left = [p for chunk in chunks[len(futures):] for p in chunk]
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    if left:
        yield from _one_by_one(left, options, context, progress)


def _one_by_one(paths: list[str], options: Options, context, progress):
    """After a worker crash: each file in a worker of its own, to find the one that crashes."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    pool = None
    try:
        for path in paths:
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_init_worker)
            try:
                outcome = pool.submit(_worker, ([path], options)).result()[0]
            except BrokenProcessPool:
                pool.shutdown(wait=False)
                pool = None
                outcome = _crashed(path, "the worker process died")
            if progress:
                progress()
            yield outcome
    except BaseException:
        if pool is not None:
            _stop(pool)
        raise
    if pool is not None:
        pool.shutdown(wait=True)


def _stop(pool) -> None:
    """Stop at once: workers only read and convert, so killing them loses nothing."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        try:
            process.kill()
        except Exception:
            pass
    # let the pool's manager thread see its dead workers and close its wake-up pipe: at exit,
    # concurrent.futures wakes every manager thread, and one still closing that pipe makes the
    # wake-up write into a closed descriptor ("Exception ignored ... Bad file descriptor")
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:
        manager.join(timeout=5)


def _init_worker() -> None:
    # the parent handles Ctrl-C (and stops the workers itself)
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler (the pool stops workers with it)
    if os.uname().sysname == "Linux":
        try:  # a parent killed outright takes its idle workers with it
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except Exception:
            pass

"""Converting many files: one at a time, or across cores, with per-file errors kept apart."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .report import FileReport


@dataclass(frozen=True)
class Options:
    to: str = "auto"
    source: str | None = None
    rules: tuple[str, ...] = ()
    format: bool = True


@dataclass
class Outcome:
    path: str
    report: FileReport
    original: str | None = None  # decoded text
    converted: str | None = None  # None when unchanged or failed
    data: bytes | None = None  # bytes to write when changed
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.converted is not None


def convert_text(path: str, text: str, options: Options):
    from .api import convert_source
    from .engine.formatting import black_config_for

    directory = str(Path(path).resolve().parent) if path not in ("-", "<stdin>") else os.getcwd()
    return convert_source(
        text,
        to=options.to,
        filename=path,
        source=options.source,
        rules=options.rules,
        black_config=black_config_for(directory),
        format=options.format,
    )


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
    except (FileError, InputError, InternalError, RuleError) as exc:
        kind = "internal error" if isinstance(exc, InternalError) else None
        report.status = "error"
        report.error = f"{kind}: {exc}" if kind else str(exc)
        return Outcome(path, report, error=report.error)
    except RecursionError:
        report.status = "error"
        report.error = "too deeply nested to convert"
        return Outcome(path, report, error=report.error)
    except Exception as exc:  # a bug in a rule or hook must not stop the other files
        report.status = "error"
        report.error = f"internal error: {type(exc).__name__}: {exc}"
        return Outcome(path, report, error=report.error)
    result.report.path = path
    if not result.changed:
        return Outcome(path, result.report, original=source.text)
    return Outcome(
        path,
        result.report,
        original=source.text,
        converted=result.code,
        data=encode_source(source, result.code),
    )


def _worker(args):
    path, options = args
    return convert_file(path, options)


def run_many(paths: list[str], options: Options, *, jobs: int | None = None, progress=None):
    """Yield an Outcome per path (in completion order when parallel)."""
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

    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        context = multiprocessing.get_context()
    chunksize = max(1, min(32, len(paths) // (jobs * 8) or 1))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker) as pool:
        try:
            for outcome in pool.map(_worker, [(p, options) for p in paths], chunksize=chunksize):
                if progress:
                    progress()
                yield outcome
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _init_worker() -> None:
    # the parent handles Ctrl-C; workers just stop
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)

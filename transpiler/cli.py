"""The ``transpiler`` command.

Exit codes: 0 done; 1 ``--check`` found something to convert or left
unconverted (``verify``: a mismatch); 2 a usage or input error (the other files
are still converted); 130 interrupted.
"""

from __future__ import annotations

import os
import sys

EXIT_OK, EXIT_CHECK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
STDOUT_TTY: bool | None = None  # set by the server: the client's stdout is a terminal


class UsageError(Exception):
    pass


def _add_convert(sub) -> None:
    p = sub.add_parser(
        "convert",
        help="convert files between TensorFlow/Keras and PyTorch",
        description="Convert Python files (or stdin with '-') between TensorFlow/Keras and PyTorch.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders; '-' reads stdin and writes stdout")
    p.add_argument("--to", choices=["torch", "tf", "auto"], default=None, help="target framework (default: from config, else the other framework of each file)")
    p.add_argument("--from", dest="source", choices=["torch", "tf"], default=None, help="source framework (default: detected from the imports)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("-i", "--in-place", action="store_true", help="rewrite the files")
    mode.add_argument("-o", "--output", metavar="PATH", help="write to this file (one input) or folder (mirrors the input tree)")
    mode.add_argument("--diff", action="store_true", help="print a unified diff instead of writing")
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything would change or stays unconverted")
    p.add_argument("--report", choices=["text", "json", "sarif", "markdown"], default="text", help="report format (default: text)")
    p.add_argument("--report-file", metavar="FILE", help="write the report here instead of stdout/stderr")
    p.add_argument("--stdin-filename", metavar="NAME", help="file name to use in messages when reading stdin")
    p.add_argument("--rules", action="append", default=[], metavar="FILE", help="extra rule file or folder (repeatable)")
    p.add_argument("--reexport", action="append", default=[], metavar="NAME=FRAMEWORK_NAME", help="a name your own module re-exports, and the framework name it is (transformers.modeling_tf_utils.keras=keras; repeatable)")
    p.add_argument("--twin", action="append", default=[], metavar="CLASS=TWIN", help="a base class of another package and its twin in the target framework, taking the same arguments (transformers.modeling_tf_utils.TFPreTrainedModel=transformers.modeling_utils.PreTrainedModel; repeatable)")
    p.add_argument("--include", action="append", default=None, metavar="GLOB", help="only convert files matching (gitignore syntax, repeatable)")
    p.add_argument("--exclude", action="append", default=None, metavar="GLOB", help="skip files matching (gitignore syntax, repeatable)")
    p.add_argument("--no-gitignore", action="store_true", help="do not skip files that .gitignore ignores")
    p.add_argument("--force-exclude", action="store_true", help="apply --exclude (and the config's exclude) to files named on the command line too (for pre-commit)")
    p.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--no-format", action="store_true", help="do not run black on changed lines")
    p.add_argument("--force", action="store_true", help="rewrite files even if they have uncommitted changes in git")
    p.add_argument("--color", choices=["auto", "always", "never"], default="auto", help="colour diffs (default: on a terminal)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    p.add_argument("-v", "--verbose", action="store_true", help="list converted uses too")
    p.add_argument("--config", metavar="PYPROJECT", help="use this pyproject.toml instead of searching for one")
    p.add_argument("--no-server", action="store_true", help="with '-': convert in this process, not in the background server")
    p.set_defaults(func=cmd_convert)


def _add_rules(sub) -> None:
    p = sub.add_parser("rules", help="list the APIs the rules cover", description="List every API the rules convert, with its target.")
    p.add_argument("--to", choices=["torch", "tf"], default=None, help="only this direction")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--rules", action="append", default=[], metavar="FILE", help="extra rule file or folder")
    p.add_argument("--check", action="store_true", help="load and validate the rules, and that every hook exists")
    p.set_defaults(func=cmd_rules)


def build_parser():
    import argparse  # not for the editor client's path (convert - with a server)

    from . import __version__

    parser = argparse.ArgumentParser(
        prog="transpiler",
        description="Convert TensorFlow/Keras code to PyTorch and back, with a report of what could not be converted.",
    )
    parser.add_argument("--version", action="version", version=f"transpiler {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_convert(sub)
    _add_rules(sub)
    p = sub.add_parser("server", help="the background converter used by 'convert -' (status, stop)")
    p.add_argument("action", choices=["status", "stop", "start"])
    p.set_defaults(func=cmd_server)
    for name in ("verify", "weights", "coverage"):
        try:
            module = __import__(f"transpiler.commands.{name}", fromlist=["add_parser"])
        except ImportError:
            continue
        module.add_parser(sub)
    return parser


def _is_stdin_convert(argv: list[str]) -> bool:
    return bool(argv) and argv[0] == "convert" and "-" in argv[1:] and "--no-server" not in argv


def main(argv: list[str] | None = None, *, use_server: bool = True) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    server_wanted = use_server and _is_stdin_convert(argv)
    if server_wanted:
        from . import server

        if server.enabled():
            data = sys.stdin.buffer.read()
            answer = server.request(argv, data)
            if answer is not None:
                code, out, err = answer
                sys.stdout.buffer.write(out)
                sys.stdout.flush()
                if err:
                    sys.stderr.write(err)
                return code
            server.spawn()  # for next time; this call converts in-process
            sys.stdin = _replay_stdin(data)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"transpiler: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("transpiler: interrupted; every file is either unchanged or fully converted", file=sys.stderr)
        return 128 + _INTERRUPTS.signum if _INTERRUPTS.signum else EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


def _replay_stdin(data: bytes):
    import io

    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


# -- convert ---------------------------------------------------------------

class _Interrupts:
    """Ctrl-C and SIGTERM stop a run that writes files, but never halfway through a write.

    Every write is atomic anyway (a temporary file renamed over the old one);
    this also keeps the rename and the clean-up of the temporary file together,
    and lets the run say how it ended.
    """

    def __init__(self) -> None:
        self.writing = False
        self.pending = False
        self.signum = 0
        self.pid = os.getpid()
        self.saved: dict = {}

    def _handler(self, signum, frame) -> None:
        if os.getpid() != self.pid:  # a forked worker before it set its own handlers: default action
            import signal

            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.signum = signum
        if self.writing:
            self.pending = True
            return
        raise KeyboardInterrupt

    def install(self) -> None:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        self.signum = 0
        self.pid = os.getpid()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.saved[sig] = signal.signal(sig, self._handler)
            except (ValueError, OSError):
                pass

    def restore(self) -> None:
        import signal

        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        self.saved.clear()

    def __enter__(self):
        self.writing = True
        return self

    def __exit__(self, *exc) -> None:
        self.writing = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


_INTERRUPTS = _Interrupts()


def project_settings(config: dict, args) -> tuple[tuple[str, ...], dict[str, str], dict[str, str]]:
    """The rule files, re-exports and twins of the project's config, with the command line's added."""
    from .config import parse_reexport_option, parse_twin_option

    rules = tuple(config.get("rules", ())) + tuple(args.rules)
    reexports = _declarations(config.get("reexports", {}), args.reexport, parse_reexport_option)
    twins = _declarations(config.get("twins", {}), args.twin, parse_twin_option)
    return rules, reexports, twins


def _declarations(table: dict, options: list[str], parse) -> dict[str, str]:
    """A config table with the command line's ``KEY=VALUE`` options added over it."""
    from .config import ConfigError

    out = dict(table)
    for text in options:
        try:
            key, value = parse(text)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        out[key] = value
    return out


def cmd_convert(args) -> int:
    from .config import load_config
    from .report import Report
    from .rules import RuleError
    from .runner import Options

    config_paths = [args.stdin_filename] if args.paths == ["-"] and args.stdin_filename else args.paths
    config = load_config(config_paths, explicit=args.config)
    to = args.to or config.get("to") or "auto"
    rules, reexports, twins = project_settings(config, args)
    options = Options(
        to=to,
        source=args.source or config.get("from"),
        rules=rules,
        reexports=tuple(sorted(reexports.items())),
        twins=tuple(sorted(twins.items())),
        format=not args.no_format,
    )
    try:
        if to != "auto":
            from .frameworks import DIRECTION_TO
            from .rules import load_ruleset

            load_ruleset(DIRECTION_TO[to], rules)
    except RuleError as exc:
        raise UsageError(str(exc)) from None

    if args.paths == ["-"]:
        return _convert_stdin(args, options)
    if "-" in args.paths:
        raise UsageError("'-' (stdin) cannot be combined with other paths")

    from .files import Globs, discover

    base = os.path.dirname(config["_path"]) if config.get("_path") else None
    include = [Globs(args.include)] if args.include else ([Globs(config["include"], base)] if config.get("include") else None)
    exclude = ([Globs(config["exclude"], base)] if config.get("exclude") else []) + ([Globs(args.exclude)] if args.exclude else [])
    files, discovery_errors = discover(
        args.paths, include=include, exclude=exclude, use_gitignore=not args.no_gitignore, force_exclude=args.force_exclude
    )
    writes = args.in_place or args.output
    single_to_stdout = not (writes or args.diff or args.check)
    if single_to_stdout and (len(files) != 1 or os.path.isdir(args.paths[0])):
        if not files and discovery_errors:
            for path, error in discovery_errors:
                print(f"{path}: error: {error}", file=sys.stderr)
            return EXIT_ERROR
        if not files and args.force_exclude:
            return EXIT_OK  # the file named on the command line is excluded
        raise UsageError("several files: give --in-place, --output DIR, --diff or --check (only one file can go to stdout)")
    if args.output and len(files) > 1 and not (os.path.isdir(args.output) or not os.path.exists(args.output)):
        raise UsageError("--output must be a folder when converting several files")
    if args.output and os.path.exists(args.output) and any(_same_file(args.output, f) for f in files):
        raise UsageError("--output names an input file: use --in-place to rewrite it")
    if args.in_place and not args.force:
        from .gitsafety import GitError, uncommitted

        try:
            dirty = uncommitted(files)
        except GitError as exc:
            raise UsageError(f"{exc}; pass --force to rewrite the files anyway") from None
        if dirty:
            shown = [f"{path} ({state})" for path, state in dirty[:20]]
            listing = "\n  ".join(shown) + ("\n  ..." if len(dirty) > 20 else "")
            raise UsageError(
                f"{len(dirty)} file(s) have uncommitted changes in git; commit or stash them, or pass --force:\n  {listing}"
            )

    report = Report(direction=to)
    for path, error in discovery_errors:
        from .report import FileReport

        report.files.append(FileReport(path=path, status="error", error=error))

    color = _use_color(args.color)
    exit_code = EXIT_OK
    interrupted = False
    if writes:
        _INTERRUPTS.install()
    try:
        for outcome in _run(files, options, args):
            report.files.append(outcome.report)
            if outcome.error:
                continue
            if single_to_stdout:
                payload = outcome.data if outcome.changed else outcome.original_bytes()
                sys.stdout.flush()
                sys.stdout.buffer.write(payload)
                sys.stdout.flush()
            elif args.diff and outcome.changed:
                sys.stdout.write(_diff(outcome.path, outcome.original, outcome.converted, color))
            elif args.check:
                if outcome.changed:
                    outcome.report.status = "would-convert"
            elif args.in_place and outcome.changed:
                _write(outcome, outcome.path, report, in_place=True)
            elif args.output:
                target = _output_path(outcome.path, args.paths, args.output, len(files))
                _write(outcome, target, report)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        _INTERRUPTS.restore()
        _emit_report(report, args, code_on_stdout=single_to_stdout)
    if interrupted:
        raise KeyboardInterrupt
    if report.errors:
        exit_code = EXIT_ERROR
    elif args.check and any(f.status == "would-convert" or f.unconverted for f in report.files):
        exit_code = EXIT_CHECK
    return exit_code


def _run(files, options, args):
    from .runner import run_many

    progress = None
    bar = None
    if sys.stderr.isatty() and len(files) >= 50 and not args.quiet:
        from rich.progress import Progress

        bar = Progress(transient=True)
        task = bar.add_task("converting", total=len(files))
        bar.start()
        progress = lambda: bar.advance(task)  # noqa: E731
    try:
        yield from run_many(files, options, jobs=args.jobs, progress=progress)
    finally:
        if bar is not None:
            bar.stop()


def _write(outcome, target: str, report, *, in_place: bool = False) -> None:
    """Write one result (atomically); a failure is that file's error, never the run's end."""
    from .files import FileError, write_atomic

    try:
        payload = outcome.data if outcome.changed else outcome.original_bytes()
        if not in_place:
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        with _INTERRUPTS:
            write_atomic(target, payload, unchanged_since=outcome.source if in_place else None)
    except FileError as exc:
        outcome.report.status = "error"
        outcome.report.error = f"not written: {exc}"
    except OSError as exc:
        from .files import _os_reason

        outcome.report.status = "error"
        outcome.report.error = f"cannot write {target}: {_os_reason(exc)}"


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _output_path(path: str, roots: list[str], output: str, count: int) -> str:
    if count == 1 and not os.path.isdir(output) and not os.path.isdir(roots[0]):
        return output
    for root in roots:
        if os.path.isdir(root):
            absroot = os.path.abspath(root)
            if os.path.abspath(path).startswith(absroot + os.sep):
                return os.path.join(output, os.path.relpath(path, absroot))
    return os.path.join(output, os.path.basename(path))


def _convert_stdin(args, options) -> int:
    from .api import InputError, InternalError
    from .files import FileError, decode_source, encode_source
    from .report import Report
    from .runner import convert_text

    name = args.stdin_filename or "<stdin>"
    report = Report(direction=options.to)
    data = sys.stdin.buffer.read()
    try:
        source = decode_source(name, data)
        result = convert_text(args.stdin_filename or "-", source.text, options)
        # the same bytes as the input: its encoding, BOM and line endings
        out = encode_source(source, result.code) if result.changed else data
    except (FileError, InputError, InternalError, RecursionError) as exc:
        from .report import FileReport

        message = "too deeply nested to convert" if isinstance(exc, RecursionError) else str(exc)
        if isinstance(exc, InternalError):
            message = f"internal error: {message}"
        report.files.append(FileReport(path=name, status="error", error=message))
        if not (args.diff or args.check):
            sys.stdout.flush()
            sys.stdout.buffer.write(data)  # an IDE replaces the buffer with stdout: give it back intact
            sys.stdout.flush()
        _emit_report(report, args, code_on_stdout=True)
        return EXIT_ERROR
    result.report.path = name
    report.files.append(result.report)
    if args.diff:
        if result.changed:
            sys.stdout.write(_diff(name, source.text, result.code, _use_color(args.color)))
    elif not args.check:
        sys.stdout.flush()
        sys.stdout.buffer.write(out)
    sys.stdout.flush()
    if args.check and result.changed:
        result.report.status = "would-convert"
    _emit_report(report, args, code_on_stdout=not (args.diff or args.check))
    if args.check and (result.changed or result.report.unconverted):
        return EXIT_CHECK
    return EXIT_OK


def _emit_report(report, args, *, code_on_stdout: bool) -> None:
    fmt = args.report
    if fmt == "text":
        if args.quiet:
            lines = [f"{f.path}: error: {f.error}" for f in report.errors]
            text = "\n".join(lines)
        else:
            text = report.to_text(verbose=args.verbose)
    elif fmt == "json":
        text = report.to_json()
    elif fmt == "sarif":
        from .reports import to_sarif

        text = to_sarif(report)
    else:
        from .reports import to_markdown

        text = to_markdown(report)
    if not text:
        return
    if args.report_file:
        from .files import write_atomic

        write_atomic(args.report_file, (text + "\n").encode("utf-8"))
        return
    stream = sys.stderr if (code_on_stdout or (fmt == "text" and (args.diff))) else sys.stdout
    print(text, file=stream)


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return STDOUT_TTY if STDOUT_TTY is not None else sys.stdout.isatty()


def cmd_server(args) -> int:
    from . import server

    if args.action == "status":
        print(server.status())
    elif args.action == "stop":
        print("stopped" if server.stop() else "no server was running")
    else:
        server.spawn()
        print("starting")
    return EXIT_OK


def _diff(path: str, old: str, new: str, color: bool) -> str:
    import difflib

    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=path if os.path.isabs(path) else f"a/{path}", tofile=path if os.path.isabs(path) else f"b/{path}"
    )
    out = []
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        if color:
            if line.startswith("+") and not line.startswith("+++"):
                line = f"\033[32m{line.rstrip(chr(10))}\033[0m\n"
            elif line.startswith("-") and not line.startswith("---"):
                line = f"\033[31m{line.rstrip(chr(10))}\033[0m\n"
            elif line.startswith("@@"):
                line = f"\033[36m{line.rstrip(chr(10))}\033[0m\n"
        out.append(line)
    return "".join(out)


# -- rules -----------------------------------------------------------------

def cmd_rules(args) -> int:
    import json

    from .frameworks import DIRECTION_TO
    from .rules import RuleError, load_ruleset

    targets = [args.to] if args.to else ["torch", "tf"]
    rows = []
    try:
        for to in targets:
            direction = DIRECTION_TO[to]
            ruleset = load_ruleset(direction, tuple(args.rules))
            for rule in sorted(ruleset.all_rules(), key=lambda r: (r.family, r.source)):
                rows.append((direction, rule))
    except RuleError as exc:
        raise UsageError(str(exc)) from None
    if args.check:
        from .engine.transform import load_hook

        problems = []
        for direction, rule in rows:
            if rule.hook:
                try:
                    load_hook(direction, rule.hook)
                except (ImportError, AttributeError) as exc:
                    problems.append(f"{rule.file}: {rule.source}: hook '{rule.hook}' not found ({exc})")
        for line in problems:
            print(line, file=sys.stderr)
        print(f"{len(rows)} rules loaded, {len(problems)} problem(s)")
        return EXIT_ERROR if problems else EXIT_OK
    if args.format == "json":
        data = [
            {
                "direction": d,
                "family": r.family,
                "source": r.source,
                "also": list(r.also),
                "kind": "method" if r.receiver else "function",
                "receiver": r.receiver,
                "target": r.target_display,
                "note": r.note,
                "file": r.file,
            }
            for d, r in rows
        ]
        print(json.dumps(data, indent=2))
        return EXIT_OK
    current = None
    for direction, rule in rows:
        if (direction, rule.family) != current:
            current = (direction, rule.family)
            print(f"\n[{direction}] {rule.family}")
        name = f"{rule.receiver}.{rule.source}" if rule.receiver else rule.source
        line = f"  {name} -> {rule.target_display}"
        if rule.also:
            line += f"   (also {', '.join(rule.also)})"
        print(line)
    return EXIT_OK

"""Never lose code: what in-place writes keep, bad inputs, permissions, git, unparsable output.

Every test runs the real command line in a subprocess (``TRANSPILER_SERVER=0``).
Where a failure has to be provoked inside a run (a file vanishing, a worker
crashing, a signal arriving mid-write), a few lines patch the module in that
subprocess before ``cli.main`` runs; the code under test is never replaced.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from test_cli import TF_SOURCE, TORCH_EXPECTED, run
from transpiler.api import InternalError, convert_source
from transpiler.files import MAX_BYTES, TMP_SUFFIX

LONG_TF = (
    "import tensorflow as tf\n\n"
    "def f(a):\n"
    "    if a:\n"
    "        y = tf.reduce_sum(tf.ones([2, 3]), axis=1, keepdims=True) + tf.reduce_mean(tf.zeros([4, 5]), axis=0) + tf.reduce_max(a)\n"
    "    return y  # unchanged line\n"
)


def run_patched(patch: str, *args, cwd=None):
    """The CLI in a subprocess, after ``patch`` (Python code) has run in it."""
    code = textwrap.dedent(patch) + "\nimport sys\nfrom transpiler.cli import main\nsys.exit(main(sys.argv[1:], use_server=False))\n"
    env = dict(os.environ, TRANSPILER_SERVER="0", NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(TMP_SUFFIX)]


# -- what an in-place write keeps -------------------------------------------

def _lf(text: str) -> bytes:
    return text.encode("utf-8")


ENCODING_CASES = {
    "utf8-bom": (b"\xef\xbb\xbf" + _lf(TF_SOURCE), b"\xef\xbb\xbf" + _lf(TORCH_EXPECTED)),
    "latin1-cookie": (
        "# -*- coding: latin-1 -*-\nimport tensorflow as tf\ns = 'café'\nx = tf.reduce_sum(tf.ones([2, 3]), axis=1)\n".encode("latin-1"),
        "# -*- coding: latin-1 -*-\nimport torch\n\ns = 'café'\nx = torch.sum(torch.ones([2, 3]), dim=1)\n".encode("latin-1"),
    ),
    "shebang": (
        _lf("#!/usr/bin/env python3\n" + TF_SOURCE),
        _lf("#!/usr/bin/env python3\n" + TORCH_EXPECTED),
    ),
    "no-final-newline": (_lf(TF_SOURCE.rstrip("\n")), _lf(TORCH_EXPECTED.rstrip("\n"))),
    "crlf": (_lf(TF_SOURCE.replace("\n", "\r\n")), _lf(TORCH_EXPECTED.replace("\n", "\r\n"))),
    "crlf-no-final-newline": (
        _lf(TF_SOURCE.rstrip("\n").replace("\n", "\r\n")),
        _lf(TORCH_EXPECTED.rstrip("\n").replace("\n", "\r\n")),
    ),
    "cr-only": (_lf(TF_SOURCE.replace("\n", "\r")), _lf(TORCH_EXPECTED.replace("\n", "\r"))),
}


@pytest.mark.parametrize("case", sorted(ENCODING_CASES))
def test_in_place_keeps_encoding_bom_line_endings_shebang_and_final_newline(tmp_path, case):
    before, after = ENCODING_CASES[case]
    f = tmp_path / "m.py"
    f.write_bytes(before)
    proc = run("convert", f, "--to", "torch", "-i")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f.read_bytes() == after
    # the same bytes on stdout (file -> stdout) and through stdin (editors)
    g = tmp_path / "g.py"
    g.write_bytes(before)
    out = subprocess.run(
        [sys.executable, "-m", "transpiler", "convert", str(g), "--to", "torch"],
        capture_output=True, env=dict(os.environ, TRANSPILER_SERVER="0"),
    )
    assert out.stdout == after
    piped = subprocess.run(
        [sys.executable, "-m", "transpiler", "convert", "-", "--to", "torch"],
        input=before, capture_output=True, env=dict(os.environ, TRANSPILER_SERVER="0"),
    )
    assert piped.stdout == after
    assert not leftovers(tmp_path)


def test_crlf_survives_black_reformatting_changed_statements(tmp_path):
    crlf = LONG_TF.replace("\n", "\r\n")
    f = tmp_path / "m.py"
    f.write_bytes(crlf.encode())
    proc = run("convert", f, "--to", "torch", "-i")
    assert proc.returncode == 0, proc.stdout
    out = f.read_bytes().decode()
    expected_lf = convert_source(LONG_TF, to="torch").code
    assert expected_lf.count("\n") > LONG_TF.count("\n")  # black did split the long line
    assert "\n" not in out.replace("\r\n", "")  # no bare LF, no bare CR
    assert "\r" not in out.replace("\r\n", "")
    assert out == expected_lf.replace("\n", "\r\n")


def test_mixed_line_endings_keep_the_unchanged_lines(tmp_path):
    src = b"import tensorflow as tf\nx = 1\r\ny = tf.reduce_sum(a, axis=1)\r\nz = 2\r\n"
    f = tmp_path / "m.py"
    f.write_bytes(src)
    assert run("convert", f, "--to", "torch", "-i").returncode == 0
    out = f.read_bytes()
    assert out.endswith(b"x = 1\r\ny = torch.sum(a, dim=1)\nz = 2\r\n")  # a changed line takes the first line's ending


@pytest.mark.parametrize("mode", [0o755, 0o640, 0o600])
def test_in_place_keeps_permissions(tmp_path, mode):
    f = tmp_path / "m.py"
    f.write_text("#!/usr/bin/env python3\n" + TF_SOURCE)
    os.chmod(f, mode)
    assert run("convert", f, "--to", "torch", "-i").returncode == 0
    assert f.read_text().endswith("torch.sum(torch.ones([2, 3]), dim=1)\n")
    assert stat.S_IMODE(f.stat().st_mode) == mode


def test_in_place_through_a_symlink_rewrites_the_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(TF_SOURCE)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert run("convert", link, "--to", "torch", "-i").returncode == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == TORCH_EXPECTED


# -- bad inputs: reported with path and reason, the rest still converts -------

def _bad_tree(root: Path) -> dict[str, tuple[bytes | None, str]]:
    """name -> (bytes written, expected message fragment)."""
    cases = {
        "syntax.py": (b"import tensorflow as tf\ndef f(:\n", "does not parse: line 2"),
        "undecodable.py": (b"import tensorflow as tf\nx = '\xff\xfe'\n", "not valid utf-8 at line 2, column 6 (byte 0xff)"),
        "bad_cookie.py": (b"# -*- coding: klingon -*-\nimport tensorflow as tf\n", "cannot tell the encoding"),
        "binary.py": (b"import tensorflow as tf\x00\x01\x02\x03", "binary file (contains NUL bytes)"),
        "utf16.py": ("import tensorflow as tf\n".encode("utf-16"), "UTF-16 or UTF-32 text"),
        "deep.py": (
            ("import tensorflow as tf\nx = " + " and ".join(["a"] * 8000) + "\ny = tf.reduce_sum(x)\n").encode(),
            "too deeply nested",
        ),
        "deep_line.py": (
            ("import tensorflow as tf\nx = " + "+".join(["1"] * 100_000) + "\ny = tf.reduce_sum(x)\n").encode(),
            "too deeply nested",
        ),
    }
    for name, (data, _) in cases.items():
        (root / name).write_bytes(data)
    with open(root / "huge.py", "wb") as handle:
        handle.write(b"import tensorflow as tf\n")
        handle.write(b"x = 1\n" * (MAX_BYTES // 6 + 1))
    cases["huge.py"] = (None, "too large")
    (root / "broken_link.py").symlink_to(root / "nowhere.py")
    cases["broken_link.py"] = (None, "broken symbolic link")
    (root / "loop").mkdir()
    (root / "loop" / "up").symlink_to(root)
    cases["loop/up"] = (None, "symbolic link loop; not followed")
    os.mkfifo(root / "fifo.py")
    cases["fifo.py"] = (None, "not a regular file")
    return cases


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_bad_inputs_are_reported_and_the_rest_converts(tmp_path, jobs):
    (tmp_path / "good.py").write_text(TF_SOURCE)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good2.py").write_text(TF_SOURCE)
    (tmp_path / "empty.py").write_bytes(b"")
    cases = _bad_tree(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.py") if p.is_file() and not p.is_symlink() and p.name != "fifo.py"}
    proc = run("convert", tmp_path, "--to", "torch", "-i", "-j", jobs, "--report", "json")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    import json

    data = json.loads(proc.stdout)
    errors = {Path(f["path"]).relative_to(tmp_path).as_posix(): f["error"] for f in data["files"] if f["status"] == "error"}
    for name, (_, message) in cases.items():
        assert name in errors, (name, errors)
        assert message in errors[name], (name, errors[name])
    assert set(errors) == set(cases)
    assert (tmp_path / "good.py").read_text() == TORCH_EXPECTED
    assert (tmp_path / "sub" / "good2.py").read_text() == TORCH_EXPECTED
    for path, data_before in before.items():
        if path.name not in ("good.py", "good2.py"):
            assert path.read_bytes() == data_before, path
    assert not leftovers(tmp_path)


def test_a_file_using_both_frameworks_needs_a_direction(tmp_path):
    both = "import tensorflow as tf\nimport torch\nx = tf.reduce_sum(torch.ones(2))\n"
    (tmp_path / "both.py").write_text(both)
    (tmp_path / "tf_only.py").write_text(TF_SOURCE)
    proc = run("convert", tmp_path, "-i")
    assert proc.returncode == 2
    assert "both.py: error: the file imports both TensorFlow and PyTorch: say which way to convert (--to)" in proc.stdout
    assert (tmp_path / "both.py").read_text() == both
    assert (tmp_path / "tf_only.py").read_text() == TORCH_EXPECTED
    assert run("convert", tmp_path / "both.py", "--to", "torch").stdout == "import torch\nx = torch.sum(torch.ones(2))\n"


def test_text_report_names_path_and_reason(tmp_path):
    (tmp_path / "good.py").write_text(TF_SOURCE)
    (tmp_path / "bad.py").write_bytes(b"import tensorflow as tf\nx = '\xff'\n")
    proc = run("convert", tmp_path, "--to", "torch", "--check")
    assert proc.returncode == 2
    assert f"{tmp_path / 'bad.py'}: error: not valid utf-8 at line 2, column 6" in proc.stdout
    assert "1 error(s)" in proc.stdout


def test_a_file_that_vanishes_after_discovery(tmp_path):
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_text(TF_SOURCE)
    patch = """
        import os
        import transpiler.files as files
        real = files.discover
        def discover(*args, **kwargs):
            found, errors = real(*args, **kwargs)
            os.unlink([f for f in found if f.endswith("b.py")][0])
            return found, errors
        files.discover = discover
    """
    proc = run_patched(patch, "convert", tmp_path, "--to", "torch", "-i")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{tmp_path / 'b.py'}: error: no such file" in proc.stdout
    assert not (tmp_path / "b.py").exists()  # not recreated
    assert (tmp_path / "a.py").read_text() == TORCH_EXPECTED
    assert (tmp_path / "c.py").read_text() == TORCH_EXPECTED
    assert "Traceback" not in proc.stderr


def test_a_file_edited_during_the_run_is_not_overwritten(tmp_path):
    (tmp_path / "a.py").write_text(TF_SOURCE)
    (tmp_path / "b.py").write_text(TF_SOURCE)
    patch = """
        import transpiler.runner as runner
        real = runner.convert_file
        def convert_file(path, options):
            outcome = real(path, options)
            if path.endswith("b.py"):  # the user saves the file while it is being converted
                with open(path, "a") as handle:
                    handle.write("y = 2  # typed meanwhile\\n")
            return outcome
        runner.convert_file = convert_file
    """
    proc = run_patched(patch, "convert", tmp_path, "--to", "torch", "-i", "-j", "1")
    assert proc.returncode == 2
    assert "b.py: error: not written: the file changed on disk during the run" in proc.stdout
    assert (tmp_path / "b.py").read_text() == TF_SOURCE + "y = 2  # typed meanwhile\n"
    assert (tmp_path / "a.py").read_text() == TORCH_EXPECTED


def test_a_worker_crash_costs_only_its_file(tmp_path):
    for i in range(8):
        (tmp_path / f"m{i}.py").write_text(TF_SOURCE)
    (tmp_path / "crash.py").write_text(TF_SOURCE)
    patch = """
        import os, signal
        import transpiler.runner as runner
        real = runner.convert_file
        def convert_file(path, options):
            if path.endswith("crash.py"):
                os.kill(os.getpid(), signal.SIGSEGV)  # as a crash in native code would
            return real(path, options)
        runner.convert_file = convert_file
    """
    proc = run_patched(patch, "convert", tmp_path, "--to", "torch", "-i", "-j", "2")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "crash.py: error: internal error: the converter crashed on this file" in proc.stdout
    assert (tmp_path / "crash.py").read_text() == TF_SOURCE
    for i in range(8):
        assert (tmp_path / f"m{i}.py").read_text() == TORCH_EXPECTED
    assert "Traceback" not in proc.stderr


def test_a_pool_that_breaks_while_work_is_handed_out_loses_nothing(tmp_path):
    """A worker can die before every chunk is submitted (found in CI): submit() then
    raises, and the chunks not handed out are converted one by one like the rest."""
    for i in range(12):
        (tmp_path / f"m{i}.py").write_text(TF_SOURCE)
    patch = """
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool
        real = ProcessPoolExecutor.submit
        calls = []
        def submit(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2 and self._max_workers > 1:
                raise BrokenProcessPool("a worker died")
            return real(self, *args, **kwargs)
        ProcessPoolExecutor.submit = submit
    """
    proc = run_patched(patch, "convert", tmp_path, "--to", "torch", "-i", "-j", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for i in range(12):
        assert (tmp_path / f"m{i}.py").read_text() == TORCH_EXPECTED


# -- output that does not parse is never written ----------------------------

BAD_TEMPLATE_RULES = """\
direction = "tf_to_torch"

[[rule]]
source = "tensorflow.linalg.expm"
template = "{input}, 1"
args = ["input", "name"]
drop = { name = "*" }
"""


def test_output_that_does_not_parse_is_an_internal_error_and_not_written(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(BAD_TEMPLATE_RULES)
    src = tmp_path / "src"
    src.mkdir()
    bad = "import tensorflow as tf\ny = f(k=tf.linalg.expm(a))\n"  # becomes f(k=a, 1)
    (src / "bad.py").write_text(bad)
    (src / "good.py").write_text(TF_SOURCE)
    with pytest.raises(InternalError, match="does not parse"):
        convert_source(bad, to="torch", rules=(str(rules),))
    proc = run("convert", src, "--to", "torch", "-i", "--rules", rules)
    assert proc.returncode == 2
    assert "bad.py: error: internal error: the converted code does not parse" in proc.stdout
    assert (src / "bad.py").read_text() == bad
    assert (src / "good.py").read_text() == TORCH_EXPECTED
    # stdin gives the buffer back unchanged
    piped = run("convert", "-", "--to", "torch", "--rules", rules, stdin=bad)
    assert piped.returncode == 2 and piped.stdout == bad
    assert "internal error" in piped.stderr


def test_output_that_does_not_parse_is_caught_even_where_the_engine_misses_it(tmp_path):
    """The statement right after an import block that gets a new import is neither
    black-formatted nor parse-checked by the engine (reported); the command line's own
    check before writing still refuses the output."""
    rules = tmp_path / "rules.toml"
    rules.write_text(BAD_TEMPLATE_RULES.replace('"{input}, 1"', '"torch.linalg.matrix_exp({input}), 1"'))
    bad = "import tensorflow as tf\ny = f(k=tf.linalg.expm(a))\n"
    f = tmp_path / "m.py"
    f.write_text(bad)
    proc = run("convert", f, "--to", "torch", "-i", "--rules", rules)
    assert proc.returncode == 2
    assert "internal error: the converted code does not parse (line 3: positional argument follows keyword argument)" in proc.stdout
    assert f.read_text() == bad
    piped = run("convert", "-", "--to", "torch", "--rules", rules, stdin=bad)
    assert piped.returncode == 2 and piped.stdout == bad


# Engine bug, fixed: a changed statement that the import rewrite replaces afterwards
# (the first statement after the import block, given blank lines; a compound statement
# whose body loses an import) escaped black and the parse check of convert_source.

def test_engine_checks_a_compound_statement_that_loses_an_import(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(BAD_TEMPLATE_RULES)
    source = "import tensorflow as tf\nfor v in f(k=tf.linalg.expm(a)):\n    import tensorflow as tf\n"
    with pytest.raises(InternalError):
        convert_source(source, to="torch", rules=(str(rules),))  # returns `for v in f(k=a, 1):`


def test_engine_formats_the_statement_after_the_imports():
    from transpiler.engine.formatting import BlackConfig

    source = "import tensorflow as tf\nx = tf.reduce_sum(tf.ones([2, 3]), axis=1, keepdims=True)\n"
    code = convert_source(source, to="torch", black_config=BlackConfig(line_length=50)).code
    assert code == "import torch\n\nx = torch.sum(\n    torch.ones([2, 3]), dim=1, keepdim=True\n)\n"


def test_output_that_does_not_parse_from_a_broken_hook(tmp_path):
    """The same guarantee when the fault is in the engine (a transformer emitting junk)."""
    (tmp_path / "m.py").write_text(TF_SOURCE)
    patch = """
        import libcst as cst
        import transpiler.api as api
        real = api.rewrite_imports
        def rewrite_imports(module, ctx, moved=None):
            module = real(module, ctx, moved)
            junk = cst.SimpleStatementLine(body=[cst.Expr(cst.Name("def"))])  # not Python
            return module.with_changes(body=[*module.body, junk])
        api.rewrite_imports = rewrite_imports
    """
    proc = run_patched(patch, "convert", tmp_path / "m.py", "--to", "torch", "-i")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "internal error" in proc.stdout and "does not parse" in proc.stdout
    assert (tmp_path / "m.py").read_text() == TF_SOURCE


# -- a second run changes nothing ------------------------------------------

def test_second_run_on_a_converted_tree_changes_nothing(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples", tree)
    (tree / "pkg").mkdir()
    (tree / "pkg" / "long.py").write_text(LONG_TF)
    (tree / "pkg" / "crlf.py").write_bytes(LONG_TF.replace("\n", "\r\n").encode())
    first = run("convert", tree / "tf_tensors.py", tree / "pkg", "--to", "torch", "-i")
    assert first.returncode == 0, first.stdout
    snapshot = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tree.rglob("*.py")}
    check = run("convert", tree / "tf_tensors.py", tree / "pkg", "--to", "torch", "--check")
    assert "0 changed" in check.stdout, check.stdout
    again = run("convert", tree / "tf_tensors.py", tree / "pkg", "--to", "torch", "-i")
    assert again.returncode == 0 and "0 changed" in again.stdout
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tree.rglob("*.py")} == snapshot


# -- interrupting a write ---------------------------------------------------

@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_a_write_lets_that_write_finish_then_stops(tmp_path, signum, code):
    names = [f"m{i}.py" for i in range(6)]
    for name in names:
        (tmp_path / name).write_text(TF_SOURCE)
    patch = f"""
        import os
        real = os.fsync
        calls = [0]
        def fsync(fd):
            calls[0] += 1
            if calls[0] == 3:  # Ctrl-C while the third file is being written
                os.kill(os.getpid(), {int(signum)})
            return real(fd)
        os.fsync = fsync
    """
    proc = run_patched(patch, "convert", tmp_path, "--to", "torch", "-i", "-j", "1")
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "interrupted; every file is either unchanged or fully converted" in proc.stderr
    contents = [(tmp_path / n).read_text() for n in names]
    assert contents == [TORCH_EXPECTED] * 3 + [TF_SOURCE] * 3
    assert not leftovers(tmp_path)


# -- permissions --------------------------------------------------------------

def _as_nobody() -> list[str] | None:
    """A command prefix that runs a command as the user 'nobody', if one works here."""
    prefixes = []
    if shutil.which("setpriv"):
        prefixes.append(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"])
    if shutil.which("runuser"):
        prefixes.append(["runuser", "-u", "nobody", "--"])
    for prefix in prefixes:
        try:
            proc = subprocess.run(
                [*prefix, sys.executable, "-c", "import os, transpiler.cli; print(os.geteuid())"],
                capture_output=True, text=True, timeout=60, cwd="/",
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if proc.returncode == 0 and proc.stdout.strip() == "65534":
            return prefix
    return None


@pytest.fixture
def unprivileged(tmp_path):
    """(workspace, run): permission bits are enforced for whoever ``run`` runs as.

    As root (which ignores permission bits) the command runs as the user
    ``nobody`` in a folder it may use; if that is impossible the test is skipped.
    """
    if os.geteuid() != 0:
        yield tmp_path, run
        return
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip("running as root and cannot run the command as 'nobody'")
    workspace = Path(tempfile.mkdtemp(prefix="transpiler-perm-"))
    os.chmod(workspace, 0o777)

    def run_as_nobody(*args):
        env = dict(os.environ, TRANSPILER_SERVER="0", NO_COLOR="1", HOME=str(workspace))
        return subprocess.run(
            [*prefix, sys.executable, "-m", "transpiler", *map(str, args)], capture_output=True, text=True,
            env=env, timeout=120, cwd=workspace,
        )

    try:
        yield workspace, run_as_nobody
    finally:
        for p in workspace.rglob("*"):
            if p.is_dir():
                os.chmod(p, 0o755)
        shutil.rmtree(workspace, ignore_errors=True)


def _world(path: Path, mode: int) -> None:
    os.chmod(path, mode)


def test_unreadable_unwritable_file_and_folder(unprivileged):
    root, run_cli = unprivileged
    ok = root / "ok.py"
    unreadable = root / "unreadable.py"
    readonly = root / "readonly.py"
    lockdir = root / "lockdir"
    lockdir.mkdir()
    in_locked = lockdir / "m.py"
    for f in (ok, unreadable, readonly, in_locked):
        f.write_text(TF_SOURCE)
    _world(ok, 0o666)
    _world(unreadable, 0o000)
    _world(readonly, 0o444)
    _world(in_locked, 0o666)
    _world(lockdir, 0o555)  # files inside can be changed, none created: no atomic write
    proc = run_cli("convert", root, "--to", "torch", "-i")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"{unreadable}: error: permission denied: cannot read the file" in out
    assert f"{readonly}: error: not written: permission denied: the file is read-only" in out
    assert f"{in_locked}: error: not written: permission denied: cannot create a file in {lockdir}" in out
    assert ok.read_text() == TORCH_EXPECTED
    os.chmod(unreadable, 0o644)
    for f in (unreadable, readonly, in_locked):
        assert f.read_text() == TF_SOURCE
    assert stat.S_IMODE(readonly.stat().st_mode) == 0o444
    assert "Traceback" not in proc.stderr
    _world(lockdir, 0o755)
    assert not leftovers(root)


def test_unlistable_folder_is_reported(unprivileged):
    root, run_cli = unprivileged
    (root / "ok.py").write_text(TF_SOURCE)
    _world(root / "ok.py", 0o666)
    closed = root / "closed"
    closed.mkdir()
    (closed / "m.py").write_text(TF_SOURCE)
    _world(closed, 0o000)
    try:
        proc = run_cli("convert", root, "--to", "torch", "-i")
    finally:
        _world(closed, 0o755)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{closed}: error: cannot list the folder: permission denied" in proc.stdout
    assert (root / "ok.py").read_text() == TORCH_EXPECTED
    assert (closed / "m.py").read_text() == TF_SOURCE


def _chattr(path: Path, flag: str) -> bool:
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def test_immutable_file_and_folder_even_for_root(tmp_path):
    """chattr +i is enforced for root too: a real write failure, whoever runs the tests."""
    frozen = tmp_path / "frozen.py"
    frozen.write_text(TF_SOURCE)
    folder = tmp_path / "frozen_dir"
    folder.mkdir()
    (folder / "m.py").write_text(TF_SOURCE)
    (tmp_path / "ok.py").write_text(TF_SOURCE)
    if not _chattr(frozen, "+i"):
        pytest.skip("chattr +i is not available here")
    try:
        assert _chattr(folder, "+i")
        proc = run("convert", tmp_path, "--to", "torch", "-i")
    finally:
        _chattr(frozen, "-i")
        _chattr(folder, "-i")
    assert proc.returncode == 2
    assert f"{frozen}: error: not written: permission denied: the file is read-only" in proc.stdout
    assert f"{folder / 'm.py'}: error: not written: " in proc.stdout
    assert frozen.read_text() == TF_SOURCE and (folder / "m.py").read_text() == TF_SOURCE
    assert (tmp_path / "ok.py").read_text() == TORCH_EXPECTED
    assert not leftovers(tmp_path)


# -- git: uncommitted work is not rewritten ------------------------------------

def _git(repo: Path, *args):
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", *args],
        cwd=repo, capture_output=True, text=True, env=env, check=True,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_in_place_refuses_uncommitted_files_unless_forced(tmp_path):
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    for name in ("clean.py", "modified.py", "staged.py", "renamed_from.py"):
        (repo / "pkg" / name).write_text(TF_SOURCE)
    (repo / ".gitignore").write_text("ignored.py\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "init")
    (repo / "pkg" / "modified.py").write_text(TF_SOURCE + "# work in progress\n")
    (repo / "pkg" / "staged.py").write_text(TF_SOURCE + "# staged\n")
    _git(repo, "add", "pkg/staged.py")
    _git(repo, "mv", "pkg/renamed_from.py", "pkg/renamed.py")
    (repo / "pkg" / "untracked.py").write_text(TF_SOURCE)
    (repo / "pkg" / "ignored.py").write_text(TF_SOURCE)
    env_git = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    snapshot = {p.name: p.read_text() for p in (repo / "pkg").iterdir()}

    refused = run("convert", repo / "pkg", "--to", "torch", "-i", env=env_git)
    assert refused.returncode == 2
    assert "4 file(s) have uncommitted changes in git" in refused.stderr
    for name, state in (("modified.py", "modified"), ("staged.py", "staged"), ("untracked.py", "untracked"), ("renamed.py", "staged")):
        assert f"{repo / 'pkg' / name} ({state})" in refused.stderr, refused.stderr
    assert "clean.py" not in refused.stderr and "ignored.py" not in refused.stderr
    assert {p.name: p.read_text() for p in (repo / "pkg").iterdir()} == snapshot  # nothing written

    clean_only = run("convert", repo / "pkg" / "clean.py", repo / "pkg" / "ignored.py", "--to", "torch", "-i", env=env_git)
    assert clean_only.returncode == 0, clean_only.stderr
    assert (repo / "pkg" / "clean.py").read_text() == TORCH_EXPECTED

    forced = run("convert", repo / "pkg", "--to", "torch", "-i", "--force", env=env_git)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert (repo / "pkg" / "modified.py").read_text() == TORCH_EXPECTED + "# work in progress\n"
    assert (repo / "pkg" / "untracked.py").read_text() == TORCH_EXPECTED


def test_outside_git_in_place_needs_no_force(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(TF_SOURCE)
    proc = run("convert", f, "--to", "torch", "-i")
    assert proc.returncode == 0, proc.stderr
    assert f.read_text() == TORCH_EXPECTED


def test_output_naming_the_input_is_refused(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(TF_SOURCE)
    proc = run("convert", f, "--to", "torch", "-o", f)
    assert proc.returncode == 2 and "use --in-place" in proc.stderr
    assert f.read_text() == TF_SOURCE

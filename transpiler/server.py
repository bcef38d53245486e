"""A background converter for editors: ``transpiler convert -`` without the start-up cost.

Importing LibCST and black takes longer than converting a file, and an editor's
external tool starts a new process every time. So the first ``convert -`` runs
normally and leaves a server behind (one per user and per installed version of
the code and rules); later ``convert -`` calls hand their arguments and input to
it over a Unix socket and print its answer. Anything unexpected (no server, a
stale one, a timeout) falls back to converting in-process: the server only ever
makes a call faster, never different. It exits after 15 idle minutes.

Turn it off with ``--no-server`` or ``TRANSPILER_SERVER=0``;
``transpiler server status`` and ``transpiler server stop`` manage it.
"""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import sys
import zlib

IDLE_SECONDS = 15 * 60
_HERE = os.path.dirname(os.path.abspath(__file__))


def enabled() -> bool:
    return os.environ.get("TRANSPILER_SERVER", "1") not in ("0", "false", "no", "off") and hasattr(socket, "AF_UNIX")


def _fingerprint() -> str:
    """Changes whenever the installed code or rules change, so a stale server is never used."""
    # the client runs this on every call: os.walk and crc32, not pathlib globs and
    # sha256, whose imports and walks cost more than the rest of the client
    from . import __version__

    rules = os.path.join(_HERE, "rules")
    if not os.path.isdir(rules):
        rules = os.path.join(os.path.dirname(_HERE), "rules")
    parts = [__version__, sys.executable]
    for folder, suffix in ((_HERE, ".py"), (rules, ".toml")):
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(suffix):
                    path = os.path.join(root, name)
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    parts.append(f"{path}:{st.st_mtime_ns}:{st.st_size}")
    text = "\n".join(parts).encode()
    return f"{zlib.crc32(text):08x}{zlib.adler32(text):08x}"


def _temp_dir() -> str:
    """What tempfile.gettempdir() finds, without importing tempfile (client start-up)."""
    for name in ("TMPDIR", "TEMP", "TMP"):
        value = os.environ.get(name)
        if value and os.path.isdir(value):
            return value
    return "/tmp"


def socket_path() -> str:
    base = os.environ.get("XDG_RUNTIME_DIR") or _temp_dir()
    folder = os.path.join(base, f"transpiler-{os.getuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    st = os.stat(folder)
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise PermissionError(f"{folder} is not private to this user")
    return os.path.join(folder, f"{_fingerprint()}.sock")


def _send(sock: socket.socket, header: dict, payload: bytes) -> None:
    head = json.dumps(header).encode()
    sock.sendall(struct.pack("!II", len(head), len(payload)) + head + payload)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _recv(sock: socket.socket) -> tuple[dict, bytes]:
    head_len, payload_len = struct.unpack("!II", _recv_exact(sock, 8))
    header = json.loads(_recv_exact(sock, head_len))
    return header, _recv_exact(sock, payload_len)


def request(argv: list[str], data: bytes, *, timeout: float = 30.0):
    """Ask a running server; (exit code, stdout bytes, stderr text) or None."""
    try:
        path = socket_path()
        if not os.path.exists(path):
            return None
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect(path)
            sock.settimeout(timeout)
            _send(sock, {"argv": argv, "cwd": os.getcwd(), "tty": sys.stdout.isatty()}, data)
            header, out = _recv(sock)
        return int(header["code"]), out, header.get("stderr", "")
    except (OSError, ValueError, KeyError, struct.error):
        return None


def spawn() -> None:
    """Start a server in the background (its own session, so the editor may exit)."""
    import subprocess

    try:
        path = socket_path()
        subprocess.Popen(
            [sys.executable, "-m", "transpiler.server", path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )
    except OSError:
        pass


def _handle(conn: socket.socket) -> None:
    from . import cli

    header, data = _recv(conn)
    stdout = io.BytesIO()
    stderr = io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr, os.getcwd()
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(stdout, encoding="utf-8", write_through=True)
    sys.stderr = stderr
    cli.STDOUT_TTY = bool(header.get("tty"))
    try:
        os.chdir(header["cwd"])
        code = cli.main(header["argv"], use_server=False)
    except SystemExit as exc:  # argparse errors
        code = exc.code if isinstance(exc.code, int) else 2
    except Exception as exc:  # report, never die on one bad request
        print(f"transpiler: internal error: {type(exc).__name__}: {exc}", file=stderr)
        code = 2
    finally:
        sys.stdout.flush()
        out = stdout.getvalue()  # before the wrapper is dropped (it closes its buffer)
        sys.stdin, sys.stdout, sys.stderr, cwd = saved
        cli.STDOUT_TTY = None
        os.chdir(cwd)
    _send(conn, {"code": code, "stderr": stderr.getvalue()}, out)


def serve(path) -> None:
    from pathlib import Path

    path = Path(path)
    # load everything a conversion needs now, not on the first request
    from . import api, cli  # noqa: F401
    from .engine import formatting  # noqa: F401
    from .rules import load_ruleset

    for direction in ("tf_to_torch", "torch_to_tf"):
        load_ruleset(direction)
    import black  # noqa: F401

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        sock.bind(str(tmp))
        os.chmod(tmp, 0o600)
        sock.listen(8)
        if path.exists():
            try:  # another server won the race and is alive: leave
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                probe.settimeout(0.5)
                probe.connect(str(path))
                probe.close()
                return
            except OSError:
                pass
        os.replace(tmp, path)
        inode = path.stat().st_ino
        sock.settimeout(IDLE_SECONDS)
        while True:
            try:
                conn, _ = sock.accept()
            except socket.timeout:
                break
            with conn:
                if hasattr(socket, "SO_PEERCRED"):
                    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
                    if struct.unpack("3i", creds)[1] != os.getuid():
                        continue  # only its own user may use it
                conn.settimeout(60)
                try:
                    if _serve_one(conn):
                        break
                except (OSError, ValueError, KeyError, struct.error):
                    continue
    finally:
        sock.close()
        try:
            tmp.unlink()
        except OSError:
            pass
        try:  # remove the socket file unless a newer server has taken the name
            if path.stat().st_ino == inode:
                path.unlink()
        except (OSError, UnboundLocalError):
            pass


def _serve_one(conn: socket.socket) -> bool:
    """Serve one connection; True when it asked the server to stop."""
    peek = conn.recv(8, socket.MSG_PEEK)
    if peek == b"STOP\n\n\n\n":
        conn.recv(8)
        return True
    _handle(conn)
    return False


def stop() -> bool:
    try:
        path = socket_path()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(path))
            sock.sendall(b"STOP\n\n\n\n")
        return True
    except OSError:
        return False


def status() -> str:
    path = socket_path()
    if not os.path.exists(path):
        return f"not running ({path})"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect(path)
        return f"running ({path})"
    except OSError:
        return f"not running (stale socket {path})"


def _serve_on_big_stack(path: str) -> None:
    """Serve from a thread with the deep stack conversions need, named as the runner
    names its own, so that no request pays for starting one."""
    import threading

    from .runner import _STACK_BYTES

    threading.stack_size(_STACK_BYTES)
    thread = threading.Thread(target=serve, args=(path,), name="transpiler-convert")
    thread.start()
    thread.join()


if __name__ == "__main__":
    _serve_on_big_stack(sys.argv[1])

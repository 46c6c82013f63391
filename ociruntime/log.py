"""Log lines as runc writes them: logrus text, or JSON objects {"level","msg","time"} with --log-format json.

Without --log, records go to stderr as plain lines (an error is just its message), the way
runc's fatal() prints them: one readable line for a human or for podman's error text.

containerd's shim and conmon read only the *last* JSON line of --log to explain a failure, so every
error ends up there. The file is opened in append mode for each record: containerd reuses one
log.json per bundle, and records from several processes must not clobber each other.
"""

from __future__ import annotations

import os
import sys
import time

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}

path: str | None = None
fmt = "text"
min_level = _LEVELS["info"]


def configure(log_path: str | None, log_format: str = "text", debug: bool = False) -> None:
    global path, fmt, min_level
    # runc's default target is /dev/stderr: treat it as "no file", so the one-line error
    # is not printed twice.
    path = None if log_path in (None, "", "/dev/stderr") else log_path
    fmt = log_format
    min_level = _LEVELS["debug"] if debug else _LEVELS["info"]


def rfc3339(t: float | None = None, nanos: bool = False) -> str:
    t = time.time() if t is None else t
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return f"{base}.{int(t % 1 * 1e9):09d}Z" if nanos else base + "Z"


def format_record(level: str, msg: str) -> str:
    if fmt == "json":
        from . import jsonio

        return jsonio.dumps({"level": level, "msg": msg, "time": rfc3339()}) + "\n"
    quoted = msg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'time="{rfc3339()}" level={level} msg="{quoted}"\n'


def emit(level: str, msg: str) -> None:
    """Write one record to --log (or stderr); never raises: logging must not mask the real error."""
    if _LEVELS.get(level, 40) < min_level:
        return
    try:
        if path is None:
            # On a terminal or a client's stderr pipe: the plain message, one line, no escaping.
            text = msg if level == "error" else f"{level}: {msg}"
            # backslashreplace: a message quoting a config value with a lone surrogate must still print.
            os.write(2, (text.replace("\n", " ") + "\n").encode(errors="backslashreplace"))
        else:
            line = format_record(level, msg).encode(errors="backslashreplace")
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
    except OSError:
        pass


def debug(msg: str) -> None:
    emit("debug", msg)


def info(msg: str) -> None:
    emit("info", msg)


def warning(msg: str) -> None:
    emit("warning", msg)


def error(msg: str) -> None:
    """An error ends the command: log it, and when the log is a file also print the plain line on
    stderr (runc's fatal() does both), so a human sees one line either way."""
    emit("error", msg)
    if path is not None:
        try:
            sys.stderr.write(msg + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

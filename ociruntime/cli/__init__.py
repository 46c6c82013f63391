"""The command line: parse (fast path, else click), run one command, and turn errors into a log
line and an exit status. This is the ONE place where PyociError becomes an exit code."""

from __future__ import annotations

import sys

from .. import log
from ..errors import PyociError, UnknownCommand, UsageError


def _click_parse(argv: list[str]) -> tuple[dict, object, dict] | int:
    import click

    from .clickapp import build

    result: dict = {}
    group = build(result)
    try:
        rc = group.main(args=argv, prog_name="pyoci", standalone_mode=False)
    except click.exceptions.NoSuchOption as e:
        raise UsageError(f"flag provided but not defined: {e.option_name}") from None
    except click.UsageError as e:
        msg = e.format_message()
        if "No such command" in msg:
            raise UnknownCommand(f"No help topic for '{msg.split(chr(39))[1]}'") from None
        raise UsageError(msg.splitlines()[0] if msg else "incorrect usage") from None
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.Abort:
        return 1
    if "parsed" not in result:
        return rc if isinstance(rc, int) else 0
    return result["parsed"]


def _load_handler(spec: str):
    module, _, func = spec.partition(":")
    mod = __import__(f"ociruntime.cli.{module}", fromlist=[func])
    return getattr(mod, func)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    bad = next((a for a in argv if "\0" in a), None)
    if bad is not None:
        # execve cannot pass a NUL, but main() can be called directly: an id or path holding one
        # would reach the kernel truncated through ctypes, or raise ValueError in os.*.
        log.error(f"invalid argument {bad!r}: contains a NUL byte")
        return 1
    from .fastparse import parse, parse_globals

    # Configure logging from the global flags first, so that even a usage error further
    # along reaches --log (containerd reads only log.json).
    early = parse_globals(argv)
    g: dict = early[0] if early else {}
    if g.get("log_format") in ("text", "json"):
        log.configure(g.get("log"), g["log_format"], bool(g.get("debug")))
    try:
        if g and g.get("log_format") not in ("text", "json"):
            raise UsageError(f"invalid log-format: {g.get('log_format')!r} (text or json)")
        parsed = parse(argv)
        if parsed is None:
            parsed = _click_parse(argv)
            if isinstance(parsed, int):
                return parsed
        g, cmd, kw = parsed
        log.configure(g.get("log"), g["log_format"], bool(g.get("debug")))
        rootless = str(g.get("rootless") or "auto").lower()
        if rootless not in ("true", "false", "auto"):
            raise UsageError(f"invalid --rootless value {g.get('rootless')!r} (true, false or auto)")
        if rootless == "true":
            from ..errors import Unsupported

            raise Unsupported("--rootless=true: rootless containers are not supported by pyoci yet")
        if g.get("debug"):
            log.debug(f"pyoci {' '.join(argv)}")
        rc = _load_handler(cmd.handler)(g, **kw)
        return 0 if rc is None else rc
    except PyociError as e:
        log.error(str(e) or type(e).__name__)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # the last line of defence: one line, never a traceback unless --debug
        if g.get("debug"):
            import traceback

            log.debug(traceback.format_exc())
        log.error(f"internal error: {type(e).__name__}: {e}")
        return 1

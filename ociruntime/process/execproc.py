"""What `pyoci exec` runs: the runtime-spec process object, from --process or from the container's
own process and runc's flags, checked as runc checks it; and the fds it is to receive."""

from __future__ import annotations

import os

from .. import jsonio, procattrs
from ..errors import PyociError

# Process fields a --process file does not inherit from the container: a terminal needs a
# console socket of its own, and the container's size is not this terminal's.
_OWN_FIELDS = ("terminal", "consoleSize")


def process_from_file(path: str, base: dict) -> dict:
    """A runtime-spec `process` object from --process, every absent field taken from the container's
    (runc does so for capabilities, rlimits, apparmorProfile and selinuxLabel; pyoci for all but
    terminal and consoleSize, where runc's Go zero values -- uid 0, no env, empty cwd -- would be
    an error or a surprise). Sub-objects are replaced whole: a given `user` brings its own gids."""
    try:
        with open(path, "rb") as f:
            doc = jsonio.loads(f.read())
    except OSError as e:
        raise PyociError(f"open {path}: {os.strerror(e.errno).lower()}") from None
    except ValueError as e:
        raise PyociError(f"{path}: invalid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise PyociError(f"{path}: a process object is a JSON object")
    merged = {k: v for k, v in base.items() if k not in _OWN_FIELDS}
    merged.update(doc)
    return merged


def process_from_flags(base: dict, args: tuple[str, ...], cwd: str | None = None, env: tuple[str, ...] = (),
                       tty: bool = False, user: str | None = None, additional_gids: tuple[str, ...] = (),
                       cap: tuple[str, ...] = (), no_new_privs: bool = False, apparmor: str | None = None,
                       process_label: str | None = None) -> dict:
    """runc's getProcess for the command-line form: the container's process with args replaced and
    the flags applied on top."""
    p = {k: v for k, v in base.items() if k not in _OWN_FIELDS}
    p["args"] = list(args)
    p["terminal"] = bool(tty)
    if cwd:
        p["cwd"] = cwd
    if apparmor:
        p["apparmorProfile"] = apparmor
    if process_label:
        p["selinuxLabel"] = process_label
    if cap:
        caps = {k: list(v) for k, v in (p.get("capabilities") or {}).items()}
        # runc (since 1.1.6) adds to every set but inheritable.
        for s in ("bounding", "effective", "permitted", "ambient"):
            caps[s] = caps.get(s, []) + list(cap)
        p["capabilities"] = caps
    if env:
        p["env"] = list(p.get("env") or ()) + list(env)
    if no_new_privs:
        p["noNewPrivileges"] = True
    u = dict(p.get("user") or {})
    if user:
        uid, sep, gid = user.partition(":")
        u["uid"] = _int(uid, "uid")
        if sep:
            u["gid"] = _int(gid, "gid")
    for g in additional_gids:
        n = _int(g, "additional-gids")
        if n < 0:
            raise PyociError(f"additional-gids must be a positive number {n}")
        u["additionalGids"] = list(u.get("additionalGids") or ()) + [n]
    p["user"] = u
    return p


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise PyociError(f'parsing {text} as int for {what} failed: strconv.Atoi: parsing "{text}": '
                         "invalid syntax") from None


def build(raw: dict):
    """The Process record for raw, checked as runc's validateProcessSpec does (+ names pyoci knows)."""
    from ..capabilities import unknown
    from ..config.load import build_process

    try:
        proc = build_process(raw)
    except (KeyError, TypeError, AttributeError) as e:
        raise PyociError(f"process: malformed field {e}") from None
    if not proc.cwd or raw.get("cwd") == "":
        raise PyociError("Cwd property must not be empty")
    if not proc.cwd.startswith("/"):
        raise PyociError("Cwd must be an absolute path")
    if not proc.args:
        raise PyociError("args must not be empty")
    if proc.capabilities is not None:
        for s in ("bounding", "effective", "permitted", "inheritable", "ambient"):
            bad = unknown(getattr(proc.capabilities, s))
            if bad:
                raise PyociError(f"process.capabilities.{s}: unknown capability {bad[0]!r}")
    for r in proc.rlimits:
        from ..limits import RLIMITS

        if r.type not in RLIMITS:
            raise PyociError(f"process.rlimits: unknown rlimit {r.type!r}")
    for e in proc.env:
        if "=" not in e:
            raise PyociError(f"process.env: {e!r} is not of the form KEY=value")
    if proc.selinux_label and not procattrs.selinux_enabled():
        # runc's validateProcessSpec, word for word.
        raise PyociError("selinux label is specified in config, but selinux is disabled or not supported")
    return proc


def listen_fds() -> int:
    """Socket activation (sd_listen_fds): LISTEN_FDS counts only when LISTEN_PID is us."""
    n, pid = os.environ.get("LISTEN_FDS", ""), os.environ.get("LISTEN_PID", "")
    if n.isdigit() and pid == str(os.getpid()):
        return int(n)
    return 0


def check_fds(n_listen: int, preserve: int) -> None:
    if not (n_listen or preserve):
        return
    import resource

    # Each fd is checked (and later made inheritable) one by one: refuse what cannot be open.
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if n_listen > limit - 3:
        raise PyociError(f"LISTEN_FDS={n_listen}: more than the open files limit")
    if not 0 <= preserve <= limit - 3 - n_listen:
        raise PyociError(f"--preserve-fds {preserve}: must be between 0 and {limit - 3 - n_listen} "
                         "(the open files limit)")
    for fd in range(3, 3 + n_listen):
        try:
            os.fstat(fd)
        except OSError:
            raise PyociError(f"LISTEN_FDS={n_listen}: fd {fd} is not open") from None
    base = 3 + n_listen
    for fd in range(base, base + preserve):
        try:
            os.fstat(fd)
        except OSError as e:
            raise PyociError(f"unable to stat preserved-fd {fd - base} (of {preserve}): "
                             f"stat /proc/self/fd/{fd}: {os.strerror(e.errno).lower()}") from None

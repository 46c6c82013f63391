"""linux.seccomp -> BPF in the runtime, so a bad profile fails at `create` (runc's InitSeccomp
semantics, compiled with libseccomp and exported as crun does, then loaded by init).

Each rule is checked as runc and the spec say, and every error names its JSON field.
"""

from __future__ import annotations

import os

from . import libseccomp as S
from . import names as N
from .load import Filter, kernel_flag_supported

_UINT32, _UINT64 = (1 << 32) - 1, (1 << 64) - 1
_MAX_ARGS = 6                 # a syscall has at most 6 arguments
_BPF_MAXINSNS = 4096          # kernel limit per filter


def _fail(field: str, msg: str) -> Exception:
    from ..errors import ConfigError

    return ConfigError(f"config.json: linux.seccomp{field}: {msg}")


def _uint(v: object, field: str, top: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top:
        raise _fail(field, f"must be an integer from 0 to {top}, not {v!r}")
    return v


def _list(v: object, field: str) -> list:
    if v is None:
        return []
    if not isinstance(v, list):
        raise _fail(field, f"must be an array, not {type(v).__name__}")
    return v


def _action(name: object, errno_ret: object, field: str, errno_field: str) -> int:
    """SCMP_ACT_* value with its return code; EPERM when errnoRet is absent (runc, crun)."""
    if not isinstance(name, str) or name not in N.ACTIONS:
        raise _fail(field, f"unknown action {name!r}")
    if errno_ret is None:
        errno_ret = 1                                           # EPERM
    elif name not in N.ERRNO_ACTIONS:
        # config-linux.md: "When the action doesn't support an errno, the runtime MUST ... fail".
        raise _fail(errno_field, f"only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not {name}")
    else:
        # libseccomp keeps 16 bits of return code (SCMP_ACT_ERRNO(x) = 0x50000 | (x & 0xffff)).
        _uint(errno_ret, errno_field, 0xFFFF)
    value = N.ACTIONS[name]
    return value | errno_ret if name in N.ERRNO_ACTIONS else value


def _args(rule: dict, field: str) -> list[S.ArgCmp]:
    out = []
    for j, a in enumerate(_list(rule.get("args"), f"{field}.args")):
        f = f"{field}.args[{j}]"
        if not isinstance(a, dict):
            raise _fail(f, "must be an object")
        for key in ("index", "value", "op"):
            if a.get(key) is None:
                raise _fail(f, f"{key} is required")
        index = _uint(a["index"], f"{f}.index", _UINT32)
        if index >= _MAX_ARGS:
            raise _fail(f"{f}.index", f"{index} is out of range: a syscall has arguments 0 to 5")
        if not isinstance(a["op"], str) or a["op"] not in S.CMP:
            raise _fail(f"{f}.op", f"unknown operator {a['op']!r}")
        two = a.get("valueTwo")
        # For SCMP_CMP_MASKED_EQ value is the mask and valueTwo the datum, as in libseccomp.
        out.append(S.ArgCmp(index, S.CMP[a["op"]], _uint(a["value"], f"{f}.value", _UINT64),
                            0 if two is None else _uint(two, f"{f}.valueTwo", _UINT64)))
    return out


def _flags(seccomp: dict, notify: bool, seccomp_nr: int) -> int:
    raw = seccomp.get("flags")
    if raw is None:
        # runc's default when "flags" is absent (not merely empty): SPEC_ALLOW if the kernel
        # has it, so the container does not pay for the speculative store bypass mitigation.
        fl = N.FLAG_SPEC_ALLOW if kernel_flag_supported(seccomp_nr, N.FLAG_SPEC_ALLOW) else 0
    else:
        fl = 0
        for i, name in enumerate(_list(raw, ".flags")):
            if not isinstance(name, str) or name not in N.FLAGS:
                raise _fail(f".flags[{i}]", f"unknown flag {name!r}")
            bit = N.FLAGS[name]
            # runc fails at create for a flag the kernel lacks (seccomp.FlagSupported).
            if not kernel_flag_supported(seccomp_nr, bit):
                raise _fail(f".flags[{i}]", f"{name} is not supported by this kernel")
            if bit == N.FLAG_WAIT_KILLABLE_RECV and not notify:
                raise _fail(f".flags[{i}]", f"{name} needs a rule with SCMP_ACT_NOTIFY")
            fl |= bit
    if notify:
        fl |= N.FLAG_NEW_LISTENER
        if fl & N.FLAG_TSYNC:
            # The kernel refuses TSYNC with NEW_LISTENER unless TSYNC_ESRCH (Linux 5.7) is set.
            fl |= N.FLAG_TSYNC_ESRCH
    return fl


def compile_profile(seccomp: object, cache_dir: str | None = None) -> Filter:
    from .. import log

    if not isinstance(seccomp, dict):
        raise _fail("", "must be an object")
    L = S.lib()
    if L is None:
        from ..errors import Unsupported

        raise Unsupported(f"config.json: linux.seccomp: {S.SONAME} (libseccomp) is not installed")
    plan = _check(seccomp)
    seccomp_nr = L.seccomp_syscall_resolve_name(b"seccomp")
    flags = _flags(seccomp, plan.notify, seccomp_nr)

    hit = k = None
    if cache_dir:
        from . import cache

        k = cache.key(seccomp, S.version() or "")
        hit = cache.get(cache_dir, k)
    if hit is not None:
        program, warning = hit
    else:
        program, warning = _build(L, plan)
        program = _enosys_stub(L, plan) + program
        if cache_dir:
            cache.put(cache_dir, k, program, warning)
    if warning:
        # runc ignores syscalls libseccomp does not know (so newer profiles load on older
        # hosts); a typo must still be visible, hence one warning naming every field.
        log.warning(warning)
    if len(program) // 8 > _BPF_MAXINSNS:
        raise _fail("", f"the compiled filter has {len(program) // 8} instructions; "
                        f"the kernel allows {_BPF_MAXINSNS}")
    return Filter(program, flags, plan.listener_path, plan.metadata, seccomp_nr)


class _Plan:
    """The checked profile: actions as SCMP_ACT_* values, args as scmp_arg_cmp."""

    __slots__ = ("default", "default_act", "listener_path", "metadata", "arches", "rules", "notify")


def _check(seccomp: dict) -> _Plan:
    """Every rule of the spec and of runc, before libseccomp sees anything: errors come in
    document order and name their field."""
    p = _Plan()
    p.default = seccomp.get("defaultAction")
    if p.default is None:
        raise _fail(".defaultAction", "is required")
    p.default_act = _action(p.default, seccomp.get("defaultErrnoRet"), ".defaultAction", ".defaultErrnoRet")
    if p.default == "SCMP_ACT_NOTIFY":
        # runc: init must still write the fd number to the runtime after loading.
        raise _fail(".defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")

    for key in ("listenerPath", "listenerMetadata"):
        v = seccomp.get(key)
        if v is not None and not isinstance(v, str):
            raise _fail(f".{key}", "must be a string")
    p.listener_path = seccomp.get("listenerPath") or None
    p.metadata = seccomp.get("listenerMetadata") or None
    if p.metadata is not None and p.listener_path is None:
        raise _fail(".listenerMetadata", "must not be set without listenerPath")

    p.arches = []
    for i, a in enumerate(_list(seccomp.get("architectures"), ".architectures")):
        token = S.arch_token(N.libseccomp_arch(a)) if isinstance(a, str) and a in N.ARCHS else 0
        if not token:
            why = "is not supported by libseccomp " + str(S.version()) if a in N.ARCHS else "is unknown"
            raise _fail(f".architectures[{i}]", f"architecture {a!r} {why}")
        p.arches.append((f".architectures[{i}]", token, a))

    p.rules = []
    p.notify = False
    for i, r in enumerate(_list(seccomp.get("syscalls"), ".syscalls")):
        f = f".syscalls[{i}]"
        if not isinstance(r, dict):
            raise _fail(f, "must be an object")
        names = _list(r.get("names"), f"{f}.names")
        if not names:
            raise _fail(f"{f}.names", "must name at least one syscall")
        for j, n in enumerate(names):
            if not isinstance(n, str) or not n:
                raise _fail(f"{f}.names[{j}]", f"must be a syscall name, not {n!r}")
        if r.get("action") is None:
            raise _fail(f"{f}.action", "is required")
        act = _action(r["action"], r.get("errnoRet"), f"{f}.action", f"{f}.errnoRet")
        if r["action"] == "SCMP_ACT_NOTIFY":
            p.notify = True
            if "write" in names:
                # runc: init reports the listener fd with write(2); notifying it would hang create.
                raise _fail(f"{f}.names[{names.index('write')}]", "SCMP_ACT_NOTIFY cannot be used for write")
        p.rules.append((f, names, act, _args(r, f)))
    if p.notify and p.listener_path is None:
        raise _fail(".listenerPath", "is required when a rule uses SCMP_ACT_NOTIFY")
    return p


def _build(L, p: _Plan) -> tuple[bytes, str]:
    """libseccomp: (exported program, warning about unknown syscalls or "")."""
    ctx = L.seccomp_init(p.default_act)
    if not ctx:
        raise _fail(".defaultAction", f"libseccomp refused action {p.default!r}")
    try:
        for field, token, name in p.arches:
            rc = L.seccomp_arch_add(ctx, token)
            if rc == -33:                                  # -EDOM from db_col_arch_add
                raise _fail(field, f"libseccomp cannot add {name} to a filter for {os.uname().machine}: "
                                   "the byte order differs")
            if rc < 0 and rc != -17:                       # -EEXIST: the native arch is always there
                raise _fail(field, f"libseccomp: {os.strerror(-rc).lower()}")
        if sum(len(n) for _f, n, _a, _c in p.rules) > 32:
            # runc: binary-tree dispatch for long lists (libseccomp <= 2.5.4 misbehaves with 0 rules).
            L.seccomp_attr_set(ctx, S.FLTATR_CTL_OPTIMIZE, 2)
        unknown = []
        for f, names, act, conds in p.rules:
            if act == p.default_act:
                continue                 # runc and crun skip it: libseccomp would reject it (EACCES)
            # runc: arguments sharing an index cannot be ANDed by libseccomp; add one rule each.
            split = len({c.arg for c in conds}) < len(conds)
            groups = [[c] for c in conds] if split else [conds]
            for j, name in enumerate(names):
                nr = L.seccomp_syscall_resolve_name(name.encode())
                if nr == S.NR_SCMP_ERROR:
                    unknown.append(f'linux.seccomp{f}.names[{j}] "{name}"')
                    continue
                for g in groups:
                    arr = (S.ArgCmp * len(g))(*g) if g else None
                    rc = L.seccomp_rule_add_array(ctx, act, nr, len(g), arr)
                    if rc < 0:
                        raise _fail(f"{f}.names[{j}]", f'adding a rule for "{name}": libseccomp: '
                                                       f"{os.strerror(-rc).lower()}")
        program = _export(L, ctx)
    finally:
        L.seccomp_release(ctx)
    warning = ""
    if unknown:
        warning = (f"config.json: linux.seccomp: ignoring syscalls unknown to libseccomp {S.version()}: "
                   + ", ".join(unknown))
    return program, warning


def _export(L, ctx) -> bytes:
    fd = os.memfd_create("pyoci-seccomp", os.MFD_CLOEXEC)
    try:
        rc = L.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise _fail("", f"exporting the filter: libseccomp: {os.strerror(-rc).lower()}")
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def _enosys_stub(L, p: _Plan) -> bytes:
    from .enosys import ENOSYS, stub

    if p.default in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"):
        return b""                     # runc: permissive defaults need no stub
    if p.default_act == N.SECCOMP_RET_ERRNO | ENOSYS:
        return b""                     # the default already answers ENOSYS (podman's profile)
    maxima: dict[int, int] = {}
    for _field, token, _name in p.arches:     # runc looks at the listed architectures only
        if token in maxima:
            continue
        top = max((L.seccomp_syscall_resolve_name_arch(token, n.encode())
                   for _f, names, _a, _c in p.rules for n in names), default=-1)
        if top > 0:
            maxima[token] = top
    return stub(maxima, S.arch_token("x32"))

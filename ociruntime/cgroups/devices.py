"""Device access rules: linux.resources.devices + runc's defaults -> v1 lines or a v2 eBPF program.

Both cgroup versions get the *same* rule set, computed by emulating the v1 kernel list
(security/device_cgroup.c): start from deny-all, apply the rules in order ("a" resets to
allow-all or deny-all; other rules add or remove exceptions), then emit either the v1
devices.allow/devices.deny writes or a BPF_PROG_TYPE_CGROUP_DEVICE program that decides the
same way (runc devices_emulator.go + devicefilter.go, which came from crun's ebpf.c).
"""

from __future__ import annotations

import struct

from ..errors import ConfigError

# runc's specconv.AllowedDevices, appended after the config's rules, so a config cannot take
# them away (runc 1.2 dropped tun/tap 10:200 from this list; so do we).
DEFAULT_RULES = (
    {"allow": True, "type": "c", "access": "m"},                       # mknod any char device
    {"allow": True, "type": "b", "access": "m"},                       # mknod any block device
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},   # /dev/null
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},   # /dev/random
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},   # /dev/full
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},   # /dev/tty
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},   # /dev/zero
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},   # /dev/urandom
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},             # /dev/pts/*
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},   # /dev/ptmx
)

# include/uapi/linux/bpf.h
DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
_ACC = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}
_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE


def _perms(access: str, where: str) -> int:
    bits = 0
    for ch in access:
        if ch not in _ACC:
            raise ConfigError(f"{where}.access: invalid device access {access!r} (r, w, m)")
        bits |= _ACC[ch]
    return bits


def _perm_str(bits: int) -> str:
    return "".join(ch for ch, b in (("r", ACC_READ), ("w", ACC_WRITE), ("m", ACC_MKNOD)) if bits & b)


class Emulator:
    """The v1 kernel's device list: a default (allow or deny) plus exceptions with access bits."""

    __slots__ = ("default_allow", "rules")

    def __init__(self) -> None:
        self.default_allow = False
        self.rules: dict[tuple[str, int, int], int] = {}   # (type, major|-1, minor|-1) -> access bits

    def apply(self, rule: dict, where: str = "linux.resources.devices") -> None:
        typ = rule.get("type") or "a"
        if typ not in ("a", "b", "c"):
            raise ConfigError(f"{where}.type: invalid cgroup device type {typ!r} (a, b or c)")
        # An empty access would be refused by runc; crun treats it as rwm, and so do we.
        bits = _perms(rule.get("access") or "rwm", where)
        allow = bool(rule.get("allow"))
        if typ == "a":
            # "a" is the kernel's reset: every device, every access (runc ignores major/minor here).
            self.default_allow, self.rules = allow, {}
            return
        major = -1 if rule.get("major") is None else int(rule["major"])
        minor = -1 if rule.get("minor") is None else int(rule["minor"])
        key = (typ, major, minor)
        if allow != self.default_allow:
            self.rules[key] = self.rules.get(key, 0) | bits
            return
        # Removing access: the kernel silently ignores a removal that only a wildcard exception
        # covers, which would leave access the config meant to take away: refuse (runc does).
        for partial in ((typ, -1, minor), (typ, major, -1), (typ, -1, -1)):
            if partial != key and self.rules.get(partial, 0) & bits:
                raise ConfigError(f"{where}: cannot remove access from {_line(key, bits)}: the wildcard "
                                  f"rule {_line(partial, self.rules[partial])} covers it (cgroup v1 cannot punch holes)")
        left = self.rules.get(key, 0) & ~bits
        if left:
            self.rules[key] = left
        else:
            self.rules.pop(key, None)

    def entries(self) -> list[tuple[tuple[str, int, int], int]]:
        return sorted(self.rules.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))


def _line(key: tuple[str, int, int], bits: int) -> str:
    t, ma, mi = key
    return f"{t} {'*' if ma < 0 else ma}:{'*' if mi < 0 else mi} {_perm_str(bits)}"


def emulate(rules: list | tuple | None) -> Emulator:
    emu = Emulator()
    for i, r in enumerate(rules or ()):
        emu.apply(r, f"linux.resources.devices[{i}]")
    for r in DEFAULT_RULES:
        emu.apply(r, "default device rules")
    return emu


def v1_writes(emu: Emulator) -> list[tuple[str, str]]:
    """(file, line) pairs: the reset to the default, then one line per exception."""
    if emu.default_allow:
        out = [("devices.allow", "a")]
        out += [("devices.deny", _line(k, b)) for k, b in emu.entries()]
    else:
        out = [("devices.deny", "a")]
        out += [("devices.allow", _line(k, b)) for k, b in emu.entries()]
    return out


# --- eBPF ----------------------------------------------------------------------------------
# struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; };
# access_type = (access << 16) | type.
_LDXW, _AND32, _RSH32, _MOV32, _MOV32X = 0x61, 0x54, 0x74, 0xB4, 0xBC
_JNE, _JNEX, _JEQ, _EXIT = 0x55, 0x5D, 0x15, 0x95


def _ins(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def program(emu: Emulator) -> bytes:
    """The BPF_PROG_TYPE_CGROUP_DEVICE program deciding as `emu` does: returns 1 allow, 0 deny."""
    head = [_ins(_LDXW, 2, 1, 0), _ins(_AND32, 2, imm=0xFFFF),      # R2 = type
            _ins(_LDXW, 3, 1, 0), _ins(_RSH32, 3, imm=16),          # R3 = requested access
            _ins(_LDXW, 4, 1, 4),                                   # R4 = major
            _ins(_LDXW, 5, 1, 8)]                                   # R5 = minor
    verdict = 0 if emu.default_allow else 1                         # what an exception decides
    blocks: list[list[tuple]] = []
    for (typ, major, minor), bits in emu.entries():
        b: list[tuple] = [(_JNE, 2, 0, DEV_CHAR if typ == "c" else DEV_BLOCK)]
        if bits != _ALL:
            b.append((_MOV32X, 1, 3, None))
            b.append((_AND32, 1, 0, bits))
            if emu.default_allow:
                # A deny exception hits when it shares any access bit with the request (the
                # kernel's match_exception_partial).
                b.append((_JEQ, 1, 0, 0))
            else:
                # An allow exception must cover every requested bit (match_exception).
                b.append((_JNEX, 1, 3, None))
        if major >= 0:
            b.append((_JNE, 4, 0, major))
        if minor >= 0:
            b.append((_JNE, 5, 0, minor))
        blocks.append(b)
    out = list(head)
    for b in blocks:
        size = len(b) + 2   # + mov r0, exit
        for i, (code, dst, src, imm) in enumerate(b):
            if code in (_JNE, _JNEX, _JEQ):
                # jump to the first instruction of the next block
                out.append(_ins(code, dst, src if code == _JNEX else 0, size - i - 1, imm or 0))
            else:
                out.append(_ins(code, dst, src if code == _MOV32X else 0, 0, imm or 0))
        out += [_ins(_MOV32, 0, imm=verdict), _ins(_EXIT)]
    out += [_ins(_MOV32, 0, imm=1 if emu.default_allow else 0), _ins(_EXIT)]
    return b"".join(out)

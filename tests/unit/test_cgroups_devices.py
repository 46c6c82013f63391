"""Device rules: the v1 emulation, the v1 writes, and the eBPF program (run here by a small
interpreter of the instructions it uses, so its decisions are checked without the kernel)."""

from __future__ import annotations

import struct

import pytest

from ociruntime.cgroups import devices as D
from ociruntime.errors import ConfigError

C, B = D.DEV_CHAR, D.DEV_BLOCK
R, W, M = D.ACC_READ, D.ACC_WRITE, D.ACC_MKNOD


def run_bpf(prog: bytes, typ: int, access: int, major: int, minor: int) -> int:
    """Execute the program on one bpf_cgroup_dev_ctx; supports the opcodes program() emits."""
    ctx = struct.pack("<III", (access << 16) | typ, major, minor)
    regs = [0] * 11
    insns = [struct.unpack("<BBhi", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    pc, steps = 0, 0
    while True:
        steps += 1
        assert steps < 10000, "no exit"
        code, r, off, imm = insns[pc]
        dst, src = r & 0xF, r >> 4
        pc += 1
        if code == 0x61:        # ldxw dst, [src+off]; R1 is the context
            assert src == 1
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif code == 0x54:      # and32 imm
            regs[dst] = (regs[dst] & imm) & 0xFFFFFFFF
        elif code == 0x74:      # rsh32 imm
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif code == 0xB4:      # mov32 imm
            regs[dst] = imm & 0xFFFFFFFF
        elif code == 0xBC:      # mov32 reg
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif code == 0x55:      # jne imm
            if regs[dst] != imm:
                pc += off
        elif code == 0x5D:      # jne reg
            if regs[dst] != regs[src]:
                pc += off
        elif code == 0x15:      # jeq imm
            if regs[dst] == imm:
                pc += off
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def allowed(emu: D.Emulator, typ: str, access: str, major: int, minor: int) -> bool:
    """The kernel v1 decision for the emulated list (security/device_cgroup.c)."""
    bits = sum({"r": R, "w": W, "m": M}[c] for c in access)
    for (t, ma, mi), ex in emu.rules.items():
        if t == typ and ma in (-1, major) and mi in (-1, minor):
            if emu.default_allow and ex & bits:
                return False
            if not emu.default_allow and ex & bits == bits:
                return True
    return emu.default_allow


def test_default_allow_list_is_runcs():
    emu = D.emulate(None)
    assert not emu.default_allow
    assert D.v1_writes(emu) == [
        ("devices.deny", "a"),
        ("devices.allow", "b *:* m"), ("devices.allow", "c *:* m"),
        ("devices.allow", "c 1:3 rwm"), ("devices.allow", "c 1:5 rwm"), ("devices.allow", "c 1:7 rwm"),
        ("devices.allow", "c 1:8 rwm"), ("devices.allow", "c 1:9 rwm"), ("devices.allow", "c 5:0 rwm"),
        ("devices.allow", "c 5:2 rwm"), ("devices.allow", "c 136:* rwm")]


def test_config_rules_then_defaults():
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"},    # /dev/fuse
             {"allow": True, "type": "b", "major": 8, "access": "r"}]
    emu = D.emulate(rules)
    assert ("devices.allow", "c 10:229 rw") in D.v1_writes(emu)
    assert ("devices.allow", "b 8:* r") in D.v1_writes(emu)


def test_allow_all_then_deny_exceptions():
    emu = D.emulate([{"allow": True, "access": "rwm"},
                     {"allow": False, "type": "c", "major": 1, "minor": 1, "access": "rwm"}])
    assert emu.default_allow
    writes = D.v1_writes(emu)
    assert writes[0] == ("devices.allow", "a")
    assert ("devices.deny", "c 1:1 rwm") in writes
    # defaults were applied in allow-all mode: they *remove* deny exceptions (none here)
    assert all(f == "devices.deny" for f, _ in writes[1:])


def test_removing_access_from_an_exception():
    emu = D.Emulator()
    emu.apply({"allow": True, "type": "c", "major": 4, "minor": 1, "access": "rwm"})
    emu.apply({"allow": False, "type": "c", "major": 4, "minor": 1, "access": "w"})
    assert emu.rules == {("c", 4, 1): R | M}
    emu.apply({"allow": False, "type": "c", "major": 4, "minor": 1, "access": "rm"})
    assert emu.rules == {}


def test_punching_a_hole_in_a_wildcard_is_refused():
    with pytest.raises(ConfigError, match="cannot punch holes"):
        D.emulate([{"allow": True, "type": "c", "access": "rm"},
                   {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "m"}])


@pytest.mark.parametrize("bad", [{"allow": True, "type": "x"}, {"allow": True, "type": "c", "access": "rwx"}])
def test_bad_rules(bad):
    with pytest.raises(ConfigError, match=r"linux.resources.devices\[0\]"):
        D.emulate([bad])


def test_type_a_resets_and_ignores_numbers():
    emu = D.Emulator()
    emu.apply({"allow": True, "type": "c", "major": 1, "minor": 3})
    emu.apply({"allow": True, "type": "a", "major": 7})
    assert emu.default_allow and emu.rules == {}


CASES = [
    [{"allow": False, "access": "rwm"}],
    [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "r"}],
    [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 1, "access": "rw"},
     {"allow": False, "type": "b", "major": 8, "access": "w"}],
    [],
]
PROBES = [(t, a, ma, mi) for t in ("c", "b") for a in ("r", "w", "m", "rw", "rwm", "rm")
          for ma, mi in ((1, 3), (1, 1), (1, 9), (10, 229), (136, 4), (8, 0), (5, 2), (4, 1))]


@pytest.mark.parametrize("rules", CASES)
def test_bpf_program_decides_like_the_v1_list(rules):
    emu = D.emulate(rules)
    prog = D.program(emu)
    assert len(prog) % 8 == 0
    for t, a, ma, mi in PROBES:
        bits = sum({"r": R, "w": W, "m": M}[c] for c in a)
        got = run_bpf(prog, C if t == "c" else B, bits, ma, mi)
        assert got == int(allowed(emu, t, a, ma, mi)), (rules, t, a, ma, mi)


def test_bpf_program_spot_checks():
    prog = D.program(D.emulate([{"allow": False, "access": "rwm"}]))
    assert run_bpf(prog, C, R | W, 1, 3) == 1          # /dev/null
    assert run_bpf(prog, C, R, 1, 1) == 0              # /dev/mem
    assert run_bpf(prog, C, M, 1, 1) == 1              # mknod anything
    assert run_bpf(prog, B, R, 8, 0) == 0              # a disk
    assert run_bpf(prog, C, R | W, 136, 7) == 1        # /dev/pts/7

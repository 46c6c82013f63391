"""bpf(2) through ctypes: load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to a cgroup2
directory, replacing the device programs attached there before (as runc's devices/ebpf_linux.go).
Imported only by `create` on cgroup v2 (ctypes is too heavy for the hot path)."""

from __future__ import annotations

import ctypes
import os
import platform

_NR_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}
PROG_LOAD, PROG_ATTACH, PROG_DETACH, PROG_QUERY, PROG_GET_FD_BY_ID = 5, 8, 9, 16, 13
PROG_TYPE_CGROUP_DEVICE = 15
ATTACH_CGROUP_DEVICE = 6
F_ALLOW_MULTI = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _Load(ctypes.Structure):
    _fields_ = [("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32),
                ("insns", ctypes.c_uint64), ("license", ctypes.c_uint64),
                ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32), ("log_buf", ctypes.c_uint64),
                ("kern_version", ctypes.c_uint32), ("prog_flags", ctypes.c_uint32),
                ("prog_name", ctypes.c_char * 16), ("prog_ifindex", ctypes.c_uint32),
                ("expected_attach_type", ctypes.c_uint32)]


class _Attach(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_bpf_fd", ctypes.c_uint32),
                ("attach_type", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32),
                ("replace_bpf_fd", ctypes.c_uint32)]


class _Query(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_type", ctypes.c_uint32),
                ("query_flags", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32),
                ("prog_ids", ctypes.c_uint64), ("prog_cnt", ctypes.c_uint32)]


class _GetFd(ctypes.Structure):
    _fields_ = [("prog_id", ctypes.c_uint32), ("next_id", ctypes.c_uint32), ("open_flags", ctypes.c_uint32)]


def _bpf(cmd: int, attr: ctypes.Structure, what: str) -> int:
    nr = _NR_BPF.get(platform.machine())
    if nr is None:
        raise OSError(0, f"bpf: unsupported architecture {platform.machine()}")
    ret = _libc.syscall(ctypes.c_long(nr), ctypes.c_long(cmd), ctypes.byref(attr),
                        ctypes.c_long(ctypes.sizeof(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({what}): {os.strerror(err)}")
    return ret


def load_device_program(insns: bytes, license: bytes = b"Apache") -> int:
    """Load the program; return its fd (O_CLOEXEC, as every bpf fd). The verifier's log is in the error."""
    buf = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license)
    log = ctypes.create_string_buffer(65536)
    attr = _Load(prog_type=PROG_TYPE_CGROUP_DEVICE, insn_cnt=len(insns) // 8,
                 insns=ctypes.addressof(buf), license=ctypes.addressof(lic),
                 log_level=0, log_size=0, log_buf=0, prog_name=b"pyoci_devices")
    try:
        return _bpf(PROG_LOAD, attr, "BPF_PROG_LOAD")
    except OSError as e:
        if e.errno != 13 and e.errno != 22:   # EACCES/EINVAL: rerun with the verifier log
            raise
        attr.log_level, attr.log_size, attr.log_buf = 1, len(log), ctypes.addressof(log)
        try:
            return _bpf(PROG_LOAD, attr, "BPF_PROG_LOAD")
        except OSError as e2:
            text = log.value.decode(errors="replace").strip().splitlines()
            raise OSError(e2.errno, f"{e2.strerror}: verifier: {' | '.join(text[-3:])}") from None


def attached_ids(cgroup_fd: int) -> list[int]:
    ids = (ctypes.c_uint32 * 64)()
    q = _Query(target_fd=cgroup_fd, attach_type=ATTACH_CGROUP_DEVICE, prog_ids=ctypes.addressof(ids), prog_cnt=64)
    _bpf(PROG_QUERY, q, "BPF_PROG_QUERY")
    return list(ids[:q.prog_cnt])


def _prog_id(fd: int) -> int:
    # /proc/self/fdinfo/<fd> has "prog_id:" for bpf program fds: no BPF_OBJ_GET_INFO_BY_FD struct needed.
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("prog_id:"):
                return int(line.split()[1])
    return 0


def attach_device_program(cgroup_dir: str, insns: bytes) -> int:
    """Attach a new device program to cgroup_dir, detach the ones it replaces; return its id."""
    cg = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        prog = load_device_program(insns)
        try:
            new_id = _prog_id(prog)
            # ALLOW_MULTI so that a program a parent (or a previous container) attached does not
            # make ours fail; the old ones on this very cgroup are detached right after.
            _bpf(PROG_ATTACH, _Attach(target_fd=cg, attach_bpf_fd=prog, attach_type=ATTACH_CGROUP_DEVICE,
                                      attach_flags=F_ALLOW_MULTI), "BPF_PROG_ATTACH")
            for pid_ in attached_ids(cg):
                if pid_ == new_id:
                    continue
                old = _bpf(PROG_GET_FD_BY_ID, _GetFd(prog_id=pid_), "BPF_PROG_GET_FD_BY_ID")
                try:
                    _bpf(PROG_DETACH, _Attach(target_fd=cg, attach_bpf_fd=old, attach_type=ATTACH_CGROUP_DEVICE),
                         "BPF_PROG_DETACH")
                finally:
                    os.close(old)
            return new_id
        finally:
            os.close(prog)   # the attachment keeps the program alive
    finally:
        os.close(cg)

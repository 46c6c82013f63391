"""config-linux.md Devices, Default Devices, Sysctl, Seccomp, Personality; runtime-linux.md file
descriptors and /dev symbolic links. Checked from inside the container."""

from __future__ import annotations

import os

from ..harness import MUST, SHOULD, Ctx, case

LNX, RTL = "config-linux.md", "runtime-linux.md"
APPLY = "(runtime.md Create: All of the properties configured in config.json except for process MUST be applied.)"


def stat_line(path: str) -> str:
    return f"stat -c '%n|%F|%t:%T|%a|%u|%g' {path}"


@case("default-devices", LNX, "Default Devices", MUST, "null, zero, full, random, urandom, tty are the right devices; ptmx exists",
      """In addition to any devices configured with this setting, the runtime MUST also supply:
      /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom, /dev/tty, ... /dev/ptmx. A
      bind-mount or symlink of the container's /dev/pts/ptmx.""")
def default_devices(t: Ctx):
    want = {"/dev/null": "1:3", "/dev/zero": "1:5", "/dev/full": "1:7", "/dev/random": "1:8",
            "/dev/urandom": "1:9", "/dev/tty": "5:0"}
    out = t.sh(f"{stat_line(' '.join(want))}; [ -e /dev/ptmx ] && echo ptmx; "
               "echo x > /dev/null && head -c 3 /dev/zero | wc -c", t.config())
    lines = out.splitlines()
    got = {ln.split("|")[0]: ln.split("|") for ln in lines if "|" in ln}
    bad = []
    for dev, mm in want.items():
        f = got.get(dev)
        if not f or f[1] != "character special file" or \
                ":".join(str(int(x, 16)) for x in f[2].split(":")) != mm:
            bad.append(f"{dev}: {f[1:3] if f else 'missing'}")
    t.expect(not bad, "; ".join(bad))
    t.expect("ptmx" in lines, "/dev/ptmx is missing")
    t.expect(lines[-1].strip() == "3", "/dev/null or /dev/zero does not work")


@case("dev-symlinks", RTL, "Dev symbolic links", MUST, "/dev/fd, /dev/stdin, /dev/stdout, /dev/stderr links",
      """While creating the container (step 2 in the lifecycle), runtimes MUST create the following
      symlinks if the source file exists after processing mounts: /proc/self/fd -> /dev/fd,
      /proc/self/fd/0 -> /dev/stdin, /proc/self/fd/1 -> /dev/stdout, /proc/self/fd/2 -> /dev/stderr""")
def dev_symlinks(t: Ctx):
    out = t.sh("for l in fd stdin stdout stderr; do readlink /dev/$l || echo none; done", t.config()).split()
    want = ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2"]
    t.expect(out == want, f"links point to {out}")


@case("fds-stdio-only", RTL, "File descriptors", SHOULD, "only stdin, stdout and stderr reach the process (no fd the runtime inherited)",
      """By default, only the `stdin`, `stdout` and `stderr` file descriptors are kept open for the
      application by the runtime. (No RFC 2119 keyword: counted as SHOULD.)""")
def fds_stdio_only(t: Ctx):
    leak = os.open(os.path.join(t.dir, "leak"), os.O_CREAT | os.O_RDWR, 0o600)
    os.set_inheritable(leak, True)
    try:
        # `ls` opens /proc/self/fd as the lowest free fd: 3 when nothing else is open.
        r = t.run(t.bundle(["ls", "/proc/self/fd"]), pass_fds=(leak,))
    finally:
        os.close(leak)
    t.expect(r.rc == 0, "run failed: " + r.brief())
    fds = sorted(int(x) for x in r.out.split())
    t.expect(fds == [0, 1, 2, 3], f"open fds in the container: {fds} (the runtime was given fd {leak})")


@case("devices-char", LNX, "Devices", MUST, "a configured character device exists with its major:minor, fileMode, uid, gid",
      """`devices` (array of objects, OPTIONAL) lists devices that MUST be available in the container.
      ... `fileMode` (uint32, OPTIONAL) - file mode for the device. `uid` (uint32, OPTIONAL) - id of
      device owner in the container namespace. `gid` (uint32, OPTIONAL) - id of device group in the
      container namespace.""")
def devices_char(t: Ctx):
    cfg = t.config()
    cfg["linux"]["devices"] = [{"path": "/dev/cf-null", "type": "c", "major": 1, "minor": 3,
                                "fileMode": 0o640, "uid": 1000, "gid": 1001}]
    got = t.sh(stat_line("/dev/cf-null"), cfg).strip().split("|")[1:]
    t.expect(got == ["character special file", "1:3", "640", "1000", "1001"], f"/dev/cf-null is {got}")


@case("devices-types", LNX, "Devices", MUST, "configured block (b) and fifo (p) devices exist",
      """`type` (string, REQUIRED) - type of device: `c`, `b`, `u` or `p`.""")
def devices_types(t: Ctx):
    cfg = t.config()
    cfg["linux"]["devices"] = [{"path": "/dev/cf-loop", "type": "b", "major": 7, "minor": 200},
                               {"path": "/dev/cf-fifo", "type": "p"}]
    out = t.sh(stat_line("/dev/cf-loop /dev/cf-fifo"), cfg).splitlines()
    got = [ln.split("|")[1:3] for ln in out]
    want = [["block special file", "7:c8"], ["fifo", "0:0"]]
    t.expect(got == want, f"devices are {got}")


@case("devices-mismatch", LNX, "Devices", MUST, "a device path where a different file exists is an error",
      """If a file already exists at `path` that does not match the requested device, the runtime
      MUST generate an error.""",
      notes={"runc": "runc 1.1 ignores the existing file (EEXIST) and runs",
             "crun": "crun 1.8 replaces or ignores the existing file and runs"})
def devices_mismatch(t: Ctx):
    cfg = t.config()
    # No tmpfs on /dev: the rootfs's own /dev, where the regular file is, stays visible.
    cfg["mounts"] = [m for m in cfg["mounts"] if not m["destination"].startswith("/dev")]
    cfg["linux"]["devices"] = [{"path": "/dev/cf-dev", "type": "c", "major": 1, "minor": 3}]
    t.control(cfg)  # a fresh rootfs has no /dev/cf-dev
    b = t.bundle(config=cfg)
    with open(os.path.join(b, "rootfs", "dev", "cf-dev"), "w") as f:
        f.write("a regular file\n")
    r = t.run(b)
    t.expect(r.rc != 0, "the container ran although /dev/cf-dev is a regular file")


def _fuse_open(t: Ctx, rules: list[dict]) -> str:
    """Make a node for /dev/fuse (10:229, which any user may open) inside the container and open
    it under the given device cgroup `rules`: 'opened' or 'denied'."""
    if not os.path.exists("/dev/fuse"):
        t.skip("the host has no /dev/fuse to test the device allowlist with")
    cfg = t.config()
    for s in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][s].append("CAP_MKNOD")
    cfg["linux"]["resources"] = {"devices": rules}
    out = t.sh("mknod /tmp/cf-fuse c 10 229 && { (: < /tmp/cf-fuse) 2>/dev/null && echo opened || echo denied; }", cfg)
    return out.strip()


DENY_ALL = {"allow": False, "access": "rwm"}
FUSE = {"type": "c", "major": 10, "minor": 229, "access": "rw"}


@case("devices-cgroup-deny", LNX, "Allowed Device list", MUST, "a device denied by resources.devices cannot be opened",
      """`devices` (array of objects, OPTIONAL) configures the allowed device list. """ + APPLY)
def devices_cgroup_deny(t: Ctx):
    got = _fuse_open(t, [DENY_ALL])
    t.expect(got == "denied", f"the device was {got} although all devices are denied")


@case("devices-cgroup-allow", LNX, "Allowed Device list", MUST, "a device allowed by resources.devices can be opened",
      """`allow` (boolean, REQUIRED) - whether the entry is allowed or denied. """ + APPLY)
def devices_cgroup_allow(t: Ctx):
    got = _fuse_open(t, [DENY_ALL, {"allow": True, **FUSE}])
    t.expect(got == "opened", f"the device was {got} although c 10:229 rw is allowed")


@case("devices-cgroup-order", LNX, "Allowed Device list", MUST, "resources.devices entries apply in the listed order",
      """The runtime MUST apply entries in the listed order.""")
def devices_cgroup_order(t: Ctx):
    got = _fuse_open(t, [DENY_ALL, {"allow": True, **FUSE}, {"allow": False, **FUSE}])
    t.expect(got == "denied", f"the device was {got} although its allow entry is followed by a deny entry")


@case("sysctl", LNX, "Sysctl", MUST, "sysctl values are set in the container's namespaces",
      """`sysctl` (object, OPTIONAL) allows kernel parameters to be modified at runtime for the
      container. """ + APPLY)
def sysctl(t: Ctx):
    cfg = t.config()
    cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"}
    out = t.sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax", cfg).split()
    t.expect(out == ["1", "12345"], f"ip_forward, msgmax are {out}")


def _seccomp(rule: dict) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], **rule}]}


@case("seccomp-errno", LNX, "Seccomp", MUST, "an SCMP_ACT_ERRNO rule fails the syscall with EPERM by default",
      """`errnoRet` (uint, OPTIONAL) - the errno return code to use. ... If not specified its default
      value is `EPERM`. """ + APPLY)
def seccomp_errno(t: Ctx):
    cfg = t.config()
    cfg["linux"]["seccomp"] = _seccomp({"action": "SCMP_ACT_ERRNO"})
    out = t.sh("grep ^Seccomp: /proc/self/status; mkdir /tmp/cf-dir 2>&1; true", cfg)
    t.expect(out.startswith("Seccomp:\t2"), f"no seccomp filter: {out.splitlines()[:1]}")
    t.expect("Operation not permitted" in out, f"mkdir said {out.splitlines()[1:]}")


@case("seccomp-errnoret", LNX, "Seccomp", MUST, "errnoRet sets the errno of an SCMP_ACT_ERRNO rule",
      """`errnoRet` (uint, OPTIONAL) - the errno return code to use. Some actions like
      `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE` allow to specify the errno code to return. """ + APPLY)
def seccomp_errnoret(t: Ctx):
    cfg = t.config()
    cfg["linux"]["seccomp"] = _seccomp({"action": "SCMP_ACT_ERRNO", "errnoRet": 13})
    out = t.sh("mkdir /tmp/cf-dir 2>&1; true", cfg)
    t.expect("Permission denied" in out, f"mkdir said {out.strip()!r} (errnoRet 13 is EACCES)")


@case("seccomp-errnoret-invalid", LNX, "Seccomp", MUST, "errnoRet on an action without an errno is an error",
      """When the action doesn't support an errno, the runtime MUST print and error and fail.""",
      notes={"runc": "runc 1.1 accepts errnoRet with SCMP_ACT_KILL"})
def seccomp_errnoret_invalid(t: Ctx):
    cfg = t.config(["true"])
    cfg["linux"]["seccomp"] = _seccomp({"action": "SCMP_ACT_KILL"})
    t.control(cfg)
    cfg["linux"]["seccomp"] = _seccomp({"action": "SCMP_ACT_KILL", "errnoRet": 1})
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc != 0 and "mkdir" not in r.out, "a config with errnoRet on SCMP_ACT_KILL ran")


@case("personality", LNX, "Personality", MUST, 'personality domain LINUX32 makes uname report a 32-bit machine',
      """`domain` (string, REQUIRED) - the execution domain. ... `LINUX32` will set the `uname`
      system call to show a 32 bit CPU type, such as `i686`. """ + APPLY,
      notes={"runc": "runc 1.1.5 does not implement linux.personality (spec 1.0.2) and ignores it"})
def personality(t: Ctx):
    if os.uname().machine != "x86_64":
        t.skip("the 32-bit personality check is written for x86_64 hosts")
    cfg = t.config()
    cfg["linux"]["personality"] = {"domain": "LINUX32"}
    got = t.sh("uname -m", cfg).strip()
    t.expect(got in ("i686", "i386"), f"uname -m is {got!r}")

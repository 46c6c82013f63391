"""config.md Root and Mounts, config-linux.md Rootfs Mount Propagation, Masked and Readonly Paths:
checked from the container's own /proc/self/mountinfo and by writing and reading files in it."""

from __future__ import annotations

import os

from ..harness import MUST, SHOULD, Ctx, case
from ..host import find_mount, mountinfo
from .common import read

CFG, LNX = "config.md", "config-linux.md"
APPLY = "(runtime.md Create: All of the properties configured in config.json except for process MUST be applied.)"


def mounts_in(t: Ctx, cfg: dict):
    return mountinfo(t.sh("cat /proc/self/mountinfo", cfg))


def mount_at(t: Ctx, mounts, target: str):
    m = find_mount(mounts, target)
    t.expect(m is not None, f"nothing is mounted at {target}")
    return m


def try_write(path: str) -> str:
    """Shell snippet printing 'written' or 'refused' for creating a file at `path`."""
    return f"(echo x > {path}) 2>/dev/null && echo written || echo refused"


@case("root-readonly", CFG, "Root", MUST, "root.readonly true makes the rootfs read-only",
      """`readonly` (bool, OPTIONAL) If true then the root filesystem MUST be read-only inside the
      container, defaults to false.""")
def root_readonly(t: Ctx):
    cfg = t.config()
    cfg["root"]["readonly"] = True
    out = t.sh(f"{try_write('/cf-new')}; cat /proc/self/mountinfo", cfg)
    first, _, rest = out.partition("\n")
    t.expect(first == "refused", "a file could be created in the read-only rootfs")
    t.expect("ro" in mount_at(t, mountinfo(rest), "/").opts, "/ is not mounted ro")


@case("root-writable", CFG, "Root", MUST, "root.readonly false (the default) leaves the rootfs writable",
      """`readonly` (bool, OPTIONAL) If true then the root filesystem MUST be read-only inside the
      container, defaults to false.""")
def root_writable(t: Ctx):
    cfg = t.config()
    del cfg["root"]["readonly"]
    out = t.sh(try_write("/cf-new"), cfg).strip()
    t.expect(out == "written", "no file could be created in the rootfs")


@case("root-absolute-path", CFG, "Root", MUST, "root.path may be an absolute path outside the bundle",
      """On POSIX platforms, `path` is either an absolute path or a relative path to the bundle. """ + APPLY)
def root_absolute(t: Ctx):
    b = t.bundle(["cat", "/cf-where"])
    elsewhere = os.path.join(t.dir, "elsewhere-rootfs")
    os.rename(os.path.join(b, "rootfs"), elsewhere)
    with open(os.path.join(elsewhere, "cf-where"), "w") as f:
        f.write("elsewhere\n")
    cfg = t.config(["cat", "/cf-where"])
    cfg["root"]["path"] = elsewhere
    t.write_config(b, cfg)
    r = t.run(b)
    t.expect(r.rc == 0 and r.out == "elsewhere\n", "run failed: " + r.brief())


@case("root-missing", CFG, "Root", MUST, "a root.path that does not exist is an error",
      """A directory MUST exist at the path declared by the field. ... (runtime.md) If the runtime is
      unable to create the environment specified in the config.json, it MUST generate an error.""")
def root_missing(t: Ctx):
    cfg = t.config()
    t.control(cfg)
    cfg["root"]["path"] = "no-such-rootfs"
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc != 0, "a container ran with a missing root.path")


@case("mounts-order", CFG, "Mounts", MUST, "mounts are mounted in the listed order (a later one covers an earlier one)",
      """The runtime MUST mount entries in the listed order.""")
def mounts_order(t: Ctx):
    cfg = t.config()
    src = t.hostdir("src")
    open(os.path.join(src, "from-bind"), "w").close()
    cfg["mounts"] += [{"destination": "/cfm", "type": "bind", "source": src, "options": ["rbind"]},
                      {"destination": "/cfm", "type": "tmpfs", "source": "tmpfs"}]
    out = t.sh("ls -A /cfm; echo end", cfg)
    t.expect(out == "end\n", f"/cfm shows {out.split()[:-1]}: the bind mount is on top of the tmpfs")


@case("mounts-tmpfs-options", CFG, "Mounts", MUST, "tmpfs with nosuid,nodev,noexec,size=,mode= options",
      """`options` (array of strings, OPTIONAL) Mount options of the filesystem to be used. ...
      `nodev` MUST, `noexec` MUST, `nosuid` MUST ... Runtimes SHOULD treat unknown options as
      filesystem-specific ones and pass those as a comma-separated string to the fifth
      (`const void *data`) argument of mount(2).""")
def mounts_tmpfs(t: Ctx):
    cfg = t.config()
    cfg["mounts"].append({"destination": "/cft", "type": "tmpfs", "source": "tmpfs",
                          "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=1770"]})
    m = mount_at(t, mounts_in(t, cfg), "/cft")
    t.expect(m.fstype == "tmpfs", f"/cft is {m.fstype}")
    missing = {"nosuid", "nodev", "noexec"} - m.opts
    t.expect(not missing, f"missing mount flags {sorted(missing)} ({sorted(m.opts)})")
    t.expect({"size=1024k", "mode=1770"} <= m.super, f"tmpfs data options are {sorted(m.super)}")


@case("mounts-flag-options", CFG, "Linux mount options", MUST, "noatime, nodiratime, sync, dirsync, ro options",
      """Runtimes MUST/SHOULD/MAY implement the following option strings for Linux: ... `dirsync`
      MUST, `noatime` MUST, `nodiratime` MUST, `ro` MUST, `sync` MUST""")
def mounts_flags(t: Ctx):
    cfg = t.config()
    cfg["mounts"] += [{"destination": "/cfa", "type": "tmpfs", "source": "tmpfs", "options": ["noatime", "sync", "dirsync"]},
                      {"destination": "/cfb", "type": "tmpfs", "source": "tmpfs", "options": ["nodiratime", "ro"]}]
    mounts = mounts_in(t, cfg)
    a, b = mount_at(t, mounts, "/cfa"), mount_at(t, mounts, "/cfb")
    errs = []
    if "noatime" not in a.opts:
        errs.append(f"/cfa lacks noatime: {sorted(a.opts)}")
    if not {"sync", "dirsync"} <= a.super:
        errs.append(f"/cfa lacks sync,dirsync: {sorted(a.super)}")
    if not {"nodiratime", "ro"} <= b.opts:
        errs.append(f"/cfb lacks nodiratime,ro: {sorted(b.opts)}")
    t.expect(not errs, "; ".join(errs))


@case("mounts-nosymfollow", CFG, "Linux mount options", SHOULD, "the nosymfollow option",
      """`nosymfollow` SHOULD (Introduced in kernel 5.10, util-linux 2.38)""",
      notes={"crun": "crun 1.8 does not know nosymfollow and passes it to tmpfs as data (EINVAL)"})
def mounts_nosymfollow(t: Ctx):
    cfg = t.config()
    cfg["mounts"].append({"destination": "/cfn", "type": "tmpfs", "source": "tmpfs", "options": ["nosymfollow"]})
    m = mount_at(t, mounts_in(t, cfg), "/cfn")
    t.expect("nosymfollow" in m.opts, f"/cfn options are {sorted(m.opts)}")


@case("mounts-bind-ro", CFG, "Mounts", MUST, "a bind mount with ro is readable and not writable",
      """A mount is a bind mount if it has either `bind` or `rbind` in the options. ... `bind` MUST,
      `ro` MUST""")
def mounts_bind_ro(t: Ctx):
    cfg = t.config()
    src = t.hostdir("src")
    with open(os.path.join(src, "data"), "w") as f:
        f.write("host data\n")
    cfg["mounts"].append({"destination": "/cfro", "type": "bind", "source": src, "options": ["bind", "ro"]})
    out = t.sh(f"cat /cfro/data; {try_write('/cfro/new')}", cfg)
    t.expect(out == "host data\nrefused\n", f"container saw {out!r}")
    t.expect(not os.path.exists(os.path.join(src, "new")), "the container wrote through the ro bind mount")


@case("mounts-bind-rw", CFG, "Mounts", MUST, "a read-write bind mount shares files with the host",
      """`source` (string, OPTIONAL) A device name, but can also be a file or directory name for bind
      mounts or a dummy. ... `rbind` MUST, `rw` MUST""")
def mounts_bind_rw(t: Ctx):
    cfg = t.config()
    src = t.hostdir("src")
    cfg["mounts"].append({"destination": "/cfrw", "type": "bind", "source": src, "options": ["rbind", "rw"]})
    t.sh("echo from-container > /cfrw/new", cfg)
    t.expect(read(os.path.join(src, "new"), "") == "from-container\n", "the file is not on the host")


@case("mounts-bind-file", CFG, "Mounts", MUST, "a single file can be bind-mounted",
      """`source` (string, OPTIONAL) A device name, but can also be a file or directory name for bind
      mounts or a dummy. """ + APPLY)
def mounts_bind_file(t: Ctx):
    cfg = t.config()
    src = os.path.join(t.hostdir("src"), "file")
    with open(src, "w") as f:
        f.write("one file\n")
    cfg["mounts"].append({"destination": "/etc/cf-file", "type": "bind", "source": src, "options": ["bind", "ro"]})
    out = t.sh("cat /etc/cf-file", cfg)
    t.expect(out == "one file\n", f"container read {out!r}")


@case("mounts-bind-relative", CFG, "Mounts", MUST, "a relative bind source is relative to the bundle",
      """Path values for bind mounts are either absolute or relative to the bundle. """ + APPLY)
def mounts_bind_relative(t: Ctx):
    cfg = t.config(["cat", "/cfrel/data"])
    cfg["mounts"].append({"destination": "/cfrel", "type": "bind", "source": "hostdata", "options": ["rbind"]})
    b = t.bundle(config=cfg)
    os.makedirs(os.path.join(b, "hostdata"))
    with open(os.path.join(b, "hostdata", "data"), "w") as f:
        f.write("relative\n")
    r = t.run(b)
    t.expect(r.rc == 0 and r.out == "relative\n", "run failed: " + r.brief())


@case("mounts-relative-destination", CFG, "Mounts", MUST, "a relative destination is relative to /",
      """Linux: This value SHOULD be an absolute path. For compatibility with old tools and
      configurations, it MAY be a relative path, in which case it MUST be interpreted as relative
      to "/".""")
def mounts_relative_destination(t: Ctx):
    cfg = t.config()
    cfg["mounts"].append({"destination": "cf-relative", "type": "tmpfs", "source": "tmpfs"})
    m = mount_at(t, mounts_in(t, cfg), "/cf-relative")
    t.expect(m.fstype == "tmpfs", f"/cf-relative is {m.fstype}")


@case("mounts-idmap", CFG, "Linux mount options", SHOULD, "an idmap bind mount with uid/gidMappings shows host root's files as the mapped owner",
      """`idmap` SHOULD Indicates that the mount MUST have an idmapping applied. ... If `uidMappings`
      or `gidMappings` are specified for the mount, the runtime MUST use those values for the
      mount's mapping.""",
      notes={"runc": "runc 1.1.5 ignores the idmap option and the mount's uid/gidMappings"})
def mounts_idmap(t: Ctx):
    from .namespaces import USER_MAP, userns_config
    src = t.hostdir("src", mode=0o755)
    with open(os.path.join(src, "file"), "w") as f:
        f.write("owned by host root\n")
    cfg = userns_config(t, ["sh", "-c", "stat -c %u:%g /cfid/file /cfplain/file"])
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] in ("/proc", "/dev", "/dev/pts", "/dev/shm")]
    cfg["mounts"] += [{"destination": "/cfid", "type": "bind", "source": src, "options": ["rbind", "idmap"],
                       "uidMappings": USER_MAP, "gidMappings": USER_MAP},
                      {"destination": "/cfplain", "type": "bind", "source": src, "options": ["rbind"]}]
    b = t.bundle(config=cfg)
    for d in ("cfid", "cfplain"):  # root of the user namespace cannot mkdir in a host-owned rootfs
        os.mkdir(os.path.join(b, "rootfs", d))
    r = t.run(b)
    t.expect(r.rc == 0, "run failed: " + r.brief())
    t.expect(r.out.split() == ["0:0", "65534:65534"],
             f"owners through the idmapped and the plain mount: {r.out.split()} (expected 0:0, 65534:65534)")


@case("mounts-propagation-options", CFG, "Linux mount options", MUST, "rshared and runbindable bind options",
      """`rshared` MUST Bind mount propagation ... `runbindable` MUST Bind mount propagation""",
      notes={"crun": "crun 1.8 leaves rshared and runbindable bind mounts private"})
def mounts_propagation(t: Ctx):
    cfg = t.config()
    src = t.hostdir("src")
    cfg["mounts"] += [{"destination": "/cfs", "type": "bind", "source": src, "options": ["rbind", "rshared"]},
                      {"destination": "/cfu", "type": "bind", "source": src, "options": ["rbind", "runbindable"]}]
    mounts = mounts_in(t, cfg)
    s, u = mount_at(t, mounts, "/cfs"), mount_at(t, mounts, "/cfu")
    t.expect("shared" in s.propagation(), f"/cfs propagation is {s.optional}")
    t.expect("unbindable" in u.propagation(), f"/cfu propagation is {u.optional}")


def _root_propagation(t: Ctx, value: str):
    cfg = t.config()
    cfg["linux"]["rootfsPropagation"] = value
    return mount_at(t, mounts_in(t, cfg), "/").propagation()


@case("rootfs-propagation-shared", LNX, "Rootfs Mount Propagation", MUST, 'rootfsPropagation "shared" makes / shared',
      """`shared`: the rootfs mount belongs to a new peer group. """ + APPLY,
      notes={"runc": "runc 1.1 leaves the container's / private with rootfsPropagation shared"})
def rootfs_shared(t: Ctx):
    prop = _root_propagation(t, "shared")
    t.expect("shared" in prop, f"/ propagation is {sorted(prop) or 'private'}")


@case("rootfs-propagation-unbindable", LNX, "Rootfs Mount Propagation", MUST, 'rootfsPropagation "unbindable" makes / unbindable',
      """`unbindable`: the rootfs mount is a private mount that cannot be bind-mounted. """ + APPLY,
      notes={"runc": "runc 1.1 fails: it binds the rootfs after making it unbindable (EINVAL)"})
def rootfs_unbindable(t: Ctx):
    prop = _root_propagation(t, "unbindable")
    t.expect("unbindable" in prop, f"/ propagation is {sorted(prop) or 'private'}")


@case("rootfs-propagation-private", LNX, "Rootfs Mount Propagation", MUST, 'rootfsPropagation "private" makes / private',
      """`private`: the rootfs mount doesn't receive mount propagation events from the host and
      further mounts in nested containers will be isolated from the host and from the rootfs. """ + APPLY)
def rootfs_private(t: Ctx):
    prop = _root_propagation(t, "private")
    t.expect(not prop, f"/ propagation is {sorted(prop)}")


@case("masked-paths", LNX, "Masked Paths", MUST, "maskedPaths files read empty and directories list empty",
      """`maskedPaths` (array of strings, OPTIONAL) will mask over the provided paths inside the
      container so that they cannot be read. """ + APPLY)
def masked_paths(t: Ctx):
    cfg = t.config()
    cfg["linux"]["maskedPaths"] = ["/cf-secret-dir", "/cf-secret-file", "/proc/kcore"]
    cfg["process"]["args"] = ["sh", "-c", "cat /cf-secret-file; ls -A /cf-secret-dir; echo end"]
    b = t.bundle(config=cfg)
    os.makedirs(os.path.join(b, "rootfs", "cf-secret-dir"))
    for p in ("cf-secret-dir/inner", "cf-secret-file"):
        with open(os.path.join(b, "rootfs", p), "w") as f:
            f.write("secret\n")
    r = t.run(b)
    t.expect(r.rc == 0, "run failed: " + r.brief())
    t.expect(r.out == "end\n", f"masked paths showed {r.out.split()[:-1]}")


@case("readonly-paths", LNX, "Readonly Paths", MUST, "readonlyPaths are readable and not writable",
      """`readonlyPaths` (array of strings, OPTIONAL) will set the provided paths as readonly inside
      the container. """ + APPLY)
def readonly_paths(t: Ctx):
    cfg = t.config()
    cfg["linux"]["readonlyPaths"] = ["/cf-ro", "/proc/sys"]
    script = (f"cat /cf-ro/data; {try_write('/cf-ro/new')}; "
              "grep -c . /proc/sys/kernel/hostname; cat /proc/self/mountinfo")
    cfg["process"]["args"] = ["sh", "-c", script]
    b = t.bundle(config=cfg)
    os.makedirs(os.path.join(b, "rootfs", "cf-ro"))
    with open(os.path.join(b, "rootfs", "cf-ro", "data"), "w") as f:
        f.write("readable\n")
    r = t.run(b)
    t.expect(r.rc == 0, "run failed: " + r.brief())
    lines = r.out.split("\n", 3)
    t.expect(lines[:3] == ["readable", "refused", "1"], f"container saw {lines[:3]}")
    m = mount_at(t, mountinfo(lines[3]), "/proc/sys")
    t.expect("ro" in m.opts, f"/proc/sys options are {sorted(m.opts)}")

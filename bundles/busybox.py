"""Runnable OCI bundles (config.json + rootfs) from Debian's busybox-static, with no network.

    python3 -m bundles.busybox /tmp/demo -- echo hello     # prints /tmp/demo
    pyoci run --bundle /tmp/demo demo

The rootfs is one statically linked /bin/busybox (a dynamic one would need a libc and a loader
inside the rootfs), a relative symlink for every applet (`busybox --list-full`), the usual empty
directories and a minimal /etc (root and nobody). config.json is `ociruntime.specgen.default_spec()`,
i.e. what `runc spec` writes, with the args and terminal asked for.

Applets are symlinks, not hardlinks: that is how `busybox --install -s` and busybox images lay
them out, so runtimes meet real symlinks when they resolve args[0] on PATH; relative targets
(`../../bin/busybox`) resolve to the rootfs's own busybox from inside the container and from the
host alike, where an absolute `/bin/busybox` seen from the host would be the host's binary.

Every private rootfs gets its own busybox (one in-kernel copy, ~2 MB) and its own directories
and /etc files, so a container writing its rootfs damages only its bundle. The applet symlinks
are hardlinked from a per-process pristine tree (see _link_source): new inodes are what costs on a
busy disk. Tests that only read the rootfs share one instead, `make_bundle(d, args,
rootfs=shared_rootfs())`: config.json only, and read-only unless asked otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

BUSYBOX = "/bin/busybox"

# Mode of each directory we create besides the applet dirs (0755). Debian's: /tmp sticky and
# world-writable, /root private.
# Each mkdir is a new inode, the dearest step on a busy disk (~0.45 ms each here): keep it minimal.
_DIRS = {"proc": 0o755, "sys": 0o755, "dev": 0o755, "tmp": 0o1777, "etc": 0o755, "root": 0o700,
         "run": 0o755, "var": 0o755}

# uid/gid 65534 is nobody/nogroup as on Debian; the extra "nobody" group lets `chgrp nobody` and
# images that expect it work. tty (5) is the gid runc's default devpts mount gives /dev/pts/*.
_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "etc/group": "root:x:0:\ntty:x:5:\nnogroup:x:65534:\nnobody:x:65534:\n",
    "etc/hostname": "busybox\n",
    "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
}


class BusyboxError(RuntimeError):
    pass


def _elf_interpreter(path: str) -> str | None:
    """Return the PT_INTERP path of an ELF executable, or None if it has none (static)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF":
            raise BusyboxError(f"{path}: not an ELF executable")
        bits64, order = head[4] == 2, ("little" if head[5] == 1 else "big")

        def num(off: int, size: int) -> int:
            return int.from_bytes(head[off:off + size], order)

        phoff, phentsize, phnum = (num(32, 8), num(54, 2), num(56, 2)) if bits64 else \
            (num(28, 4), num(42, 2), num(44, 2))
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        for i in range(phnum):
            ph = table[i * phentsize:(i + 1) * phentsize]
            if int.from_bytes(ph[:4], order) == 3:  # PT_INTERP
                off = int.from_bytes(ph[8:16] if bits64 else ph[4:8], order)
                size = int.from_bytes(ph[32:40] if bits64 else ph[16:20], order)
                f.seek(off)
                return f.read(size).rstrip(b"\0").decode(errors="replace")
    return None


_links: list[tuple[str, str]] | None = None


def applet_links() -> list[tuple[str, str]]:
    """[(path in rootfs, relative symlink target)] for every applet; checks busybox once per process."""
    global _links
    if _links is None:
        if not os.access(BUSYBOX, os.X_OK):
            raise BusyboxError(f"{BUSYBOX} not found: apt-get install busybox-static")
        interp = _elf_interpreter(BUSYBOX)
        if interp is not None:
            raise BusyboxError(f"{BUSYBOX} is dynamically linked (interpreter {interp}); "
                               "a rootfs without a libc needs Debian's busybox-static")
        import subprocess

        out = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout
        links = []
        for p in out.split():
            p = p.strip("/")
            if p and p != "bin/busybox":
                links.append((p, os.path.relpath("bin/busybox", os.path.dirname(p) or ".")))
        _links = links
    return _links


def _copy(src: str, dst: str, mode: int) -> None:
    with open(src, "rb") as fi:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            size = os.fstat(fi.fileno()).st_size
            copied = 0
            while copied < size:  # in-kernel copy; unlike copy_file_range, also across filesystems
                n = os.sendfile(fd, fi.fileno(), copied, size - copied)
                if n == 0:
                    break
                copied += n
            os.fchmod(fd, mode)  # exact mode whatever the umask
        finally:
            os.close(fd)


_APPLET_DIRS = ("bin", "sbin", "usr", "usr/bin", "usr/sbin")


def _write(path: str, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.write(fd, text.encode())
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _cleanup_at_exit(path: str) -> None:
    """Remove `path` when this process exits, but not from a forked child's exit."""
    import atexit

    owner = os.getpid()

    def cleanup() -> None:
        if os.getpid() == owner:
            import shutil

            shutil.rmtree(path, ignore_errors=True)

    atexit.register(cleanup)


# st_dev -> a directory of pristine applet symlinks on that filesystem (or None: not possible).
_link_sources: dict[int, str | None] = {}
_made_one = False


def _link_source(dev: int) -> str | None:
    """A per-process tree holding one symlink per applet on filesystem `dev`, to hardlink from.

    Creating an inode is what costs on a busy ext4 (measured here: 268 symlink() 54-90 ms while
    other jobs ran, 268 link() 3 ms). A symlink's target can never be rewritten, so bundles can
    share symlink inodes safely: a container can only replace its own directory entry. The
    source sits in a private temp dir no container sees, so it stays pristine. It is made for the
    second rootfs a process builds; the first one gets plain symlinks."""
    if dev not in _link_sources:
        global _made_one
        if not _made_one:  # a one-shot caller (the CLI) would pay for a source it never uses
            _made_one = True
            return None
        import tempfile

        src = None
        top = tempfile.gettempdir()
        if os.stat(top).st_dev == dev:
            src = tempfile.mkdtemp(prefix="pyoci-applets-", dir=top)
            _cleanup_at_exit(src)
            for d in _APPLET_DIRS:
                os.mkdir(f"{src}/{d}")
            for path, target in applet_links():
                os.symlink(target, f"{src}/{path}")
        _link_sources[dev] = src
    return _link_sources[dev]


def make_rootfs(dest: str | os.PathLike) -> Path:
    """Build a busybox rootfs at `dest` (created; it may exist if empty). Returns its Path."""
    links = applet_links()
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise FileExistsError(f"{root}: not empty")
    r = str(root)
    os.chmod(r, 0o755)
    for d in _APPLET_DIRS:
        os.mkdir(f"{r}/{d}")
        os.chmod(f"{r}/{d}", 0o755)
    for d, mode in _DIRS.items():
        os.mkdir(f"{r}/{d}")
        os.chmod(f"{r}/{d}", mode)  # mkdir's mode is filtered by the umask; 1777 needs chmod anyway
    # Private: a container may write these (the binary, /etc/passwd) without touching other bundles.
    _copy(BUSYBOX, f"{r}/bin/busybox", 0o755)
    for path, text in _FILES.items():
        _write(f"{r}/{path}", text, 0o644)
    dev = os.stat(r).st_dev
    src = _link_source(dev)
    for path, target in links:
        if src is not None:
            try:
                os.link(f"{src}/{path}", f"{r}/{path}", follow_symlinks=False)
                continue
            except OSError:  # source gone, EMLINK (65000 links on ext4), ...: build a new one next time
                _link_sources.pop(dev, None)
                src = None
        os.symlink(target, f"{r}/{path}")
    return root


_shared: Path | None = None


def shared_rootfs() -> Path:
    """A pristine rootfs built once per process (in a temp dir removed at exit), for bundles that
    share it read-only. Containers running from it must be gone before the process exits."""
    global _shared
    if _shared is None:
        import tempfile

        top = tempfile.mkdtemp(prefix="pyoci-busybox-")
        _cleanup_at_exit(top)
        _shared = make_rootfs(os.path.join(top, "rootfs"))
    return _shared


def _merge(dst: dict, src: dict) -> None:
    import copy

    for k, v in src.items():
        if v is None:
            dst.pop(k, None)
        elif isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)  # the caller's constants stay untouched by a later edit()


def make_bundle(dest: str | os.PathLike, args=("sh",), *, terminal: bool = False,
                rootfs: str | os.PathLike | None = None, readonly: bool | None = None,
                rootless: bool = False, edit=None, **edits) -> Path:
    """Build a bundle at `dest` (created; may exist if it has no config.json/rootfs). Returns its Path.

    args, terminal: process.args and process.terminal.
    rootfs: an existing rootfs to share, e.g. shared_rootfs() (root.path becomes its absolute
        path); default: a private one made at dest/rootfs.
    readonly: root.readonly; default False for a private rootfs (tests write to it), True for a
        shared one (so containers cannot see each other's writes).
    rootless: start from `runc spec --rootless` (user namespace mapping the caller).
    **edits: top-level config keys deep-merged into the config: dicts merge key by key, any other
        value (lists included) replaces, None deletes. E.g.
        make_bundle(d, ["id", "-u"], process={"user": {"uid": 65534, "gid": 65534}}, hostname=None)
    edit: a callable run last on the config dict, for anything a merge cannot say; it edits the
        dict in place (its return value is ignored).
    """
    from ociruntime.specgen import default_spec, dumps

    if isinstance(args, str):
        raise TypeError("args must be a list of strings, not a string")
    bundle = Path(dest)
    bundle.mkdir(parents=True, exist_ok=True)
    cfg_path = bundle / "config.json"
    if cfg_path.exists() or os.path.lexists(bundle / "rootfs"):
        raise FileExistsError(f"{bundle}: already holds a bundle")
    cfg = default_spec(rootless=rootless, args=list(args), terminal=terminal)
    if rootfs is None:
        make_rootfs(bundle / "rootfs")
    else:
        shared = Path(rootfs).absolute()
        if not (shared / "bin" / "busybox").exists():
            raise FileNotFoundError(f"{shared}: not a rootfs (make it with make_rootfs)")
        cfg["root"]["path"] = str(shared)
    cfg["root"]["readonly"] = (rootfs is not None) if readonly is None else readonly
    _merge(cfg, edits)
    if edit is not None:
        edit(cfg)  # in place; its return value is ignored (a lambda's .pop() result is no config)
    cfg_path.write_text(dumps(cfg))
    return bundle


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    p = argparse.ArgumentParser(
        prog="python3 -m bundles.busybox",
        usage="%(prog)s [options] DEST [-- ARGS...]",
        description="Build an OCI bundle (config.json like `runc spec` + a busybox-static rootfs) "
                    "and print its path. ARGS (after --) are the container's command, default sh. "
                    "No network needed.",
        epilog="example: python3 -m bundles.busybox /tmp/demo -- echo hello && "
               "pyoci run --bundle /tmp/demo demo")
    p.add_argument("dest", help="bundle directory to create (may exist if empty)")
    p.add_argument("--terminal", action="store_true", help="set process.terminal (for an interactive sh)")
    p.add_argument("--readonly", action="store_true", help="set root.readonly (the default with --rootfs)")
    p.add_argument("--rootfs", metavar="PATH", help="share this existing rootfs instead of making one")
    p.add_argument("--rootless", action="store_true", help="start from `runc spec --rootless`")
    p.add_argument("--rootfs-only", action="store_true", help="build only a rootfs at DEST")
    argv = sys.argv[1:] if argv is None else list(argv)
    # Split at `--` ourselves: argparse cannot take options between DEST and a trailing command.
    args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, args = argv[:i], argv[i + 1:]
    a = p.parse_args(argv)
    try:
        if a.rootfs_only:
            out = make_rootfs(a.dest)
        else:
            out = make_bundle(a.dest, args or ["sh"], terminal=a.terminal, rootfs=a.rootfs,
                              readonly=a.readonly or None, rootless=a.rootless)
    except (OSError, BusyboxError) as e:
        print(f"bundles.busybox: {e}", file=sys.stderr)
        return 1
    print(out.absolute())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

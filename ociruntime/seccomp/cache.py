"""A content-addressed cache of compiled programs, as crun keeps in <state root>/.cache/seccomp.

libseccomp needs ~20 ms to build podman's default profile for x86_64+x86+x32, and `create` pays
it for every container; the profile rarely changes. The key covers everything that shapes the
program: the profile (canonical JSON), libseccomp's and pyoci's versions and the kernel.
The directory must be private to root (the runtime's state root): a planted entry becomes a
container's filter, so entries are trusted only from a 0700 directory owned by us.
"""

from __future__ import annotations

import os

MAGIC = b"pyoci-seccomp-v1\n"
MAX_ENTRIES = 64


def _sha256():
    # The builtin module: hashlib would load OpenSSL's _hashlib first (~3 ms on this machine).
    try:
        from _sha256 import sha256          # Python 3.11
    except ImportError:
        try:
            from _sha2 import sha256        # Python 3.12+
        except ImportError:
            from hashlib import sha256
    return sha256


def key(seccomp: dict, libseccomp_version: str) -> str:
    import json

    from .. import __version__

    u = os.uname()
    doc = json.dumps([__version__, libseccomp_version, u.release, u.machine, seccomp],
                     sort_keys=True, separators=(",", ":"))
    return _sha256()(doc.encode()).hexdigest()


def _trusted_dir(cache_dir: str, create: bool) -> bool:
    try:
        if create:
            os.makedirs(cache_dir, 0o700, exist_ok=True)
        st = os.lstat(cache_dir)
    except OSError:
        return False
    return (st.st_mode & 0o170077) == 0o040000 and st.st_uid == os.geteuid()


def get(cache_dir: str, k: str) -> tuple[bytes, str] | None:
    """(program, warning text) or None."""
    if not _trusted_dir(cache_dir, create=False):
        return None
    try:
        with open(os.path.join(cache_dir, k), "rb") as f:
            data = f.read()
        os.utime(os.path.join(cache_dir, k))        # eviction drops the least recently used
    except OSError:
        return None
    if not data.startswith(MAGIC):
        return None
    warning, sep, program = data[len(MAGIC):].partition(b"\n")
    if not sep or len(program) % 8 or not program:
        return None
    return program, warning.decode()


def put(cache_dir: str, k: str, program: bytes, warning: str) -> None:
    """Best effort: a cache that cannot be written only costs time."""
    if not _trusted_dir(cache_dir, create=True):
        return
    tmp = os.path.join(cache_dir, f".{k}.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, MAGIC + warning.replace("\n", " ").encode() + b"\n" + program)
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(cache_dir, k))
        _evict(cache_dir)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _evict(cache_dir: str) -> None:
    """Keep the directory small: past MAX_ENTRIES, drop the least recently used half."""
    with os.scandir(cache_dir) as it:
        entries = [e for e in it if not e.name.startswith(".")]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    for e in entries[: len(entries) // 2]:
        try:
            os.unlink(e.path)
        except OSError:
            pass

"""The compat test image: a busybox-static rootfs packed as an OCI image archive.

Built locally (no registry is reachable): the rootfs comes from `bundles.busybox.make_rootfs`
(the project's builder), plus what the scenarios need: a named user with a group for
`--user NAME`, and a non-executable file for exit code 126.
The same archive is loaded into podman (`podman load`) and containerd (`ctr images import`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

from bundles.busybox import make_rootfs as make_busybox_rootfs

# A full reference, so both clients keep it as is (no "import-<date>" / "localhost/" guessing).
IMAGE_REF = "localhost/pyoci-compat/busybox:latest"
NOEXEC = "/noexec.sh"  # mode 0644: running it must give "permission denied" -> podman 126
PASSWD = {
    "root": "root:x:0:0:root:/root:/bin/sh",
    "tester": "tester:x:1000:1000:tester:/home/tester:/bin/sh",
    "nobody": "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
}
GROUP = {"root": "root:x:0:", "tester": "tester:x:1000:", "nogroup": "nogroup:x:65534:"}
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def make_rootfs(dest: Path) -> Path:
    make_busybox_rootfs(dest)
    _add_extras(dest)
    return dest


def _merge_db(path: Path, entries: dict[str, str]) -> None:
    lines = path.read_text().splitlines() if path.exists() else []
    have = {line.split(":", 1)[0] for line in lines if line}
    lines += [line for name, line in entries.items() if name not in have]
    path.write_text("\n".join(lines) + "\n")


def _add_extras(dest: Path) -> None:
    (dest / "etc").mkdir(exist_ok=True)
    _merge_db(dest / "etc/passwd", PASSWD)
    _merge_db(dest / "etc/group", GROUP)
    (dest / "home/tester").mkdir(parents=True, exist_ok=True)
    os.chown(dest / "home/tester", 1000, 1000)
    noexec = dest / NOEXEC.lstrip("/")
    noexec.write_text("#!/bin/sh\necho should not run\n")
    os.chmod(noexec, 0o644)


def _layer(rootfs: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, name)
                info = tar.gettarinfo(full, arcname=os.path.relpath(full, rootfs))
                info.mtime = 0
                info.uname = info.gname = ""
                if info.isfile():
                    with open(full, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def write_oci_archive(rootfs: Path, archive: Path, ref: str = IMAGE_REF) -> Path:
    """An OCI image-layout tarball (one gzip layer), for `podman load` and `ctr images import`."""
    raw = _layer(rootfs)
    layer = gzip.compress(raw, mtime=0)
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "history": [{"created_by": "pyoci tests/compat/image.py"}],
    }
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   **blob(json.dumps(config).encode())},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob(layer)}],
    }
    index = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       **blob(json.dumps(manifest).encode()),
                       "platform": {"architecture": "amd64", "os": "linux"},
                       "annotations": {"org.opencontainers.image.ref.name": ref}}],
    }
    files = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
             "index.json": json.dumps(index).encode()}
    files.update({f"blobs/sha256/{d.split(':', 1)[1]}": data for d, data in blobs.items()})
    with tarfile.open(archive, "w") as tar:
        for name in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return archive

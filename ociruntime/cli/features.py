"""pyoci features: the features document (features.md, features-linux.md) of what pyoci applies.

Built from the tables the code itself uses (mount options, capabilities, namespaces, seccomp),
so it cannot drift from them. Honest by construction: a field pyoci refuses at create (Unsupported,
e.g. linux.intelRdt) is reported as not supported. As the spec asks, it describes pyoci, not the
host: seccomp's lists are libseccomp's and the kernel's only where they limit what pyoci can do.
"""

from __future__ import annotations

import sys

HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def document() -> dict:
    from .. import SPEC_VERSION, __version__, capabilities, namespaces, seccomp
    from ..rootfs import mounts

    options = set(mounts.FLAGS) | set(mounts.PROPAGATION) | set(mounts.RECURSIVE) | set(mounts.EXTENSIONS)
    from ..seccomp import features as seccomp_features

    try:
        sec = seccomp_features()
    except OSError:
        sec = {"enabled": False}
    annotations = {"pyoci.version": __version__,
                   "pyoci.checkpoint.enabled": "false"}
    version = seccomp.libseccomp_version()
    if version:
        annotations["io.github.seccomp.libseccomp.version"] = version
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": list(HOOKS),
        "mountOptions": sorted(options),
        "linux": {
            "namespaces": sorted(namespaces.FLAGS),
            "capabilities": list(capabilities.NAMES),
            "cgroup": {
                "v1": True,
                "v2": True,
                # --systemd-cgroup is accepted, but only its path convention is honoured (the
                # cgroups go where systemd would put them): there is no systemd cgroup driver.
                "systemd": False,
                "systemdUser": False,
                "rdma": True,
            },
            "seccomp": sec,
            "apparmor": {"enabled": True},
            # process.selinuxLabel is applied, but linux.mountLabel is refused at create: a
            # caller that sees SELinux "supported" would rightly expect both.
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": True}},
            "netDevices": {"enabled": True},
        },
        "potentiallyUnsafeConfigAnnotations": [],
        "annotations": annotations,
    }


def features(g: dict) -> None:
    from .. import jsonio

    sys.stdout.write(jsonio.dumps(document(), indent=4) + "\n")

#!/bin/bash
# Run pyoci's whole test suite on a Debian 12 machine, as root, from nothing:
# installs pyoci (./install.sh), the packages the tests drive (podman, containerd, ...), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

./install.sh --no-demo

pkgs=(podman conmon containerd tini runc crun busybox-static iproute2 hyperfine strace time)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# PID 1 on these machines does not reap orphans: run everything under a subreaper.
exec tini -s -- /opt/pyoci/bin/python3 -m pytest -p no:cacheprovider "$@" tests

#!/bin/bash
# Install pyoci on Debian 12 (as root) and run a first container from a bundle built here.
#   ./install.sh            install, then run the demo container
#   ./install.sh --no-demo  install only (tests/run.sh uses this)
# pyoci lives in its own venv (/opt/pyoci) made from Debian's /usr/bin/python3: the console
# script's shebang is then an absolute path (podman's cleanup calls the runtime with no PATH),
# and start-up does not pay for .pth files of other Pythons on the machine.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${PYOCI_VENV:-/opt/pyoci}

need=()
[ -x /usr/bin/python3 ] || need+=(python3)
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' || need+=(busybox-static)
[ -e /usr/lib/x86_64-linux-gnu/libseccomp.so.2 ] || [ -e /lib/x86_64-linux-gnu/libseccomp.so.2 ] || need+=(libseccomp2)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

[ -x "$VENV/bin/python3" ] || /usr/bin/python3 -m venv "$VENV"
"$VENV/bin/python3" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
# compat editable mode: a plain path entry, no import hook on every start-up.
PYTHONWARNINGS=ignore "$VENV/bin/python3" -m pip install -q --disable-pip-version-check \
    -e ".[test]" --config-settings editable_mode=compat
# Byte-compile now: callers may run us with PYTHONDONTWRITEBYTECODE=1 (this machine's default),
# and then every start-up would compile every module again (~1 ms each).
"$VENV/bin/python3" -m compileall -q -j 0 ociruntime bundles >/dev/null || true
# pip's console script, rewritten to start without the site module (see ociruntime/launcher.py).
"$VENV/bin/python3" -m ociruntime.launcher "$VENV/bin/pyoci"
ln -sf "$VENV/bin/pyoci" /usr/local/bin/pyoci

if [ "${1:-}" != "--no-demo" ]; then
    demo=$(mktemp -d /tmp/pyoci-demo.XXXXXX)
    "$VENV/bin/python3" -m bundles.busybox "$demo" -- echo "hello from a pyoci container"
    pyoci run --bundle "$demo" "demo-$$"
    rm -rf "$demo"
fi

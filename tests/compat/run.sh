#!/bin/sh
# Run the client compat suite (podman + containerd driving a runc-compatible runtime).
#   tests/compat/run.sh                                     runtime: $(command -v pyoci)
#   PYOCI_COMPAT_RUNTIME=/usr/bin/runc tests/compat/run.sh  prove the harness with runc
#   tests/compat/run.sh -k ctr -x                           extra pytest arguments
# No `tini -s` wrapper is needed: the pytest process makes itself the child subreaper and
# reaps conmon/shim orphans between tests (see conftest.py for why).
set -eu
cd "$(dirname "$0")/../.."
PY=${PYOCI_PYTHON:-/opt/pyoci/bin/python}
[ -x "$PY" ] || PY=python3
exec "$PY" -m pytest -m compat -p no:cacheprovider --durations=15 tests/compat "$@"

#!/bin/sh
# pyoci vs runc vs crun, same run, same bundle; prints a markdown table (see README.md).
#   sudo benchmarks/run.sh                 the full run (~10 minutes)
#   sudo benchmarks/run.sh --quick         a smoke test of every row (not a measurement)
#   sudo benchmarks/run.sh --only run,state --out /tmp/bench
set -eu
cd "$(dirname "$0")/.."
PY=${PYOCI_PYTHON:-/opt/pyoci/bin/python3}
[ -x "$PY" ] || PY=python3
# As install.sh: byte-compile first, since PYTHONDONTWRITEBYTECODE=1 callers would otherwise
# pay the compilation of every module on every start-up.
"$PY" -m compileall -q -j 0 ociruntime bundles benchmarks tests/compat >/dev/null || true
exec "$PY" -m benchmarks "$@"

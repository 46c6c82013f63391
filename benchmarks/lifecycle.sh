#!/bin/bash
# One container lifecycle, the same for every runtime: create, start, wait for exit, delete.
#   lifecycle.sh RUNTIME ROOT BUNDLE ID FIFO
# RUNTIME is a runc-compatible binary; ROOT its --root; FIFO a named pipe nobody writes to (the
# pid file goes next to it).
#
# "Wait for exit" is what conmon and containerd's shim do as the container's subreaper, not a
# `state` poll (which would cost one more runtime invocation per poll and so penalise the slow
# runtime twice): read the init's /proc/PID/stat until it is a zombie (Z) or gone. Between two
# reads, `read -t` on a fifo nobody writes sleeps 0.2 ms in a bash builtin (no fork), so the
# wait neither spins a core (20 of these run at once on 2 cores) nor adds more than ~0.3 ms.
# The benchmark driver is a child subreaper that reaps the zombies between measurements.
set -e
rt=$1 root=$2 bundle=$3 id=$4 fifo=$5
pidfile=${fifo%/*}/$id.pid
"$rt" --root "$root" create --bundle "$bundle" --pid-file "$pidfile" "$id"
read -r pid < "$pidfile" || [ -n "$pid" ]  # no newline at the end of a pid file
"$rt" --root "$root" start "$id"
exec 3<>"$fifo"
while read -r stat 2>/dev/null < "/proc/$pid/stat"; do
    stat=${stat##*) }
    [ "${stat%% *}" = Z ] && break
    read -r -t 0.0002 -u 3 _ || true
done
exec 3>&-
"$rt" --root "$root" delete "$id"
rm -f "$pidfile"

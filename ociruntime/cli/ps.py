"""pyoci ps: the container's processes. `--format json` prints the host pids as a JSON array
(containerd's `ctr task ps`); `table` runs ps(1) with the given options (default -ef) and keeps
the header and the lines whose PID column belongs to the container (runc ps.go)."""

from __future__ import annotations

import sys


def ps(g: dict, container_id: str, format: str = "table", ps_options: tuple[str, ...] = ()) -> int | None:
    from .. import cgroups
    from ..errors import PyociError, UsageError
    from ..state import StateStore

    if format not in ("table", "json"):
        raise UsageError("invalid format option")
    cdir = StateStore(g.get("root")).open(container_id)
    st = cdir.read()
    pids = sorted(cgroups.reopen(st.cgroup).pids()) if st.cgroup else []
    if format == "json":
        sys.stdout.write("[" + ",".join(map(str, pids)) + "]\n")
        return 0
    import subprocess

    args = list(ps_options) or ["-ef"]
    p = subprocess.run(["ps", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        raise PyociError(f"ps {' '.join(args)}: exit status {p.returncode}: {out.strip()}")
    lines = out.split("\n")
    header = lines[0].split()
    if "PID" not in header:
        raise PyociError("couldn't find PID field in ps output")
    col = header.index("PID")
    keep = set(pids)
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if not fields:
            continue
        try:
            pid = int(fields[col])
        except (ValueError, IndexError):
            raise PyociError(f"unable to parse pid: {line!r}") from None
        if pid in keep:
            print(line)
    return 0

"""pyoci list: the containers under --root, in runc's columns or as JSON."""

from __future__ import annotations

import sys


def list_(g: dict, format: str, quiet: bool) -> None:
    from .. import jsonio
    from ..container import state_json
    from ..errors import ContainerNotFound, PyociError
    from ..state import StateStore

    if format not in ("table", "json"):
        raise PyociError(f"invalid format option: {format!r} (table or json)")
    states = []
    for cid in StateStore(g.get("root")).ids():
        try:
            states.append(state_json(g, cid))
        except ContainerNotFound:
            continue  # deleted while we looked
    if quiet:
        sys.stdout.write("".join(s["id"] + "\n" for s in states))
    elif format == "json":
        sys.stdout.write(jsonio.dumps(states) + "\n")
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"] or "root")
                 for s in states]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            sys.stdout.write("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")

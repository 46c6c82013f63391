"""Import time of each pyoci command, from `python -X importtime`.

Each command runs for real (create, start, state, exec, kill, delete of one container, then a
`run`), so the lazy imports inside functions and those of the forked stage-1 and init processes
(which inherit the setting and write to the same stderr) are counted too. For each command:
the sum of the top-level lines' cumulative times, split into what the interpreter imports before
any pyoci code runs (encodings, and site with its .pth hooks unless the script runs with -S: the
modules the console script's own first lines import) and what pyoci imports; and the heaviest
modules by their own ("self") time. Medians over the samples.
-X importtime itself slows imports down a little; compare commands with each other, and see
benchmarks/README.md for wall-clock measurements of the same imports.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from pathlib import Path

from .procs import wait_dead

COMMANDS = ("create", "start", "state", "exec", "kill", "delete", "run")


def parse(text: str) -> list[tuple[int, int, int, str]]:
    """[(self µs, cumulative µs, depth, module)] from -X importtime output."""
    out = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3:
            continue
        field = parts[2][1:]
        name = field.lstrip(" ")
        out.append((int(parts[0]), int(parts[1]), (len(field) - len(name)) // 2, name.strip()))
    return out


def interpreter(script: str) -> list[str]:
    """The interpreter of a console script with its shebang flags, e.g.
    ["/opt/pyoci/bin/python3", "-IS"] (ociruntime/launcher.py writes that one)."""
    with open(os.path.realpath(script), "rb") as f:
        first = f.readline().decode().strip()
    return first[2:].split() if first.startswith("#!") else ["python3"]


def prelude(script: str) -> str:
    """The console script up to its first line naming ociruntime: the shebang and the sys.path set-up
    a launcher script does, i.e. the start-up of every pyoci command without pyoci."""
    out = []
    with open(os.path.realpath(script)) as f:
        for line in f:
            if "ociruntime" in line and not line.lstrip().startswith("#"):
                break
            out.append(line)
    return "".join(out)


def write_script(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _summary(lines, startup: set[str]) -> dict:
    top = [entry for entry in lines if entry[2] == 0]
    total = sum(c for _s, c, _d, _n in top)
    boot = sum(c for _s, c, _d, n in top if n in startup)
    return {"total": total, "startup": boot, "pyoci": total - boot, "modules": len(lines),
            "self": {n: s for s, _c, _d, n in lines}}


def measure(pyoci: str, tmp: Path, true_bundle: str, sleep_bundle: str, *, samples: int,
            has_exec: bool, reap) -> dict:
    py = interpreter(pyoci)
    # -X importtime on the command line: a launcher started with -I ignores PYTHONPROFILEIMPORTTIME.
    base = write_script(tmp / "prelude.py", prelude(pyoci))
    base_runs = []
    for _ in range(samples):
        p = subprocess.run([*py, "-X", "importtime", base], capture_output=True, text=True)
        base_runs.append(parse(p.stderr))
    startup = {n for run in base_runs for _s, _c, d, n in run if d == 0}
    per_cmd: dict[str, list[dict]] = {c: [] for c in COMMANDS}
    errors: dict[str, str] = {}
    root = str(tmp / "root-imports")
    for k in range(samples):
        cid = f"imp{os.getpid()}-{k}"
        pidfile = tmp / f"{cid}.pid"
        steps = [("create", ["create", "--bundle", sleep_bundle, "--pid-file", str(pidfile), cid]),
                 ("start", ["start", cid]), ("state", ["state", cid]),
                 ("exec", ["exec", cid, "true"]), ("kill", ["kill", cid, "KILL"]),
                 ("delete", ["delete", cid]), ("run", ["run", "--bundle", true_bundle, cid + "r"])]
        for name, args in steps:
            if name == "exec" and not has_exec:
                errors[name] = "no `pyoci exec` in git yet"
                continue
            if name == "delete":
                _wait_dead(pidfile)
            err = tmp / "importtime.err"
            with open(err, "w") as f:  # a file, not a pipe: the created container holds stderr
                p = subprocess.run([*py, "-X", "importtime", pyoci, "--root", root, *args],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f)
            reap()
            text = err.read_text(errors="replace")
            if p.returncode != 0:
                errors[name] = f"exit {p.returncode}: " + " ".join(
                    line for line in text.splitlines() if not line.startswith("import time"))[-120:]
                continue
            per_cmd[name].append(_summary(parse(text), startup))
        subprocess.run([pyoci, "--root", root, "delete", "--force", cid], capture_output=True)
        reap()
    return {"python": " ".join(py), "baseline": [_summary(r, startup) for r in base_runs],
            "commands": per_cmd, "errors": errors}


def _wait_dead(pidfile: Path, timeout: float = 10) -> None:
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return
    wait_dead(pid, timeout)


def _med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs) / 1000


def heaviest(runs: list[dict], n: int = 4) -> list[tuple[str, float]]:
    names = set().union(*(r["self"] for r in runs)) if runs else set()
    med = {m: statistics.median(r["self"].get(m, 0) for r in runs) / 1000 for m in names}
    return sorted(med.items(), key=lambda kv: -kv[1])[:n]


def render(res: dict) -> str:
    base = res["baseline"]
    lines = [
        (f"Import time of each pyoci command (`-X importtime`, medians; interpreter `{res['python']}`; "
         f"its start-up alone, without pyoci, imports {_med(base, 'total'):.1f} ms):"),
        "",
        ("| command | imports, sum of top level | of which start-up (encodings, site if any) "
        "| of which pyoci's | modules | heaviest modules (self time) |"),
        "|---|---|---|---|---|---|",
    ]
    for cmd, runs in res["commands"].items():
        if not runs:
            lines.append(f"| `{cmd}` | {res['errors'].get(cmd, '–')} | | | | |")
            continue
        heavy = ", ".join(f"{m} {ms:.1f}" for m, ms in heaviest(runs))
        lines.append(f"| `{cmd}` | {_med(runs, 'total'):.1f} ms | {_med(runs, 'startup'):.1f} ms "
                     f"| {_med(runs, 'pyoci'):.1f} ms | {statistics.median(r['modules'] for r in runs):.0f} "
                     f"| {heavy} |")
    return "\n".join(lines)

"""`python3 -m conformance --runtime pyoci|runc|crun|PATH [--filter SUBSTR] [--compare]`.

Prints TAP (one line per case, `# ` diagnostics), then `N passed, M failed[, K skipped]`; exits 1
if a MUST case failed. `--compare` runs every installed runtime among pyoci, runc and crun and
prints a markdown table instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from . import harness, host
from .harness import CASES, MUST, RUNTIMES, Ctx, Fail, Skip


def load_cases() -> None:
    from . import cases  # noqa: F401  (registers every case)


def select(filt: str | None) -> list[harness.Case]:
    if not filt:
        return list(CASES)
    exact = [c for c in CASES if c.id == filt]
    if exact:
        return exact
    f = filt.lower()
    return [c for c in CASES if f in c.id.lower() or f in c.name.lower()]


def version_line(rt: harness.Runtime) -> str:
    import subprocess
    try:
        p = subprocess.run([*rt.argv, "--version"], capture_output=True, text=True, timeout=10, check=False)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001  (a runtime that cannot print its version is reported)
        return f"--version failed: {e}"


def preflight(rt: harness.Runtime, workdir: str) -> list[str]:
    """Run `true` once; on failure say why, and what host set-up a runtime is known to need."""
    probe = harness.Case("preflight", "-", "-", MUST, "preflight", "", None, {})
    ctx = Ctx(rt, probe, workdir)
    try:
        r = ctx.run(ctx.bundle(), timeout=20)
        if r.rc == 0:
            return []
        msgs = [f"preflight: a minimal busybox container fails: {r.brief()}"]
    except Fail as e:
        msgs = [f"preflight: {e}"]
    finally:
        ctx.cleanup()
    v2 = host.hybrid_v2_controllers()
    if v2:
        msgs.append(f"host: hybrid cgroups with controllers on the v2 hierarchy ({' '.join(v2)}); crun "
                    "refuses such hosts. To let it run, move them to v1, e.g. `mkdir -p /sys/fs/cgroup/"
                    "hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb` (undo: umount, "
                    "rmdir). The suite reports this and does not change the host.")
    return msgs


def run_case(rt: harness.Runtime, c: harness.Case, workdir: str) -> tuple[str, list[str]]:
    ctx = Ctx(rt, c, workdir)
    try:
        c.fn(ctx)
        verdict, diag = "pass", ctx.diag
    except Fail as e:
        verdict, diag = "fail", [str(e), *ctx.diag]
    except Skip as e:
        verdict, diag = "skip", [str(e)]
    except Exception as e:  # noqa: BLE001  (a bug in one case must not stop the run)
        verdict, diag = "fail", [f"suite error: {type(e).__name__}: {e}"]
    finally:
        ctx.cleanup()
    return verdict, diag


def run_all(rt: harness.Runtime, cases: list[harness.Case], out=sys.stdout) -> dict[str, tuple[str, list[str]]]:
    """Run `cases` against `rt`, printing TAP to `out`; returns {case id: (verdict, diagnostics)}."""
    results = {}
    with tempfile.TemporaryDirectory(prefix=f"conformance-{rt.name}-") as workdir:
        os.chmod(workdir, 0o755)
        print(f"# runtime: {rt.name} ({' '.join(rt.argv)}): {version_line(rt)}", file=out)
        for msg in preflight(rt, workdir):
            print(f"# {msg}", file=out)
        print(f"1..{len(cases)}", file=out, flush=True)
        for n, c in enumerate(cases, 1):
            verdict, diag = run_case(rt, c, workdir)
            results[c.id] = (verdict, diag)
            line = f"{'not ok' if verdict == 'fail' else 'ok'} {n} - {c.name}"
            if verdict == "skip":
                line += f" # SKIP {diag[0] if diag else ''}"
                diag = []
            print(line, file=out)
            if verdict == "fail" and rt.name in c.notes:
                diag = [*diag, f"known: {c.notes[rt.name]}"]
            for d in diag:
                for dl in str(d).splitlines():
                    print(f"# {dl}", file=out)
            out.flush()
    return results


def summary(results: dict[str, tuple[str, list[str]]]) -> str:
    counts = {v: sum(1 for r in results.values() if r[0] == v) for v in ("pass", "fail", "skip")}
    line = f"{counts['pass']} passed, {counts['fail']} failed"
    return line + (f", {counts['skip']} skipped" if counts["skip"] else "")


def must_failed(results, cases) -> bool:
    levels = {c.id: c.level for c in cases}
    return any(v == "fail" and levels[cid] == MUST for cid, (v, _) in results.items())


def compare(cases: list[harness.Case]) -> int:
    table: dict[str, dict[str, tuple[str, list[str]]]] = {}
    for name in RUNTIMES:
        rt = harness.resolve_runtime(name)
        if rt is None:
            print(f"# {name}: not installed", file=sys.stderr)
            continue
        t0 = time.monotonic()
        table[name] = run_all(rt, cases, out=sys.stderr)
        print(f"# {name}: {summary(table[name])} in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    print(render_table(cases, table))
    return 0


CELL = {"pass": "pass", "fail": "**FAIL**", "skip": "skip"}


def render_table(cases: list[harness.Case], table: dict) -> str:
    cols = [n for n in RUNTIMES]
    lines = ["| case | level | " + " | ".join(cols) + " | notes |",
             "|---|---|" + "---|" * len(cols) + "---|"]
    for c in cases:
        cells = []
        for n in cols:
            v = table.get(n, {}).get(c.id)
            cells.append(CELL[v[0]] if v else "n/a")
        notes = "; ".join(f"{n}: {c.notes[n]}" for n in cols if n in c.notes and
                          table.get(n, {}).get(c.id, ("",))[0] == "fail")
        lines.append(f"| {c.spec}/{c.section}: {c.title} | {c.level} | " + " | ".join(cells) +
                     f" | {notes} |")
    lines.append("| **total** | | " + " | ".join(summary(table[n]) if n in table else "not installed"
                                                for n in cols) + " | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m conformance", description=__doc__.splitlines()[0])
    ap.add_argument("--runtime", default="pyoci", help="pyoci, runc, crun or a path to a runtime binary")
    ap.add_argument("--filter", help="run only the case with this id, or the cases whose id or name "
                    "contains it (case-insensitive)")
    ap.add_argument("--compare", action="store_true", help="run pyoci, runc and crun; print a markdown table")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args(argv)
    load_cases()
    cases = select(args.filter)
    if args.list:
        for c in cases:
            print(f"{c.id}\t{c.name}\n\t{c.quote}")
        return 0
    if os.geteuid() != 0:
        print("1..0 # SKIP the conformance suite needs root (namespaces, cgroups, mounts)")
        return 0
    harness.become_subreaper()
    if args.compare:
        return compare(cases)
    rt = harness.resolve_runtime(args.runtime)
    if rt is None:
        print(f"conformance: runtime {args.runtime!r} not found", file=sys.stderr)
        return 2
    results = run_all(rt, cases)
    print(summary(results))
    return 1 if must_failed(results, cases) else 0


if __name__ == "__main__":
    sys.exit(main())

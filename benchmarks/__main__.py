"""pyoci vs runc vs crun, in one run, on one bundle: `sudo benchmarks/run.sh` (see README.md).

Prints a markdown table of medians and pyoci/runc ratios (the targets of issue 7 are shown next
to them, never asserted), then pyoci's import times. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import hostlayout, importtime
from .procs import wait_dead

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
LIFECYCLE = HERE / "lifecycle.sh"
SEQUENTIAL = HERE / "sequential.sh"
# crun 1.8.1 rejects ociVersion 1.2.0 and later ("unknown version specified"); 1.1.0 is the
# newest version all three accept, so the one bundle every runtime runs declares it.
OCI_VERSION = "1.1.0"
RUNTIMES = ("pyoci", "runc", "crun")
BLOB_CACHE = Path("/var/lib/containers/cache")  # as tests/compat/conftest.py
BLOB_CACHE_EXISTED = (BLOB_CACHE.exists(), BLOB_CACHE.parent.exists())

# issue 7, item 3: pyoci/runc ratio of medians, at most this.
TARGETS = {"run": 1.2, "lifecycle": 1.0, "state": 1.0, "exec": 1.0, "podman": 1.05, "rss": 1.0}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def find_runtimes() -> dict[str, str | None]:
    found = {"pyoci": shutil.which("pyoci") or ("/opt/pyoci/bin/pyoci"
                                                if os.access("/opt/pyoci/bin/pyoci", os.X_OK) else None)}
    for name in ("runc", "crun"):
        found[name] = shutil.which(name)
    return found


class Row:
    """One line of the table: a value per runtime (seconds, or KB for memory), or a reason."""

    def __init__(self, key: str, title: str, unit: str = "ms", target: str | None = None) -> None:
        self.key, self.title, self.unit, self.target = key, title, unit, target
        self.values: dict[str, float] = {}
        self.samples: dict[str, list[float]] = {}
        self.notes: dict[str, str] = {}  # runtime -> why there is no value, or an extra remark
        self.layout = ""

    def cell(self, rt: str) -> str:
        if rt in self.values:
            v = self.values[rt]
            text = {"ms": f"{v * 1000:.1f} ms", "s": f"{v:.2f} s", "KB": f"{v / 1024:.1f} MB"}[self.unit]
            extra = self.notes.get(rt)
            return f"{text} ({extra})" if extra else text
        return self.notes.get(rt, "–")

    def ratio(self) -> float | None:
        if "pyoci" in self.values and self.values.get("runc"):
            return self.values["pyoci"] / self.values["runc"]
        return None


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.rounds = args.rounds
        self.rt = find_runtimes()
        self.tmp = Path(tempfile.mkdtemp(prefix="pyoci-bench-", dir="/tmp"))
        os.chmod(self.tmp, 0o755)
        self.fifo = self.tmp / "wait.fifo"
        os.mkfifo(self.fifo)
        self.tag = f"bench{os.getpid()}"
        self.rows: list[Row] = []
        self.running: dict[str, str] = {}  # runtime -> id of the long-running container
        self.podman = None
        self.failures: list[str] = []
        self.refused: dict[str, str] = {}  # runtime -> why it is in no row

    # --- plumbing ------------------------------------------------------------------------------

    def root(self, rt: str) -> str:
        return str(self.tmp / f"root-{rt}")

    def cid(self, rt: str, what: str) -> str:
        return f"{self.tag}-{rt}-{what}"

    def make_bundles(self) -> None:
        sys.path.insert(0, str(REPO))
        from bundles.busybox import make_bundle

        # One private rootfs per bundle, built by the project's builder; config.json is
        # `runc spec`'s default with the args, and the ociVersion every runtime here accepts.
        self.true_bundle = str(make_bundle(self.tmp / "bundle-true", ["true"], ociVersion=OCI_VERSION))
        self.sleep_bundle = str(make_bundle(self.tmp / "bundle-sleep", ["sleep", "1000000"],
                                            ociVersion=OCI_VERSION))

    def reap(self) -> None:
        """Reap orphaned container inits and conmons (we are their subreaper); only called when
        no subprocess of ours is in flight, so no exit status anyone waits for is stolen."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def sh(self, argv: list[str], env=None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run to completion; output through files, not pipes: a container created by the command
        inherits its stdio, and a pipe would stay open as long as the container lives."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                               timeout=timeout)
            out.seek(0)
            err.seek(0)
            p.stdout = out.read().decode(errors="replace")
            p.stderr = err.read().decode(errors="replace")
        self.reap()
        return p

    def available(self) -> list[str]:
        return [r for r in RUNTIMES if self.rt[r] and r not in self.refused]

    def preflight(self) -> None:
        """Run the bundle once with each runtime; one this host refuses (crun 1.8.1 on a hybrid host
        with a controller on cgroup2) is left out of every row, the reason said once."""
        for rt in RUNTIMES:
            if not self.rt[rt]:
                self.refused[rt] = "not installed"
                continue
            p = self.sh([self.rt[rt], "--root", self.root(rt), "run", "--bundle", self.true_bundle,
                         self.cid(rt, "preflight")])
            if p.returncode != 0:
                err = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:160]
                self.refused[rt] = "refused by this host"
                self.failures.append(f"{rt} cannot run the bundle on this host, left out of every row: {err}")
                self.delete_all(rt)

    def note_refused(self, row: "Row") -> None:
        for rt, why in self.refused.items():
            row.notes.setdefault(rt, why)

    def check_once(self, row: Row, rt: str, argv: list[str], env=None) -> bool:
        """Run the command once; on failure the cell says why and the runtime is left out."""
        p = self.sh(argv, env=env)
        if p.returncode == 0:
            return True
        err = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:120]
        row.notes[rt] = "failed (see below)"
        self.failures.append(f"{row.title} / {rt}: `{shlex.join(argv)}` exit {p.returncode}: {err}")
        return False

    def hyperfine(self, row: Row, cmds: dict[str, list[str]], runs: int, warmup: int,
                  env=None, rounds: int | None = None) -> None:
        """hyperfine -N, one runtime at a time, `rounds` times in alternating order (the machine's
        load drifts; interleaving spreads it over all runtimes); median of the pooled runs."""
        row.layout = layout_now()
        ok = {rt: argv for rt, argv in cmds.items() if self.check_once(row, rt, argv, env)}
        order = list(ok)
        for r in range(rounds or self.rounds):
            for rt in (order if r % 2 == 0 else order[::-1]):
                if rt not in ok:
                    continue  # failed in an earlier round
                out = self.tmp / f"{row.key}-{rt}-{r}.json"
                argv = ["hyperfine", "-N", "--style", "none", "--warmup", str(warmup),
                        "--runs", str(runs), "--export-json", str(out), "-n", rt, shlex.join(ok[rt])]
                p = self.sh(argv, env=env, timeout=3600)
                if p.returncode != 0:
                    err = (p.stderr.strip().splitlines() or ["?"])[-1][:160]
                    row.notes[rt] = f"failed in round {r + 1} (see below)"
                    self.failures.append(f"{row.title} / {rt}: hyperfine: {err}")
                    row.samples.pop(rt, None)
                    del ok[rt]
                    continue
                times = json.loads(out.read_text())["results"][0]["times"]
                row.samples.setdefault(rt, []).extend(times)
        for rt, t in row.samples.items():
            row.values[rt] = statistics.median(t)
        log(f"{row.title}: " + ", ".join(f"{rt} {row.cell(rt)}" for rt in cmds))

    def delete_all(self, rt: str) -> None:
        root = self.root(rt)
        if not os.path.isdir(root):
            return
        p = self.sh([self.rt[rt], "--root", root, "list", "-q"])
        for cid in p.stdout.split():
            self.sh([self.rt[rt], "--root", root, "delete", "--force", cid])

    # --- rows ----------------------------------------------------------------------------------

    def row_run(self) -> None:
        row = self.add(Row("run", "`run` of `/bin/true`", target="run"))
        self.hyperfine(row, {rt: [self.rt[rt], "--root", self.root(rt), "run", "--bundle",
                                  self.true_bundle, self.cid(rt, "run")] for rt in self.available()},
                       runs=self.args.runs, warmup=3)

    def row_lifecycle(self) -> None:
        row = self.add(Row("lifecycle", "create + start + wait + delete", target="lifecycle"))
        self.hyperfine(row, {rt: self.lifecycle_argv(rt, "lc") for rt in self.available()},
                       runs=self.args.runs, warmup=3)

    def lifecycle_argv(self, rt: str, what: str) -> list[str]:
        return ["bash", str(LIFECYCLE), self.rt[rt], self.root(rt), self.true_bundle,
                self.cid(rt, what), str(self.fifo)]

    def start_running(self) -> None:
        for rt in self.available():
            cid = self.cid(rt, "sleeper")
            root = self.root(rt)
            c = self.sh([self.rt[rt], "--root", root, "create", "--bundle", self.sleep_bundle, cid])
            s = self.sh([self.rt[rt], "--root", root, "start", cid]) if c.returncode == 0 else c
            if s.returncode == 0:
                self.running[rt] = cid
            else:
                self.failures.append(f"running container / {rt}: {s.stderr.strip()[:160]}")
                self.sh([self.rt[rt], "--root", root, "delete", "--force", cid])

    def stop_running(self) -> None:
        for rt, cid in list(self.running.items()):
            self.sh([self.rt[rt], "--root", self.root(rt), "delete", "--force", cid])
            del self.running[rt]

    def row_state(self) -> None:
        row = self.add(Row("state", "`state` of a running container", target="state"))
        cmds = {rt: [self.rt[rt], "--root", self.root(rt), "state", cid] for rt, cid in self.running.items()}
        self.hyperfine(row, cmds, runs=self.args.runs * 2, warmup=5)

    def row_exec(self) -> None:
        row = self.add(Row("exec", "`exec` of `/bin/true` into a running container", target="exec"))
        cmds = {rt: [self.rt[rt], "--root", self.root(rt), "exec", cid, "true"]
                for rt, cid in self.running.items()}
        if "pyoci" in cmds and not pyoci_has_exec():
            row.notes["pyoci"] = "no `pyoci exec` in git yet"
            del cmds["pyoci"]
        self.hyperfine(row, cmds, runs=self.args.runs, warmup=3)

    def row_sequential(self) -> None:
        n = self.args.sequential
        row = self.add(Row("seq", f"{n} containers one after another (total)", unit="s"))
        cmds = {rt: ["bash", str(SEQUENTIAL), self.rt[rt], self.root(rt), self.true_bundle,
                     self.cid(rt, "seq"), str(n)] for rt in self.available()}
        self.hyperfine(row, cmds, runs=1, warmup=0)

    def row_parallel(self) -> None:
        n = self.args.parallel
        row = self.add(Row("par", f"{n} lifecycles at once on {os.cpu_count()} cores (wall)", unit="s"))
        row.layout = layout_now()
        order = self.available()
        for r in range(self.rounds + 2):
            for rt in (order if r % 2 == 0 else order[::-1]):
                procs = []
                errfiles = [tempfile.TemporaryFile() for _ in range(n)]
                t0 = time.monotonic()
                for i in range(n):
                    procs.append(subprocess.Popen(self.lifecycle_argv(rt, f"par{i}"),
                                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                  stderr=errfiles[i]))
                rcs = [p.wait(timeout=600) for p in procs]
                wall = time.monotonic() - t0
                errs = []
                for f, rc in zip(errfiles, rcs):
                    f.seek(0)
                    errs.append((f.read().decode(errors="replace"), rc))
                    f.close()
                self.reap()
                failed = [e for e, rc in errs if rc != 0]
                row.samples.setdefault(rt, []).append(wall)
                row.__dict__.setdefault("failed", {}).setdefault(rt, 0)
                row.failed[rt] += len(failed)
                for e in failed[:2]:
                    self.failures.append(f"{row.title} / {rt} round {r + 1}: "
                                         f"{(e.strip().splitlines() or ['?'])[-1][:160]}")
                if failed:
                    self.delete_all(rt)
        total = (self.rounds + 2) * n
        for rt, t in row.samples.items():
            if row.failed[rt] < total:
                row.values[rt] = statistics.median(t)
            row.notes[rt] = f"{row.failed[rt]}/{total} failed"
        log(f"{row.title}: " + ", ".join(f"{rt} {row.cell(rt)}" for rt in order))

    def row_podman(self) -> None:
        row = self.add(Row("podman", "`podman run --rm` (podman 4.3 + conmon)", target="podman"))
        if not (shutil.which("podman") and shutil.which("conmon")):
            for rt in RUNTIMES:
                row.notes[rt] = "podman/conmon not installed"
            return
        sys.path.insert(0, str(REPO))
        from tests.compat.clients import PodmanSession
        from tests.compat.image import IMAGE_REF, make_rootfs, write_oci_archive

        rootfs = make_rootfs(self.tmp / "image" / "rootfs")
        archive = write_oci_archive(rootfs, self.tmp / "image" / "busybox-oci.tar")
        self.podman = PodmanSession(self.tmp / "podman", self.rt["pyoci"] or "/usr/local/bin/pyoci")
        self.podman.start(archive)
        cmds = {rt: [self.podman.podman, "--runtime", self.rt[rt], "run", "--rm", IMAGE_REF, "true"]
                for rt in self.available()}
        self.hyperfine(row, cmds, runs=max(5, self.args.runs // 2), warmup=2, env=self.podman.env)

    def rows_rss(self) -> None:
        """Peak RSS (`time -v`'s maximum resident set size, i.e. wait4's ru_maxrss: the process
        and the children it waited for) of each runtime command; and of the container's init
        while it blocks on the exec fifo (VmHWM of the --pid-file process before `start`)."""
        cmds = ["create", "start", "state", "exec", "kill", "delete", "run"]
        rows = {c: self.add(Row(f"rss-{c}", f"peak RSS: `{c}`", unit="KB", target="rss")) for c in cmds}
        init_row = self.add(Row("rss-init", "peak RSS: container init waiting on the exec fifo",
                                unit="KB", target="rss"))
        for row in [*rows.values(), init_row]:
            row.layout = layout_now()
        samples: dict[tuple[str, str], list[float]] = {}
        has_exec = pyoci_has_exec()
        for k in range(self.args.rss_samples):
            for rt in self.available():
                root, cid = self.root(rt), self.cid(rt, f"rss{k}")
                exe = self.rt[rt]
                pidfile = str(self.tmp / f"{cid}.pid")
                steps = [("create", [exe, "--root", root, "create", "--bundle", self.sleep_bundle,
                                     "--pid-file", pidfile, cid]),
                         ("init", None),
                         ("start", [exe, "--root", root, "start", cid]),
                         ("state", [exe, "--root", root, "state", cid]),
                         ("exec", [exe, "--root", root, "exec", cid, "true"]),
                         ("kill", [exe, "--root", root, "kill", cid, "KILL"]),
                         ("wait", None),
                         ("delete", [exe, "--root", root, "delete", cid]),
                         ("run", [exe, "--root", root, "run", "--bundle", self.true_bundle, cid + "r"])]
                pid = None
                for name, argv in steps:
                    if name == "init":
                        try:
                            pid = int(Path(pidfile).read_text())
                            samples.setdefault((rt, name), []).append(vm_hwm(pid))
                        except (OSError, ValueError) as e:
                            init_row.notes[rt] = "failed (see below)"
                            self.failures.append(f"{init_row.title} / {rt}: {e}")
                        continue
                    if name == "wait":
                        wait_dead(pid)
                        continue
                    if name == "exec" and rt == "pyoci" and not has_exec:
                        rows["exec"].notes[rt] = "no `pyoci exec` in git yet"
                        continue
                    out = self.tmp / "time.out"
                    p = self.sh(["/usr/bin/time", "-f", "%M", "-o", str(out), *argv])
                    if p.returncode != 0:
                        rows[name].notes[rt] = "failed (see below)"
                        self.failures.append(f"{rows[name].title} / {rt}: "
                                             f"{(p.stderr.strip().splitlines() or ['?'])[-1][:120]}")
                        continue
                    samples.setdefault((rt, name), []).append(float(out.read_text().split()[-1]))
                self.sh([exe, "--root", root, "delete", "--force", cid])
        for (rt, name), vals in samples.items():
            row = init_row if name == "init" else rows[name]
            if not row.notes.get(rt, "").startswith("failed"):
                row.values[rt] = statistics.median(vals)
        log("peak RSS done")

    def add(self, row: Row) -> Row:
        log(f"{row.title} ...")
        self.note_refused(row)
        self.rows.append(row)
        return row

    # --- run it all ----------------------------------------------------------------------------

    def run(self) -> None:
        wanted = self.args.only.split(",") if self.args.only else None

        def want(key: str) -> bool:
            return wanted is None or key in wanted

        self.make_bundles()
        self.preflight()
        if want("run"):
            self.row_run()
        if want("lifecycle"):
            self.row_lifecycle()
        if want("state") or want("exec"):
            self.start_running()
            try:
                if want("state"):
                    self.row_state()
                if want("exec"):
                    self.row_exec()
            finally:
                self.stop_running()
        if want("podman"):
            self.row_podman()
        if want("seq"):
            self.row_sequential()
        if want("par"):
            self.row_parallel()
        if want("rss"):
            self.rows_rss()
        if want("imports") and self.rt["pyoci"]:
            self.imports = importtime.measure(self.rt["pyoci"], self.tmp, self.true_bundle,
                                              self.sleep_bundle, samples=self.args.import_samples,
                                              has_exec=pyoci_has_exec(), reap=self.reap)

    def cleanup(self) -> None:
        self.stop_running()
        for rt in self.available():
            self.delete_all(rt)
        if self.podman is not None:
            self.podman.reset()
            # containers/image writes this on any image copy; remove it if we made it (as the
            # compat suite does).
            if not BLOB_CACHE_EXISTED[0] and BLOB_CACHE.exists():
                shutil.rmtree(BLOB_CACHE, ignore_errors=True)
                if not BLOB_CACHE_EXISTED[1]:
                    try:
                        BLOB_CACHE.parent.rmdir()
                    except OSError:
                        pass
        sys.path.insert(0, str(REPO))
        from tests.compat.harness import mounts_under, unmount_all_under

        left = unmount_all_under(self.tmp)
        if mounts_under(self.tmp):
            log(f"kept {self.tmp}: still mounted {left}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.reap()


def pyoci_has_exec() -> bool:
    """`pyoci exec` exists once its command module is committed (another engineer's work)."""
    p = subprocess.run(["git", "-C", str(REPO), "ls-files", "--error-unmatch", "ociruntime/cli/exec.py"],
                       capture_output=True)
    if p.returncode == 0:
        return True
    # Outside a git checkout (an unpacked release), the file is the answer.
    return not (REPO / ".git").exists() and (REPO / "ociruntime/cli/exec.py").exists()


def vm_hwm(pid: int) -> float:
    """Peak resident set size (KB) of a running process."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    raise ValueError(f"no VmHWM for pid {pid}")


def layout_now() -> str:
    """Where hugetlb is right now (the one thing that differs between the layouts crun needs);
    read again for each row, since other jobs on this machine may move it."""
    kind, _ = hostlayout.describe()
    where = hostlayout.hugetlb_where()
    return f"hybrid, {where}" if kind.startswith("hybrid") else f"{kind}, {where}"


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}"


def versions(rt: dict[str, str | None]) -> str:
    out = []
    for name, path in rt.items():
        if not path:
            out.append(f"{name}: not installed")
            continue
        p = subprocess.run([path, "--version"], capture_output=True, text=True)
        first = (p.stdout or p.stderr).strip().splitlines()
        out.append(f"{name}: {first[0] if first else '?'}")
    if rt.get("pyoci"):
        out[0] += f" ({pyoci_source(rt['pyoci'])})"
    return "; ".join(out)


def pyoci_source(pyoci: str) -> str:
    """Which tree the installed pyoci runs (its console script's sys.path), and that tree's commit."""
    try:
        text = (importtime.prelude(pyoci) + "import ociruntime, os\n"
                "print(os.path.dirname(os.path.dirname(ociruntime.__file__)))\n")
        p = subprocess.run([*importtime.interpreter(pyoci), "-c", text.split("\n", 1)[1]],
                           capture_output=True, text=True, timeout=30)
        tree = p.stdout.strip()
        rev = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", tree, "status", "--porcelain", "--untracked-files=no",
                                "ociruntime"], capture_output=True, text=True, timeout=30).stdout.strip()
        return f"{tree} at git {rev or '?'}{' + uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return "source unknown"


def render(b: Bench, started: str, load_before: str, load_after: str, layout: str) -> str:
    a = b.args
    lines = [
        f"pyoci vs runc vs crun, {started}; {machine()}",
        f"load average (1/5/15 min) before: {load_before}; after: {load_after}",
        f"{versions(b.rt)}",
        f"cgroups: {layout}",
        (f"medians of {b.rounds} interleaved hyperfine rounds (`-N`, {a.runs} runs + warmups per round "
        "and runtime); one busybox bundle for all"),
        "",
        "| benchmark | pyoci | runc | crun | pyoci/runc | target | layout |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in b.rows:
        ratio = row.ratio()
        rtext = f"{ratio:.2f}x" if ratio is not None else "–"
        target = ""
        if row.target:
            limit = TARGETS[row.target]
            verdict = "" if ratio is None else (" met" if ratio <= limit else " **missed**")
            target = f"≤ {limit:.2f}x{verdict}"
        lines.append(f"| {row.title} | {row.cell('pyoci')} | {row.cell('runc')} | {row.cell('crun')} "
                     f"| {rtext} | {target} | {row.layout} |")
    imports = getattr(b, "imports", None)
    if imports:
        lines += ["", importtime.render(imports)]
    if b.failures:
        lines += ["", "Failures:", *[f"- {f}" for f in b.failures]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m benchmarks", description=__doc__)
    p.add_argument("--runs", type=int, default=30, help="hyperfine runs per round and runtime (default 30)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--sequential", type=int, default=100, help="containers in the one-after-another row")
    p.add_argument("--parallel", type=int, default=20, help="lifecycles at once in the parallel row")
    p.add_argument("--rss-samples", type=int, default=5)
    p.add_argument("--import-samples", type=int, default=15)
    p.add_argument("--only", help="comma-separated rows: run,lifecycle,state,exec,podman,seq,par,rss,imports")
    p.add_argument("--quick", action="store_true", help="fewer runs (a smoke test, not a measurement)")
    p.add_argument("--no-hugetlb-move", action="store_true",
                   help="never move hugetlb to v1 (crun then fails on a hybrid host with hugetlb on v2)")
    p.add_argument("--out", help="also write the table (table.md) and raw samples (samples.json) here")
    a = p.parse_args(argv)
    if a.quick:
        a.runs, a.rounds, a.sequential, a.parallel = 5, 1, 10, 5
        a.rss_samples, a.import_samples = 1, 3
    if os.geteuid() != 0:
        print("benchmarks: run as root (containers with cgroups and namespaces)", file=sys.stderr)
        return 2
    if not shutil.which("hyperfine"):
        print("benchmarks: hyperfine is not installed (apt-get install hyperfine)", file=sys.stderr)
        return 2
    # The subreaper of every orphaned container init and conmon: this machine's PID 1 may not reap.
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    load_before = loadavg()
    b = Bench(a)
    with hostlayout.crun_layout(allowed=not a.no_hugetlb_move) as layout:
        log(f"cgroups: {layout}; load {load_before}; work dir {b.tmp}")
        try:
            b.run()
        finally:
            b.cleanup()
    table = render(b, started, load_before, loadavg(), layout)
    print(table)
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "table.md").write_text(table + "\n")
        (out / "samples.json").write_text(json.dumps(
            {r.key: {"title": r.title, "unit": r.unit, "samples": r.samples, "values": r.values,
                     "notes": r.notes} for r in b.rows}, indent=1))
    return 1 if b.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

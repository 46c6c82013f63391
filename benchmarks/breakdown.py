"""Where pyoci's time goes, per command: interpreter start-up, imports, work.

    sudo /opt/pyoci/bin/python3 -m benchmarks.breakdown [--runs 40] [--profile] [--strace DIR]

(hyperfine is not used here: its runs are grouped per command, and the differences this table
takes between commands need the load to be the same for all, hence interleaved rounds.)

Wall-clock medians; every variant runs once per round, round after round, so the load of other
jobs on the machine falls on all variants alike:
- start-up: the console script's own first lines (its shebang's interpreter and flags, its sys.path
  set-up), without importing pyoci; `python3 -c pass` with and without -S for comparison;
- imports: that prelude followed by `import <every module the command imports>`, minus start-up; the list is
  the top-level lines of `-X importtime` for a real run of the command (lazy imports and those of
  forked children included), so the same modules load in the same order, without running pyoci;
- work: the command minus the import run: parsing, syscalls, forks, waiting on children.
Commands that need a container in some state get it from hyperfine's --prepare (not timed).
--profile adds cProfile's heaviest functions of each command (in-process, parent only);
--strace DIR writes `strace -f -ttt --seccomp-bpf` timelines of create and run there, with milestones
(P0 the runtime, P1 stage 1, P2 init).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import importtime
from .__main__ import OCI_VERSION, REPO, find_runtimes, loadavg, log

CMDS = ("state", "exec", "start", "kill", "delete", "create", "run")


class Breakdown:
    def __init__(self, args) -> None:
        self.args = args
        self.pyoci = find_runtimes()["pyoci"]
        if not self.pyoci:
            raise SystemExit("breakdown: pyoci is not installed")
        self.py = importtime.interpreter(self.pyoci)
        self.tmp = Path(tempfile.mkdtemp(prefix="pyoci-breakdown-", dir="/tmp"))
        os.chmod(self.tmp, 0o755)
        self.root = str(self.tmp / "root")
        self.tag = f"bd{os.getpid()}"
        sys.path.insert(0, str(REPO))
        from bundles.busybox import make_bundle

        self.true_bundle = str(make_bundle(self.tmp / "bundle-true", ["true"], ociVersion=OCI_VERSION))
        self.sleep_bundle = str(make_bundle(self.tmp / "bundle-sleep", ["sleep", "1000000"],
                                            ociVersion=OCI_VERSION))

    def reap(self) -> None:
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    return
            except ChildProcessError:
                return

    def pyoci_argv(self, *args: str) -> list[str]:
        return [self.pyoci, "--root", self.root, *args]

    def argv_for(self, cmd: str, cid: str) -> tuple[list[str], str | None]:
        """(the timed command, the untimed --prepare shell line that puts the container in place)."""
        p = shlex.join(self.pyoci_argv())
        reset = f"{p} delete --force {cid} >/dev/null 2>&1; "
        create = f"{p} create --bundle {self.sleep_bundle} --pid-file {self.tmp}/{cid}.pid {cid}; "
        start = f"{p} start {cid}; "
        kill = (f"{p} kill {cid} KILL; read -r pid < {self.tmp}/{cid}.pid || true; "
                f"while read -r s 2>/dev/null < /proc/$pid/stat; do s=${{s##*) }}; "
                f"[ \"${{s%% *}}\" = Z ] && break; done; ")
        return {
            "state": (self.pyoci_argv("state", cid), None),
            "exec": (self.pyoci_argv("exec", cid, "true"), None),
            "start": (self.pyoci_argv("start", cid), reset + create),
            "kill": (self.pyoci_argv("kill", cid, "KILL"), reset + create + start),
            "delete": (self.pyoci_argv("delete", cid), reset + create + start + kill),
            "create": (self.pyoci_argv("create", "--bundle", self.sleep_bundle, cid), reset),
            "run": (self.pyoci_argv("run", "--bundle", self.true_bundle, cid), None),
        }[cmd]

    def modules(self, cmd: str, cid: str) -> list[str]:
        """Top-level imports of a real run of `cmd`, in order, without the start-up ones."""
        argv, prepare = self.argv_for(cmd, cid)
        if prepare:
            subprocess.run(["bash", "-c", prepare], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        err = self.tmp / "imp.err"
        with open(err, "w") as f:  # -X on the command line: a -I launcher ignores PYTHON* variables
            subprocess.run([*self.py, "-X", "importtime", *argv], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=f)
        self.reap()
        names: list[str] = []
        for _s, _c, depth, name in importtime.parse(err.read_text(errors="replace")):
            if depth == 0 and name not in names and name not in self.startup:
                names.append(name)
        return names

    def timed(self, argv: list[str], prepare: str | None) -> float:
        """Wall time of one run of argv (spawned with posix_spawn, stdio to /dev/null)."""
        if prepare:
            subprocess.run(["bash", "-c", prepare], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=self.devnull)
        os.waitpid(pid, 0)
        return time.perf_counter() - t0

    def run(self) -> None:
        a = self.args
        log(f"load {loadavg()}; python {' '.join(self.py)}")
        # The console script's own start-up: its shebang flags and sys.path set-up, no pyoci.
        self.prelude = importtime.prelude(self.pyoci)
        base = importtime.write_script(self.tmp / "prelude.py", self.prelude)
        boot = subprocess.run([*self.py, "-X", "importtime", base], capture_output=True, text=True)
        self.startup = {n for _s, _c, d, n in importtime.parse(boot.stderr) if d == 0}
        self.devnull = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_RDWR, 0) for fd in (0, 1, 2)]
        running = f"{self.tag}-state"
        subprocess.run(["bash", "-c", self.argv_for("kill", running)[1]], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # create + start it
        load0 = loadavg()
        os.chdir(self.tmp)  # `-c "import ..."` puts the cwd first on sys.path: not the repository
        # Every variant is run once per round, rounds interleaved, so that the machine's load
        # (other jobs) drifts over all of them alike; medians per variant.
        exe = self.py[0]
        variants: dict[str, tuple[list[str], str | None]] = {
            "pass": ([*self.py, base], None),
            "plain": ([exe, "-c", "pass"], None),
            "nosite": ([exe, "-S", "-c", "pass"], None),
            "isolated": ([exe, "-I", "-S", "-c", "pass"], None),
        }
        cmds = a.cmds.split(",")
        mods = {}
        try:
            for cmd in cmds:
                cid = running if cmd in ("state", "exec") else f"{self.tag}-{cmd}"
                mods[cmd] = self.modules(cmd, cid)
                variants[cmd] = self.argv_for(cmd, cid)
                script = importtime.write_script(self.tmp / f"import-{cmd}.py", self.prelude
                                                 + "import " + ", ".join(mods[cmd]) + "\n")
                variants[f"import {cmd}"] = ([*self.py, script], None)
            samples: dict[str, list[float]] = {k: [] for k in variants}
            for r in range(a.runs + 3):
                for name, (argv, prepare) in variants.items():
                    t = self.timed(argv, prepare)
                    if r >= 3:  # 3 warmup rounds
                        samples[name].append(t)
                self.reap()
            med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
            self.print_table(med, mods, load0)
            if a.profile:
                for cmd in cmds:
                    self.profile(cmd, running if cmd in ("state", "exec") else f"{self.tag}-{cmd}")
            if a.strace:
                for cmd in ("create", "run"):
                    self.strace(cmd, f"{self.tag}-{cmd}", Path(a.strace))
        finally:
            for cmd in (*CMDS, "state"):
                cid = running if cmd in ("state", "exec") else f"{self.tag}-{cmd}"
                subprocess.run(self.pyoci_argv("delete", "--force", cid), capture_output=True)
            self.reap()
            os.chdir("/")
            shutil.rmtree(self.tmp, ignore_errors=True)

    def print_table(self, med: dict[str, float], mods: dict[str, list[str]], load0: str) -> None:
        t_pass = med["pass"]
        print(f"pyoci's time by command; load {load0} before, {loadavg()} after; medians of "
              f"{self.args.runs} interleaved rounds (after 3 warm-up rounds)\n")
        print(f"start-up: the console script's prelude (`{' '.join(self.py)}`, sys.path set-up, no pyoci "
              f"import) {t_pass:.1f} ms; for comparison `python3 -c pass` {med['plain']:.1f} ms, "
              f"`-S` {med['nosite']:.1f} ms, `-I -S` {med['isolated']:.1f} ms\n")
        print("| command | total | start-up | imports | work | modules imported by pyoci |")
        print("|---|---|---|---|---|---|")
        for cmd, m in mods.items():
            total, t_imp = med[cmd], med[f"import {cmd}"]
            print(f"| `{cmd}` | {total:.1f} ms | {t_pass:.1f} ms | {t_imp - t_pass:.1f} ms "
                  f"| {total - t_imp:.1f} ms | {len(m)} |")
        print()
        for cmd, m in mods.items():
            print(f"- `{cmd}` imports: {' '.join(m)}")
        sys.stdout.flush()

    def profile(self, cmd: str, cid: str, top: int = 14) -> None:
        import pstats

        argv, prepare = self.argv_for(cmd, cid)
        if prepare:
            subprocess.run(["bash", "-c", prepare], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        prof = self.tmp / f"{cmd}.prof"
        with tempfile.TemporaryFile() as out:
            subprocess.run([*self.py, "-m", "cProfile", "-o", str(prof), *argv], stdin=subprocess.DEVNULL,
                           stdout=out, stderr=out)
        self.reap()
        subprocess.run(self.pyoci_argv("delete", "--force", cid), capture_output=True)
        print(f"\n### cProfile of `pyoci {cmd}` (parent process; cumulative, top {top})\n```")
        st = pstats.Stats(str(prof), stream=sys.stdout)
        st.sort_stats("cumulative").print_stats(top)
        st.sort_stats("tottime").print_stats(top)
        print("```")

    def strace(self, cmd: str, cid: str, outdir: Path, runs: int = 9) -> None:
        outdir.mkdir(parents=True, exist_ok=True)
        texts = []
        for k in range(runs):
            trace = outdir / f"{cmd}.{k}.strace"
            self.strace_once(cmd, cid, trace)
            texts.append(trace.read_text(errors="replace"))
        print(f"\n### `pyoci {cmd}` under strace -f -ttt --seccomp-bpf "
              f"(median of {runs}; {outdir}/{cmd}.*.strace)")
        print("```\n" + timeline(texts) + "\n```")

    def strace_once(self, cmd: str, cid: str, trace: Path) -> None:
        argv, prepare = self.argv_for(cmd, cid)
        if cmd == "create":  # a container that exits at once, so that the trace ends after start
            argv = self.pyoci_argv("create", "--bundle", self.true_bundle, cid)
        subprocess.run(self.pyoci_argv("delete", "--force", cid), capture_output=True)
        with tempfile.TemporaryFile() as out:
            # --seccomp-bpf: only the traced syscalls stop the tracee, so the rest runs at speed.
            p = subprocess.Popen(["strace", "-f", "-ttt", "--seccomp-bpf", "-e", "trace=" + TRACED,
                                  "-o", str(trace), *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            if cmd == "create":
                # strace -f follows init, which blocks on the exec fifo until `start`: start it
                # once create has returned, so the trace ends (and shows init's last steps).
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    st = subprocess.run(self.pyoci_argv("state", cid), capture_output=True, text=True)
                    if '"created"' in st.stdout:
                        subprocess.run(self.pyoci_argv("start", cid), capture_output=True)
                        break
                    time.sleep(0.01)
            try:
                p.wait(timeout=60)
            finally:
                if p.poll() is None:
                    p.kill()  # our strace, by its pid
                    p.wait()
        self.reap()
        subprocess.run(self.pyoci_argv("delete", "--force", cid), capture_output=True)

TRACED = ("execve,clone,clone3,openat,mkdir,write,unshare,setns,mount,pivot_root,capset,"
          "sethostname,exit_group")

# (label, test on the syscall line): the first match of each, per process, is a milestone.
MILESTONES = (
    ("interpreter up: first ociruntime module", lambda c, r: c == "openat" and "/ociruntime/" in r),
    ("config.json read", lambda c, r: c == "openat" and "config.json" in r and "O_RDONLY" in r),
    ("state dir made", lambda c, r: c == "mkdir" and "/sys/fs/cgroup" not in r),
    ("cgroups: first mkdir", lambda c, r: c == "mkdir" and "/sys/fs/cgroup" in r),
    ("fork", lambda c, r: c in ("clone", "clone3")),
    ("join cgroup (cgroup.procs)", lambda c, r: c == "openat" and "cgroup.procs" in r and "O_WR" in r),
    ("unshare namespaces", lambda c, r: c == "unshare"),
    ("first mount", lambda c, r: c == "mount"),
    ("pivot_root", lambda c, r: c == "pivot_root"),
    ("sethostname", lambda c, r: c == "sethostname"),
    ("capabilities set (capset)", lambda c, r: c == "capset"),
    ("'ready' sent", lambda c, r: c == "write" and "ready" in r),
    ("exec.fifo opened", lambda c, r: c == "openat" and "exec.fifo" in r),
    ("execve", lambda c, r: c == "execve"),
    ("exit", lambda c, r: c == "exit_group"),
)


def milestones(text: str) -> dict[tuple[str, str], float]:
    """{(process, milestone): ms since the first execve} of one trace; processes are named P0, P1,
    ... in the order they appear (runtime, stage 1, init)."""
    t0 = None
    names: dict[str, str] = {}
    out: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) < 3 or not parts[1][:1].isdigit():
            continue
        pid, ts, rest = parts[0], float(parts[1]), parts[2]
        if rest.startswith(("<...", "+++", "---")):
            continue
        t0 = ts if t0 is None else t0
        call = rest.split("(", 1)[0]
        who = names.setdefault(pid, f"P{len(names)}")
        for label, test in MILESTONES:
            if (who, label) not in out and test(call, rest):
                out[(who, label)] = (ts - t0) * 1000
    return out


def timeline(texts: list[str]) -> str:
    runs = [milestones(t) for t in texts]
    keys = {k for r in runs for k in r}
    med = {k: statistics.median(r[k] for r in runs if k in r) for k in keys}
    return "\n".join(f"{ms:7.1f} ms  {who}  {label}" for (who, label), ms in
                     sorted(med.items(), key=lambda kv: kv[1]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.breakdown", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=40)
    p.add_argument("--cmds", default=",".join(CMDS), help=f"comma-separated, from {','.join(CMDS)}")
    p.add_argument("--profile", action="store_true", help="cProfile each command (in-process)")
    p.add_argument("--strace", metavar="DIR", help="strace -f -ttt create and run into DIR")
    a = p.parse_args(argv)
    if os.geteuid() != 0:
        print("breakdown: run as root", file=sys.stderr)
        return 2
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: reap the inits
    bd = Breakdown(a)
    try:
        bd.run()
    finally:
        os.chdir("/")
        shutil.rmtree(bd.tmp, ignore_errors=True)  # also when a step failed before run()'s own cleanup
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

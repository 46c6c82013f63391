"""config.md: Process (args, env, cwd, terminal, user, rlimits, capabilities, noNewPrivileges,
oomScoreAdj, scheduler, ioPriority), Hostname, Domainname, Extensibility, Specification version.
Each is checked from inside a busybox container through its output."""

from __future__ import annotations

import os

from ..harness import MUST, SHOULD, Ctx, case
from ..host import cap_mask, cap_names, proc_status

CFG = "config.md"
START = "(runtime.md Start: This operation MUST run the user-specified program as specified by `process`.)"
APPLY = "(runtime.md Create: All of the properties configured in config.json except for process MUST be applied.)"
CREATE = "(runtime.md Create: This operation MUST create a new container.)"


def status_of(t: Ctx, cfg: dict) -> dict[str, str]:
    return proc_status(t.sh("cat /proc/self/status", cfg))


def refused(t: Ctx, bad: dict, good: dict) -> bool:
    """True if the runtime generates an error for `bad`, having run `good` (the same config
    without the invalid value) fine."""
    t.control(good)
    r = t.run(t.bundle(config=bad))
    return r.rc != 0


@case("process-args", CFG, "Process", MUST, "args are the process's argv, verbatim",
      """`args` (array of strings, OPTIONAL) with similar semantics to IEEE Std 1003.1-2008
      `execvp`'s argv. """ + START)
def process_args(t: Ctx):
    cfg = t.config(["sh", "-c", 'for a in "$0" "$@"; do echo "[$a]"; done', "zero", "one  two", "", "*"])
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc == 0, "run failed: " + r.brief())
    t.expect(r.out == "[zero]\n[one  two]\n[]\n[*]\n", f"argv seen: {r.out!r}")


@case("process-args-path", CFG, "Process", MUST, "args[0] is looked up in the container's PATH like execvp's file",
      """This specification extends the IEEE standard in that at least one entry is REQUIRED
      (non-Windows), and that entry is used with the same semantics as `execvp`'s *file*.""")
def process_args_path(t: Ctx):
    cfg = t.config(["cf-tool"])
    cfg["process"]["env"] = ["PATH=/cfbin:/bin"]
    b = t.bundle(config=cfg)
    os.makedirs(os.path.join(b, "rootfs", "cfbin"))
    tool = os.path.join(b, "rootfs", "cfbin", "cf-tool")
    with open(tool, "w") as f:
        f.write("#!/bin/sh\necho found-via-path\n")
    os.chmod(tool, 0o755)
    r = t.run(b)
    t.expect(r.rc == 0 and r.out.strip() == "found-via-path", "run failed: " + r.brief())


@case("process-args-empty", CFG, "Valid values", MUST, "empty args is an error",
      """This specification extends the IEEE standard in that at least one entry is REQUIRED
      (non-Windows) ... Runtimes MUST generate an error when invalid or unsupported values are
      encountered.""")
def process_args_empty(t: Ctx):
    cfg = t.config()
    cfg["process"]["args"] = []
    t.expect(refused(t, cfg, t.config()), "a config with args [] ran")


@case("process-env", CFG, "Process", MUST, "env is the process's environment",
      """`env` (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's
      `environ`. """ + START)
def process_env(t: Ctx):
    cfg = t.config()
    want = ["CF_A=hello world", "CF_EMPTY=", "CF_EQ=a=b"]
    cfg["process"]["env"] += want
    env = t.sh("env", cfg).splitlines()
    missing = [w for w in want if w not in env]
    t.expect(not missing, f"missing from the environment: {missing}")


@case("process-cwd", CFG, "Process", MUST, "cwd is the working directory",
      """`cwd` (string, REQUIRED) is the working directory that will be set for the executable.""")
def process_cwd(t: Ctx):
    cfg = t.config()
    cfg["process"]["cwd"] = "/etc"
    got = t.sh("pwd -P", cfg).strip()
    t.expect(got == "/etc", f"cwd is {got!r}")


@case("process-cwd-relative", CFG, "Process", MUST, "a relative cwd is an error",
      """This value MUST be an absolute path. ... Runtimes MUST generate an error when invalid or
      unsupported values are encountered.""",
      notes={"crun": "crun 1.8 accepts a relative cwd"})
def process_cwd_relative(t: Ctx):
    cfg = t.config(["true"])
    cfg["process"]["cwd"] = "etc"
    t.expect(refused(t, cfg, t.config()), "a config with cwd 'etc' ran")


@case("process-terminal-false", CFG, "Process", MUST, "terminal false: the process's stdio are the runtime's, not a tty",
      """`terminal` (bool, OPTIONAL) specifies whether a terminal is attached to the process,
      defaults to false. """ + START)
def process_terminal_false(t: Ctx):
    cfg = t.config(["sh", "-c", "cat; echo out; echo err >&2; for f in 0 1 2; do [ -t $f ] && echo tty$f; done; true"])
    r = t.run(t.bundle(config=cfg), stdin="from stdin\n")
    t.expect(r.rc == 0, "run failed: " + r.brief())
    t.expect(r.out == "from stdin\nout\n", f"stdout was {r.out!r}")
    t.expect("err" in r.err.split(), f"stderr was {r.err!r}")


@case("process-consolesize", CFG, "Process", MUST, "consoleSize is ignored when terminal is false",
      """Runtimes MUST ignore `consoleSize` if `terminal` is `false` or unset.""")
def process_consolesize(t: Ctx):
    cfg = t.config()
    cfg["process"]["consoleSize"] = {"height": 25, "width": 80}
    out = t.sh("echo fine", cfg)
    t.expect(out == "fine\n", f"stdout was {out!r}")


@case("process-user", CFG, "User", MUST, "user.uid and user.gid are the process's ids",
      """`uid` (int, REQUIRED) specifies the user ID in the container namespace. `gid` (int,
      REQUIRED) specifies the group ID in the container namespace.""")
def process_user(t: Ctx):
    cfg = t.config()
    cfg["process"]["user"] = {"uid": 1000, "gid": 1001}
    st = status_of(t, cfg)
    t.expect(st.get("Uid", "").split() == ["1000"] * 4, f"Uid: {st.get('Uid')}")
    t.expect(st.get("Gid", "").split() == ["1001"] * 4, f"Gid: {st.get('Gid')}")


@case("process-additional-gids", CFG, "User", MUST, "additionalGids are the process's supplementary groups",
      """`additionalGids` (array of ints, OPTIONAL) specifies additional group IDs in the container
      namespace to be added to the process. """ + START)
def process_additional_gids(t: Ctx):
    cfg = t.config()
    cfg["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 6, 1234]}
    groups = set(status_of(t, cfg).get("Groups", "").split())
    t.expect({"5", "6", "1234"} <= groups, f"Groups: {sorted(groups)}")


@case("process-umask", CFG, "User", MUST, "user.umask is the process's umask",
      """`umask` (int, OPTIONAL) specifies the umask of the user. """ + START)
def process_umask(t: Ctx):
    cfg = t.config()
    cfg["process"]["user"]["umask"] = 0o027
    got = t.sh("umask", cfg).strip()
    t.expect(got == "0027", f"umask is {got}")


@case("process-umask-unset", CFG, "User", SHOULD, "without user.umask the caller's umask is kept",
      """If unspecified, the umask should not be changed from the calling process' umask.""",
      notes={"runc": "runc 1.1 sets umask 0022 when none is configured",
             "crun": "crun 1.8 sets umask 0022 when none is configured"})
def process_umask_unset(t: Ctx):
    got = t.sh("umask", t.config(), preexec=lambda: os.umask(0o027)).strip()
    t.expect(got == "0027", f"umask is {got} when the runtime was called with 0027")


@case("process-rlimits", CFG, "POSIX process", MUST, "rlimits soft and hard values are the process's",
      """`soft` (uint64, REQUIRED) ... `rlim.rlim_cur` MUST match the configured value. `hard`
      (uint64, REQUIRED) ... `rlim.rlim_max` MUST match the configured value.""")
def process_rlimits(t: Ctx):
    cfg = t.config()
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1021, "hard": 1022},
                                 {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096}]
    lines = {ln[:26].strip(): ln[26:].split()[:2] for ln in t.sh("cat /proc/self/limits", cfg).splitlines()}
    bad = [f"{k}: {lines.get(k)}" for k, want in (("Max open files", ["1021", "1022"]),
                                                  ("Max core file size", ["0", "4096"])) if lines.get(k) != want]
    t.expect(not bad, "; ".join(bad))


@case("process-rlimits-dup", CFG, "POSIX process", MUST, "duplicate rlimits types are an error",
      """If `rlimits` contains duplicated entries with same `type`, the runtime MUST generate an
      error.""",
      notes={"runc": "runc 1.1 accepts duplicate rlimits",
             "crun": "crun 1.8 accepts duplicate rlimits"})
def process_rlimits_dup(t: Ctx):
    cfg = t.config(["true"])
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1021, "hard": 1022},
                                 {"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 1000}]
    good = t.config(["true"])
    good["process"]["rlimits"] = cfg["process"]["rlimits"][:1]
    t.expect(refused(t, cfg, good), "a config with RLIMIT_NOFILE twice ran")


@case("process-rlimits-invalid", CFG, "POSIX process", MUST, "an rlimit type the kernel does not have is an error",
      """The runtime MUST generate an error for any values which cannot be mapped to a relevant
      kernel interface.""")
def process_rlimits_invalid(t: Ctx):
    cfg = t.config(["true"])
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_CF_BOGUS", "soft": 1, "hard": 1}]
    good = t.config(["true"])
    good["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    t.expect(refused(t, cfg, good), "a config with RLIMIT_CF_BOGUS ran")


CAP_B = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"]
CAP_I = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"]
CAP_PEA = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]


def caps_status(t: Ctx, uid: int) -> dict[str, str]:
    cfg = t.config()
    cfg["process"]["user"] = {"uid": uid, "gid": uid}
    cfg["process"]["capabilities"] = {"bounding": CAP_B, "inheritable": CAP_I, "permitted": CAP_PEA,
                                      "effective": CAP_PEA, "ambient": CAP_PEA}
    return status_of(t, cfg)


def cap_diff(st: dict[str, str], field: str, want: list[str]) -> str | None:
    got = int(st.get(field, "0"), 16)
    if got == cap_mask(want):
        return None
    return f"{field} is {cap_names(got)}, expected {want}"


@case("caps-bounding", CFG, "Linux Process", MUST, "capabilities.bounding is the bounding set",
      """`bounding` (array of strings, OPTIONAL) the `bounding` field is an array of bounding
      capabilities that are kept for the process. """ + START)
def caps_bounding(t: Ctx):
    err = cap_diff(caps_status(t, 0), "CapBnd", CAP_B)
    t.expect(err is None, str(err))


@case("caps-inheritable", CFG, "Linux Process", MUST, "capabilities.inheritable is the inheritable set",
      """`inheritable` (array of strings, OPTIONAL) the `inheritable` field is an array of inheritable
      capabilities that are kept for the process. """ + START)
def caps_inheritable(t: Ctx):
    err = cap_diff(caps_status(t, 1000), "CapInh", CAP_I)
    t.expect(err is None, str(err))


@case("caps-effective-permitted-ambient", CFG, "Linux Process", MUST,
      "capabilities.effective/permitted/ambient are kept by a non-root process",
      """`effective` ... `permitted` ... `ambient` (array of strings, OPTIONAL) the `ambient` field is
      an array of ambient capabilities that are kept for the process. """ + START)
def caps_epa(t: Ctx):
    # After execve a non-root process keeps exactly its ambient set in permitted and effective
    # (capabilities(7)), so the three sets are configured equal.
    st = caps_status(t, 1000)
    errs = [e for e in (cap_diff(st, f, CAP_PEA) for f in ("CapEff", "CapPrm", "CapAmb")) if e]
    t.expect(not errs, "; ".join(errs))


@case("caps-unknown", CFG, "Linux Process", SHOULD, "an unknown capability is a warning, not a failure",
      """Any value which cannot be mapped to a relevant kernel interface, or cannot be granted
      otherwise MUST be logged as a warning by the runtime. Runtimes SHOULD NOT fail if the
      container configuration requests capabilities that cannot be granted""")
def caps_unknown(t: Ctx):
    cfg = t.config(["true"])
    cfg["process"]["capabilities"]["bounding"].append("CAP_CF_BOGUS")
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc == 0, "run failed: " + r.brief())


@case("process-no-new-privileges", CFG, "Linux Process", MUST, "noNewPrivileges true sets no_new_privs",
      """`noNewPrivileges` (bool, OPTIONAL) setting `noNewPrivileges` to true prevents the process
      from gaining additional privileges. """ + START)
def process_nnp(t: Ctx):
    cfg = t.config()
    cfg["process"]["noNewPrivileges"] = True
    got = status_of(t, cfg).get("NoNewPrivs")
    t.expect(got == "1", f"NoNewPrivs: {got}")


@case("process-oom-score-adj", CFG, "Linux Process", MUST, "oomScoreAdj is written to oom_score_adj",
      """If `oomScoreAdj` is set, the runtime MUST set `oom_score_adj` to the given value.""")
def process_oom(t: Ctx):
    cfg = t.config()
    cfg["process"]["oomScoreAdj"] = 123
    got = t.sh("cat /proc/self/oom_score_adj", cfg).strip()
    t.expect(got == "123", f"oom_score_adj is {got}")


def _set_oom(value: str):
    def preexec():
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(value)
    return preexec


@case("process-oom-score-adj-unset", CFG, "Linux Process", MUST, "without oomScoreAdj the inherited oom_score_adj is kept",
      """If `oomScoreAdj` is not set, the runtime MUST NOT change the value of `oom_score_adj`.""")
def process_oom_unset(t: Ctx):
    got = t.sh("cat /proc/self/oom_score_adj", t.config(), preexec=_set_oom("77")).strip()
    t.expect(got == "77", f"oom_score_adj is {got}; the runtime was called with 77")


@case("process-scheduler", CFG, "Linux Process", MUST, "scheduler policy and nice are applied",
      """`scheduler` (object, OPTIONAL) is an object describing the scheduler properties for the
      process. ... `nice` (int32, OPTIONAL) is the nice value for the process. """ + START,
      notes={"runc": "runc 1.1.5 does not implement process.scheduler (spec 1.1) and ignores it",
             "crun": "crun 1.8.1 does not implement process.scheduler (spec 1.1) and ignores it"})
def process_scheduler(t: Ctx):
    cfg = t.config()
    cfg["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
    stat = t.sh("cat /proc/self/stat", cfg).rsplit(")", 1)[1].split()
    policy, nice = stat[41 - 3], stat[19 - 3]  # fields 41 and 19 of proc(5), counted after "(comm)"
    t.expect((policy, nice) == ("3", "7"), f"policy {policy} (SCHED_BATCH is 3), nice {nice}")


@case("process-io-priority", CFG, "Linux Process", MUST, "ioPriority class and priority are applied",
      """`ioPriority` (object, OPTIONAL) configures the I/O priority settings for the container's
      processes within the process group. """ + START,
      notes={"runc": "runc 1.1.5 does not implement process.ioPriority (spec 1.1) and ignores it",
             "crun": "crun 1.8.1 does not implement process.ioPriority (spec 1.1) and ignores it"})
def process_io_priority(t: Ctx):
    cfg = t.config()
    cfg["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    got = t.sh("ionice -p $$", cfg).strip()
    t.expect(got == "best-effort: prio 6", f"ionice says {got!r}")


@case("hostname", CFG, "Hostname", MUST, "hostname is the container's hostname",
      """`hostname` (string, OPTIONAL) specifies the container's hostname as seen by processes
      running inside the container. """ + APPLY)
def hostname(t: Ctx):
    cfg = t.config()
    cfg["hostname"] = "cf-host.example"
    got = t.sh("hostname", cfg).strip()
    t.expect(got == "cf-host.example", f"hostname is {got!r}")


@case("domainname", CFG, "Domainname", MUST, "domainname is the container's NIS domain name",
      """`domainname` (string, OPTIONAL) specifies the container's domainname as seen by processes
      running inside the container. """ + APPLY,
      notes={"runc": "runc 1.1.5 ignores domainname"})
def domainname(t: Ctx):
    cfg = t.config()
    cfg["domainname"] = "cf.example"
    got = t.sh("cat /proc/sys/kernel/domainname", cfg).strip()
    t.expect(got == "cf.example", f"domainname is {got!r}")


@case("config-unknown-properties", CFG, "Extensibility", MUST, "unknown properties are ignored, not errors",
      """Runtimes MAY log unknown properties but MUST otherwise ignore them. That includes not
      generating errors if they encounter an unknown property.""")
def config_unknown(t: Ctx):
    cfg = t.config(["true"])
    cfg["cfUnknownTop"] = {"nested": [1, 2]}
    cfg["process"]["cfUnknownProcess"] = "x"
    cfg["linux"]["cfUnknownLinux"] = True
    cfg["annotations"] = {"org.example.cf-unknown-key": "v"}
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc == 0, "run failed: " + r.brief())


@case("annotations-empty-key", CFG, "Annotations", MUST, "an annotation with an empty key is an error",
      """Keys MUST NOT be an empty string. ... Runtimes MUST generate an error when invalid or
      unsupported values are encountered.""",
      notes={"runc": "runc 1.1 accepts an empty annotation key", "crun": "crun 1.8 accepts an empty annotation key"})
def annotations_empty_key(t: Ctx):
    cfg = t.config(["true"])
    cfg["annotations"] = {"cf-key": "a key"}
    t.control(cfg)
    cfg["annotations"] = {"": "empty key"}
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc != 0, "a config with an empty annotation key ran")


@case("config-ociversion", CFG, "Specification version", MUST, 'a config declaring ociVersion "1.3.0" is accepted',
      """The Open Container Initiative Runtime Specification follows semantic versioning and retains
      forward and backward compatibility within major versions. For example, if a configuration is
      compliant with version 1.1 of this specification, it is compatible with all runtimes that
      support any 1.1 or later release of this specification. """ + CREATE,
      notes={"crun": 'crun 1.8 implements spec 1.1 and refuses ociVersion 1.2.0 or later ("unknown version specified")'})
def config_ociversion(t: Ctx):
    cfg = t.config(["true"])
    cfg["ociVersion"] = "1.3.0"
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc == 0, "run failed: " + r.brief())

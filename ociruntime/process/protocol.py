"""The parent <-> child handshake of `create` (and `run`), drawn once. Each message is a JSON
object with a "type"; send/recv sites in spawn.py, stage1.py and init.py are named after these steps.

```
P0 pyoci create                        P1 "pyoci:[1:STAGE1]"              P2 "pyoci:[2:INIT]"
load+check config; state dir; fifo;
cgroup.create(); console socket; fork ─► join cgroup
                                          [userns] unshare(NEWUSER)
write uid_map/gid_map          ◄── idmap-please
                               ── idmap-done ─►
                                          setns(paths); unshare(new ns) incl. NEWPID
                                          fork ────────────────────────────► setsid; rootfs mounts (pre-pivot)
reap P1                        ◄── pid{pid} ── _exit(0)
                                                                             [hooks] hooks-please
prestart, createRuntime hooks  ◄────────────────────────────────────────────
                               ── hooks-done ───────────────────────────────► createContainer hooks; pivot_root;
                                                                             masks; hostname; console; rlimits;
                                                                             resolve args[0]; user; caps;
                               ◄── seccomp-fd{fd} ─────────────────────────── [seccomp NOTIFY] load filter
pidfd_getfd; send to listenerPath ── seccomp-done ─────────────────────────► close the listener fd
state.json, --pid-file         ◄── ready ──────────────────────────────────── close channel; block on exec.fifo
exit 0
pyoci start: open exec.fifo O_WRONLY|O_NONBLOCK (ENXIO: init died); write; unlink
                                                                             startContainer hooks; seccomp; execve
```
Any stage may send `error{msg}` instead of its next message and exit; P0 then raises InitError,
kills what was started, removes the cgroup and the state dir. `log{level,msg}` may come any time.
"""

GO = "go"
IDMAP_PLEASE = "idmap-please"
IDMAP_DONE = "idmap-done"
PID = "pid"
HOOKS_PLEASE = "hooks-please"
HOOKS_DONE = "hooks-done"
SECCOMP_FD = "seccomp-fd"
SECCOMP_DONE = "seccomp-done"
READY = "ready"
ERROR = "error"
LOG = "log"

"""Who the container process is: groups, gid, uid, umask, and HOME from the container's /etc/passwd."""

from __future__ import annotations

import os


def home_of(uid: int, passwd: str = "/etc/passwd") -> str:
    """HOME for uid from the container's /etc/passwd (runc falls back to "/")."""
    try:
        with open(passwd, "rb") as f:
            for line in f:
                fields = line.decode(errors="replace").rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def switch_user(user) -> None:
    """setgroups, setresgid, setresuid: in that order, while we still have CAP_SETGID/SETUID."""
    os.setgroups(list(user.additional_gids))
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    # Unset umask: keep the caller's (config.md: "If unspecified, the umask should not be
    # changed"); runc and crun force 0022 instead.
    if user.umask is not None:
        os.umask(user.umask)

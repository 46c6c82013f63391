"""`pyoci spec [--bundle B] [--rootless]`: write a starter config.json, like `runc spec`."""

from __future__ import annotations

import os

from ..errors import PyociError

CONFIG = "config.json"


def _reason(e: OSError) -> str:
    return (e.strerror or str(e)).lower()


def spec(g: dict, bundle: str, rootless: bool) -> int | None:
    from ..specgen import default_spec, dumps

    data = dumps(default_spec(rootless=rootless)).encode()
    # runc chdirs into the bundle and words a missing one as that chdir's failure.
    try:
        dfd = os.open(bundle or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise PyociError(f"chdir {bundle}: {_reason(e)}") from None
    try:
        # O_EXCL: never overwrite, and never follow a planted symlink (runc stats, then writes,
        # which follows a dangling config.json link; we refuse it as existing).
        try:
            fd = os.open(CONFIG, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666, dir_fd=dfd)
        except FileExistsError:
            # runc's exact wording (spec.go checkNoFile).
            raise PyociError(f"File {CONFIG} exists. Remove it first") from None
        except OSError as e:
            raise PyociError(f"open {os.path.join(bundle, CONFIG)}: {_reason(e)}") from None
        with open(fd, "wb") as f:
            f.write(data)
    finally:
        os.close(dfd)
    return 0

"""The error hierarchy. Only cli/ turns these into a stderr line, a log entry and an exit code."""

from __future__ import annotations


class PyociError(Exception):
    """Base of every error pyoci reports on purpose; exit status 1, like runc."""

    exit_code = 1


class UsageError(PyociError):
    """Bad command line: runc exits 1 for bad flags and arguments."""


class UnknownCommand(UsageError):
    """urfave/cli (runc) exits 3 for a command it does not know."""

    exit_code = 3


class ConfigError(PyociError):
    """config.json is unreadable, schema-invalid or semantically wrong; the message names the JSON path."""


class ContainerNotFound(PyociError):
    def __init__(self, container_id: str = "") -> None:
        # runc's exact wording: podman and containerd match on it.
        super().__init__("container does not exist")
        self.container_id = container_id


class ContainerExists(PyociError):
    def __init__(self, container_id: str) -> None:
        super().__init__(f"container with id {container_id!r} already exists")


class WrongState(PyociError):
    """The operation is not allowed in the container's current status (runtime.md)."""


class SetupError(PyociError):
    """Setting up the container failed on the runtime's side (raised from the OSError)."""


class InitError(PyociError):
    """An error reported by a process inside the container over the channel."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


class Unsupported(PyociError):
    """A config field or flag pyoci does not implement: said loudly, never ignored."""


def oserror_text(e: OSError) -> str:
    """runc-style 'op path: reason' text for an OSError (Go's lower-case strerror)."""
    reason = (e.strerror or str(e)).lower()
    if e.filename is not None:
        return f"{e.filename}: {reason}"
    return reason

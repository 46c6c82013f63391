"""A bidirectional message channel between the runtime and its children: JSON lines over two pipes.

Pipes, not a socketpair: `os.pipe` costs nothing to import, and fds that must cross (the pty
master, a seccomp listener) go through the console socket or listener socket, not here.
Both ends are inherited by fork; each process closes the ends it does not use, so a child that
dies shows up as EOF on the parent's read side.
"""

from __future__ import annotations

import os

from .. import jsonio
from ..errors import InitError
from . import protocol


class Channel:
    def __init__(self) -> None:
        # (parent reads, child writes) and (child reads, parent writes)
        self._up_r, self._up_w = os.pipe()
        self._down_r, self._down_w = os.pipe()
        self._buf = b""
        self.rfd = self.wfd = -1

    def parent_side(self) -> "Channel":
        os.close(self._up_w)
        os.close(self._down_r)
        self.rfd, self.wfd = self._up_r, self._down_w
        return self

    def child_side(self) -> "Channel":
        os.close(self._up_r)
        os.close(self._down_w)
        self.rfd, self.wfd = self._down_r, self._up_w
        return self

    def send(self, type_: str, **fields: object) -> None:
        fields["type"] = type_
        data = jsonio.dumps(fields).encode() + b"\n"
        while data:
            data = data[os.write(self.wfd, data):]

    def recv(self) -> dict | None:
        """Next message, or None at EOF (every writer is gone)."""
        while b"\n" not in self._buf:
            chunk = os.read(self.rfd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return jsonio.loads(line)

    def expect(self, type_: str, on_log=None) -> dict:
        """Wait for a message of type_; raise InitError for an error message or an early EOF."""
        while True:
            msg = self.recv()
            if msg is None:
                raise InitError(f"container init exited before sending {type_!r}")
            t = msg.get("type")
            if t == protocol.LOG:
                if on_log:
                    on_log(msg.get("level", "info"), msg.get("msg", ""))
                continue
            if t == protocol.ERROR:
                raise InitError(msg.get("msg", "unknown error"), msg.get("errno", 0))
            if t != type_:
                raise InitError(f"protocol error: expected {type_!r}, got {t!r}")
            return msg

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.rfd = self.wfd = -1

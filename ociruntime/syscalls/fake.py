"""A recording stand-in for LinuxSyscalls, for pure-logic tests of call order.

    sc = FakeSyscalls(fail={"pivot_root": OSError(22, "Invalid argument")})
    pivot.pivot(sc, "/r")              # raises the injected error
    assert sc.of("mount") == [...]

Every method of LinuxSyscalls exists here with the same signature (checked by a unit test), so a
test cannot exercise a call the real layer lacks.
"""

from __future__ import annotations

from .linux import LinuxSyscalls


class FakeSyscalls:
    def __init__(self, fail: dict[str, OSError] | None = None, returns: dict[str, object] | None = None) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.fail = dict(fail or {})
        self.returns = dict(returns or {})

    def of(self, name: str) -> list[tuple]:
        return [args for n, args in self.calls if n == name]

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


def _recorder(name: str):
    def call(self: FakeSyscalls, *args: object, **kw: object) -> object:
        self.calls.append((name, args + tuple(kw.values())))
        if name in self.fail:
            raise self.fail[name]
        return self.returns.get(name, 0)
    call.__name__ = name
    return call


for _name in dir(LinuxSyscalls):
    if not _name.startswith("_"):
        setattr(FakeSyscalls, _name, _recorder(_name))

"""The click-free fast parser must agree with the click application on every argv it accepts."""

from __future__ import annotations

import pytest

from ociruntime.cli import _click_parse
from ociruntime.cli.fastparse import parse

ARGVS = [
    ["--root", "/r", "--log", "/l", "--log-format=json", "create", "--bundle", "/b", "--pid-file", "/p", "id1"],
    ["--root=/r", "create", "-b", "/b", "--console-socket", "/s", "--preserve-fds", "2", "--no-pivot", "id"],
    ["--debug", "--systemd-cgroup", "start", "x"],
    ["state", "x"],
    ["kill", "--all", "x", "9"],
    ["kill", "x"],
    ["kill", "x", "SIGTERM"],
    ["delete", "--force", "x"],
    ["delete", "-f", "x"],
    ["run", "-d", "--keep", "-b", "b", "x"],
    ["exec", "--pid-file", "/p", "--process", "/proc.json", "--detach", "x"],
    ["exec", "--process", "/p", "--console-socket", "/s", "--detach", "--pid-file", "/f", "x"],
    ["exec", "-t", "--user", "1:2", "-e", "A=1", "-e", "B=2", "--cap", "CAP_KILL", "x", "sh", "-c", "echo -t"],
    ["exec", "x", "--", "ls", "-l"],
    ["ps", "--format", "json", "x"],
    ["ps", "x", "--", "-ef"],
    ["list", "-q"],
    ["list", "--format=json"],
    ["pause", "x"],
    ["resume", "x"],
    ["update", "--memory", "1000000", "--pids-limit", "10", "x"],
    ["update", "-r", "-", "x"],
    ["events", "--stats", "x"],
    ["events", "--interval", "1s", "x"],
    ["features"],
    ["spec", "--rootless", "-b", "/tmp/b"],
]


@pytest.mark.parametrize("argv", ARGVS, ids=[" ".join(a) for a in ARGVS])
def test_fast_parser_agrees_with_click(argv):
    fast = parse(argv)
    assert fast is not None, "fast path should take this argv"
    slow = _click_parse(argv)
    g1, cmd1, kw1 = fast
    g2, cmd2, kw2 = slow
    assert cmd1.name == cmd2.name
    assert {k: v for k, v in g1.items()} == {k: v for k, v in g2.items()}
    norm = lambda kw: {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in kw.items()}  # noqa: E731
    assert norm(kw1) == norm(kw2)


@pytest.mark.parametrize("argv", [["--foo", "state", "x"], ["state"], ["bogus"], ["state", "a", "b"],
                                  ["create", "--preserve-fds", "x", "id"], ["kill", "--bogus", "x"]])
def test_fast_parser_declines_what_it_cannot_take(argv):
    assert parse(argv) is None

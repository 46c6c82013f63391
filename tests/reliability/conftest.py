"""Fixtures of the reliability suite (the repository's tests/conftest.py provides `runtime`,
`bundle` and the teardown audit; this adds a per-test tag, an Audit, and a figures recorder).

Figures: with PYOCI_RELIABILITY_STATS=<file>, each test appends one JSON line of counts (inputs
tried, containers created, faults injected...) to <file>; README.md's "Reliability" section
quotes a run of those.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.reliability.helpers import Audit, new_tag


@pytest.fixture
def tag() -> str:
    return new_tag()


@pytest.fixture
def audit(runtime, tag) -> Audit:
    return Audit(runtime.root, runtime.tmp, tag)


class Figures(dict):
    def add(self, key: str, n: int = 1) -> None:
        self[key] = self.get(key, 0) + n


@pytest.fixture
def figures(request):
    f = Figures()
    t0 = time.monotonic()
    yield f
    path = os.environ.get("PYOCI_RELIABILITY_STATS")
    if path:
        rec = {"test": request.node.nodeid, "seconds": round(time.monotonic() - t0, 1), **f}
        with open(path, "a") as out:
            out.write(json.dumps(rec) + "\n")

"""Issue 3 item 8: linux.netDevices (runtime-spec v1.3). The tests make their own interfaces:
a veth pair whose peer lives in a network namespace the test creates, so the device moved into
the container is virtual and its fate is visible from the peer's side.

What the kernel does when the container's network namespace goes away (on delete): a virtual
device is destroyed, and a veth takes its peer with it; a physical one would return to the
initial namespace (this VM has no spare NIC to show that). A namespace joined by path outlives
the container, and the device stays there.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from tests.conftest import wait_for


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def link_exists(name: str, netns: str | None = None) -> bool:
    args = ("-n", netns) if netns else ()
    return ip(*args, "link", "show", "dev", name, check=False).returncode == 0


def addresses(out: str) -> set[str]:
    """inet/inet6 addresses with prefix from `ip -o addr` output (busybox's or iproute2's)."""
    found = set()
    for line in out.splitlines():
        words = line.split()
        for i, w in enumerate(words[:-1]):
            if w in ("inet", "inet6"):
                found.add(words[i + 1])
    return found


class Veth:
    """host end `name` (10.199.x.1/24, fd00:199::1/64, up) in the runtime's namespace; its
    peer in a namespace of its own, so the test can watch the pair from outside."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.name, self.peer, self.netns = f"pv{tag}", f"pp{tag}", f"pyoci-nd-{tag}"
        self.v4 = f"10.199.{int(tag[:2], 16)}.1/24"
        self.v6 = f"fd00:199:{int(tag[:4], 16):x}::1/64"
        ip("netns", "add", self.netns)
        ip("link", "add", self.name, "type", "veth", "peer", "name", self.peer, "netns", self.netns)
        ip("addr", "add", self.v4, "dev", self.name)
        ip("addr", "add", self.v6, "dev", self.name, "nodad")
        ip("link", "set", self.name, "up")
        self.mac = json.loads(ip("-j", "link", "show", "dev", self.name).stdout)[0]["address"]

    def peer_alive(self) -> bool:
        return link_exists(self.peer, self.netns)

    def cleanup(self) -> None:
        if link_exists(self.name):
            ip("link", "del", self.name, check=False)
        ip("netns", "del", self.netns, check=False)


@pytest.fixture
def veth():
    v = Veth()
    yield v
    v.cleanup()


@pytest.fixture
def netns():
    """A persistent network namespace (ip netns add) for a container to join by path."""
    name = f"pyoci-nj-{uuid.uuid4().hex[:8]}"
    ip("netns", "add", name)
    yield name
    ip("netns", "del", name, check=False)


def net_devices(devs: dict):
    def edit(c):
        c["linux"]["netDevices"] = devs
    return edit


def test_moved_renamed_addresses_kept_up(runtime, bundle, veth):
    b = bundle(["sh", "-c", "ip -o addr show dev eth1; ip -o link show eth1; cat /sys/class/net/eth1/address"],
               edit=net_devices({veth.name: {"name": "eth1"}}))
    cid = runtime.new_id("nd")
    p = runtime("run", "-b", str(b), cid)
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr.decode()
    assert {veth.v4, veth.v6} <= addresses(out), out
    link = next(ln for ln in out.splitlines() if ": eth1" in ln and "<" in ln)
    assert "UP" in link.split("<", 1)[1].split(">", 1)[0].split(","), link
    assert out.split()[-1] == veth.mac            # the same device, not a new one
    # `run` deleted the container: its namespace is gone, and with it the virtual device and
    # (veth) its peer. Nothing came back to the host.
    wait_for(lambda: not veth.peer_alive(), timeout=10)
    assert not link_exists(veth.name) and not link_exists("eth1")


def test_device_leaves_host_at_create_and_dies_with_the_container(runtime, bundle, veth):
    b = bundle(["sleep", "300"], edit=net_devices({veth.name: {"name": "ctr0"}}))
    cid = runtime.new_id("nd")
    runtime("create", "-b", str(b), cid, check=True)
    pid = runtime.state(cid)["pid"]
    # Moved when `create` returns, before `start`: gone from the host, present in the container.
    assert not link_exists(veth.name)
    inside = subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "-o", "addr", "show", "dev", "ctr0"],
                            capture_output=True, text=True, check=True).stdout
    assert {veth.v4, veth.v6} <= addresses(inside)
    assert veth.peer_alive()
    runtime("delete", "--force", cid, check=True)
    wait_for(lambda: not veth.peer_alive(), timeout=10)
    assert not link_exists(veth.name)


def test_default_name_is_the_host_name(runtime, bundle, veth):
    b = bundle(["ip", "-o", "addr", "show", "dev", veth.name], edit=net_devices({veth.name: {}}))
    cid = runtime.new_id("nd")
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr.decode()
    assert veth.v4 in addresses(p.stdout.decode())


def test_joined_namespace_keeps_the_device_after_delete(runtime, bundle, veth, netns):
    def edit(c):
        for n in c["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = f"/run/netns/{netns}"
        c["linux"]["netDevices"] = {veth.name: {"name": "joined0"}}
    b = bundle(["ip", "-o", "addr", "show", "dev", "joined0"], edit=edit)
    cid = runtime.new_id("nd")
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr.decode()
    assert veth.v4 in addresses(p.stdout.decode())
    # The namespace is not the container's: it outlives it, and so does the device.
    assert link_exists("joined0", netns)
    assert veth.v4 in addresses(ip("-n", netns, "-o", "addr", "show", "dev", "joined0").stdout)
    assert veth.peer_alive()


def refused(runtime, bundle, edit, *fragments: str) -> str:
    b = bundle(["true"], edit=edit)
    cid = runtime.new_id("bad")
    p = runtime("create", "-b", str(b), cid)
    err = p.stderr.decode()
    assert p.returncode != 0, "create succeeded"
    for f in fragments:
        assert f in err, f"{f!r} not in {err!r}"
    assert runtime("state", cid).returncode != 0
    return err


def test_missing_device_refused(runtime, bundle):
    refused(runtime, bundle, net_devices({"pynodev0": {}}), 'linux.netDevices["pynodev0"]', "no network device")


def test_needs_a_network_namespace(runtime, bundle, veth):
    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
        c["linux"]["netDevices"] = {veth.name: {}}
    refused(runtime, bundle, edit, "linux.netDevices", "needs a network namespace")
    assert link_exists(veth.name)


def test_runtime_own_namespace_refused(runtime, bundle, veth):
    def edit(c):
        for n in c["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = "/proc/self/ns/net"
        c["linux"]["netDevices"] = {veth.name: {}}
    refused(runtime, bundle, edit, "linux.netDevices", "runtime's own network namespace")


@pytest.mark.parametrize("name", ["a/b", "x" * 16, "has space", "a:1", ".."])
def test_bad_name_refused(runtime, bundle, veth, name):
    refused(runtime, bundle, net_devices({veth.name: {"name": name}}), f'linux.netDevices["{veth.name}"].name',
            "not a valid network device name")


def test_duplicate_container_names_refused(runtime, bundle, veth):
    other = Veth()
    try:
        refused(runtime, bundle, net_devices({veth.name: {"name": "dup0"}, other.name: {"name": "dup0"}}),
                "dup0", "is also the container name of")
    finally:
        other.cleanup()


def test_loopback_refused(runtime, bundle):
    refused(runtime, bundle, net_devices({"lo": {"name": "lo2"}}), 'linux.netDevices["lo"]', "loopback")


def test_name_clash_inside_rolls_back(runtime, bundle, veth):
    """The move fails inside the container's namespace ("lo" exists there): create fails and
    every device is back on the host under its own name, with its addresses, up."""
    other = Veth()
    try:
        err = refused(runtime, bundle, net_devices({other.name: {"name": "first0"}, veth.name: {"name": "lo"}}),
                      f'linux.netDevices["{veth.name}"].name', "already exists")
        assert "lo" in err
        for v in (other, veth):
            assert link_exists(v.name), f"{v.name} did not come back"
            shown = ip("-o", "addr", "show", "dev", v.name).stdout
            assert {v.v4, v.v6} <= addresses(shown), shown
            assert "UP" in json.loads(ip("-j", "link", "show", "dev", v.name).stdout)[0]["flags"]
            assert v.peer_alive()
    finally:
        other.cleanup()

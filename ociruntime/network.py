"""The container's network namespace: loopback now; linux.netDevices (pyroute2) where configured.

netDevices (runtime-spec v1.3, config-linux.md "Network Devices"): each entry names a device in
the runtime's network namespace; it is moved into the container's network namespace under
`name` (default: the same name), its addresses are re-added there (moving a device between
namespaces flushes them) and it is set up. runc and youki do the same: the device goes down, then
one RTM_NEWLINK carries IFLA_NET_NS_FD and IFLA_IFNAME, so the move and the rename are atomic.

After that the kernel owns the device's fate: when the container's network namespace dies (its
last process exits and nothing holds it, as on `delete`), a physical device returns to the
initial network namespace and a virtual one (veth, dummy, macvlan...) is destroyed, its veth peer
with it. A namespace joined by path outlives the container and keeps the device.
"""

from __future__ import annotations

import os

IFNAMSIZ = 16
_IFF_UP = 0x1
_IFA_F_PERMANENT = 0x80
_RT_SCOPE_LINK = 253


def bring_up_loopback() -> None:
    """`ip link set lo up` without importing pyroute2 (~190 ms): one SIOCSIFFLAGS ioctl."""
    import fcntl
    import struct
    import _socket

    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s.fileno(), 0x8913, ifr))[1]   # SIOCGIFFLAGS
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH22x", b"lo", flags | 0x1))  # SIOCSIFFLAGS, IFF_UP
    finally:
        s.close()


# --- create-time checks -----------------------------------------------------------------------

def valid_name(name: str) -> bool:
    """The kernel's dev_valid_name (net/core/dev.c): 1-15 bytes, not . or .., no '/', ':' or space."""
    return (0 < len(name.encode()) < IFNAMSIZ and name not in (".", "..")
            and not any(c in "/:" or c.isspace() for c in name))


def check(spec, err) -> None:
    """Raise err(json_path, message) for a linux.netDevices the runtime cannot honour: the spec
    says the runtime MUST check that each device can be moved and fail if not."""
    devs = spec.linux.net_devices
    if not devs:
        return
    import _socket

    net = spec.linux.namespace("network")
    if net is None:
        raise err("linux.netDevices", "moving devices needs a network namespace: linux.namespaces has no "
                  "\"network\" entry")
    if net.path:
        a, b = os.stat("/proc/self/ns/net"), os.stat(net.path)
        if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
            raise err("linux.netDevices", f"the container joins the runtime's own network namespace ({net.path}): "
                      "there is nowhere to move the devices to")
    inside: dict[str, str] = {}
    for host_name, dev in devs.items():
        path = f'linux.netDevices["{host_name}"]'
        if not valid_name(host_name):
            raise err(path, f"{host_name!r} is not a valid network device name")
        if host_name == "lo":
            raise err(path, "the loopback device cannot leave its network namespace")
        new = (dev or {}).get("name") or host_name
        if not valid_name(new):
            raise err(path + ".name", f"{new!r} is not a valid network device name (1-15 bytes, no '/', ':' "
                      "or whitespace)")
        if new in inside:
            raise err(path + ".name", f"{new!r} is also the container name of "
                      f'linux.netDevices["{inside[new]}"]')
        inside[new] = host_name
        try:
            _socket.if_nametoindex(host_name)
        except OSError:
            raise err(path, f"no network device {host_name!r} in the runtime's network namespace") from None


# --- moving -----------------------------------------------------------------------------------

class _Moved:
    __slots__ = ("host_name", "name", "addrs", "was_up")

    def __init__(self, host_name: str, name: str, addrs: list[dict], was_up: bool) -> None:
        self.host_name, self.name, self.addrs, self.was_up = host_name, name, addrs, was_up


def _errors():
    # pyroute2's NetlinkError is not an OSError; it carries the errno in .code.
    from pyroute2.netlink.exceptions import NetlinkError

    return (OSError, NetlinkError)


def _reason(e: Exception) -> str:
    code = getattr(e, "code", None) or getattr(e, "errno", None)
    return os.strerror(code).lower() if isinstance(code, int) and code > 0 else str(e)


def move_devices(net_devices: dict, pid: int) -> None:
    """In the runtime, once init exists: move linux.netDevices into init's network namespace.

    All or nothing: if one device fails, those already moved are moved back (renamed back, their
    addresses restored) before the error is raised, so a failed `create` does not take the
    host's devices down with the container's namespace."""
    from pyroute2 import IPRoute

    from .errors import SetupError

    errors = _errors()
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    moved: list[_Moved] = []
    try:
        with IPRoute() as host, IPRoute(fileno=_netlink_in(target)) as inside:
            try:
                for host_name, dev in net_devices.items():
                    new = (dev or {}).get("name") or host_name
                    _move_one(host, inside, target, host_name, new, moved)
            except BaseException:
                _move_back(host, inside, moved)
                raise
    except SetupError:
        raise
    except errors as e:
        raise SetupError(f"linux.netDevices: {_reason(e)}") from None
    finally:
        os.close(target)


def return_devices(net_devices: dict, pid: int) -> None:
    """Best effort, for a `create` failing after move_devices: move the devices out of init's
    network namespace back to the runtime's, under their host names, before init is killed
    (otherwise virtual devices die with the namespace)."""
    from pyroute2 import IPRoute

    try:
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        with IPRoute() as host, IPRoute(fileno=_netlink_in(target)) as inside:
            back = []
            for host_name, dev in net_devices.items():
                new = (dev or {}).get("name") or host_name
                idx = inside.link_lookup(ifname=new)
                if idx:
                    addrs = [_addr_args(a) for a in inside.get_addr(index=idx[0]) if _keep(a)]
                    back.append(_Moved(host_name, new, addrs, True))
            _move_back(host, inside, back)
    except _errors():
        pass
    finally:
        os.close(target)


def _move_one(host, inside, target: int, host_name: str, new: str, moved: list) -> None:
    from .errors import SetupError

    errors = _errors()
    path = f'linux.netDevices["{host_name}"]'
    idx = host.link_lookup(ifname=host_name)
    if not idx:
        raise SetupError(f"{path}: no network device {host_name!r} in the runtime's network namespace")
    idx = idx[0]
    # The kernel applies IFLA_IFNAME atomically with the move only when the old name is taken in
    # the target; otherwise it moves the device first and renames it after, and a clash leaves it
    # inside under its old name. Check the new name first, and undo a half-done move below.
    if inside.link_lookup(ifname=new):
        raise SetupError(f"{path}.name: a device named {new!r} already exists in the container's network "
                         "namespace")
    old_name_inside = bool(inside.link_lookup(ifname=host_name))
    was_up = bool(host.get_links(idx)[0]["flags"] & _IFF_UP)
    addrs = [_addr_args(a) for a in host.get_addr(index=idx) if _keep(a)]
    try:
        host.link("set", index=idx, state="down")
        host.link("set", index=idx, net_ns_fd=target, ifname=new)
    except errors as e:
        if not old_name_inside and inside.link_lookup(ifname=host_name):
            moved.append(_Moved(host_name, host_name, addrs, was_up))    # moved, not renamed
        elif was_up:
            _quiet(host.link, "set", index=idx, state="up")
        raise SetupError(f"{path}: moving it into the container's network namespace as {new!r}: "
                         f"{_reason(e)}") from None
    moved.append(_Moved(host_name, new, addrs, was_up))
    try:
        nidx = inside.link_lookup(ifname=new)[0]
        for a in addrs:
            inside.addr("add", index=nidx, **a)
        # The spec: the runtime MUST set the device up so the container can use it.
        inside.link("set", index=nidx, state="up")
    except errors as e:
        raise SetupError(f"{path}: configuring {new!r} in the container's network namespace: "
                         f"{_reason(e)}") from None


def _move_back(host, inside, moved: list) -> None:
    home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for m in reversed(moved):
            idx = inside.link_lookup(ifname=m.name)
            if not idx:
                continue
            _quiet(inside.link, "set", index=idx[0], state="down")
            if not _quiet(inside.link, "set", index=idx[0], net_ns_fd=home, ifname=m.host_name):
                continue
            hidx = host.link_lookup(ifname=m.host_name)
            if hidx:
                for a in m.addrs:
                    _quiet(host.addr, "add", index=hidx[0], **a)
                if m.was_up:
                    _quiet(host.link, "set", index=hidx[0], state="up")
    finally:
        os.close(home)


def _quiet(fn, *args, **kw) -> bool:
    try:
        fn(*args, **kw)
        return True
    except _errors() as e:
        from . import log

        log.warning(f"netDevices: undoing a move: {fn.__name__} {kw}: {_reason(e)}")
        return False


def _keep(a) -> bool:
    """Addresses a user configured: permanent ones (not DHCP/SLAAC leases, which belong to the
    old namespace's daemons), except IPv6 link-local, which the kernel makes anew."""
    flags = a.get_attr("IFA_FLAGS")
    if flags is None:
        flags = a["flags"]
    if not flags & _IFA_F_PERMANENT:
        return False
    return not (a["family"] == 10 and a["scope"] == _RT_SCOPE_LINK)


def _addr_args(a) -> dict:
    out = {"family": a["family"], "prefixlen": a["prefixlen"], "scope": a["scope"],
           "address": a.get_attr("IFA_ADDRESS")}
    local, brd = a.get_attr("IFA_LOCAL"), a.get_attr("IFA_BROADCAST")
    if local is not None:
        out["local"] = local
    if brd is not None:
        out["broadcast"] = brd
    return out


def _netlink_in(ns_fd: int) -> int:
    """A NETLINK_ROUTE socket fd bound to the network namespace ns_fd: a socket belongs to the
    namespace it was created in, so enter it just for socket(2) and come back (this thread only;
    pyroute2's own netns= support would fork a helper process instead)."""
    import socket

    from .syscalls import consts as C
    from .syscalls.linux import SYSCALLS as sc

    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(ns_fd, C.CLONE_NEWNET)
        try:
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, 0)  # NETLINK_ROUTE; pyroute2 wants DGRAM
        finally:
            sc.setns(home, C.CLONE_NEWNET)
    finally:
        os.close(home)
    return s.detach()

"""The container's network namespace: loopback now; netDevices (pyroute2) where configured."""

from __future__ import annotations


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


def move_devices(net_devices: dict, pid: int) -> None:
    """In the runtime, once init exists: move linux.netDevices into init's network namespace."""
    raise NotImplementedError("linux.netDevices")

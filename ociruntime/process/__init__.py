"""Processes of a container's birth: the runtime (P0), stage 1 (P1) and the container's init (P2).
The handshake between them is drawn once, in protocol.py."""

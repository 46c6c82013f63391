"""pyoci: an OCI runtime in Python. This module imports nothing: every command pays for it."""

__version__ = "0.1.0"
SPEC_VERSION = "1.3.0"

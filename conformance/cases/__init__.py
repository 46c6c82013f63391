"""Every case module; importing this package registers them all, in this order."""

# The order is the order of the TAP output and the tables, not alphabetical.
from . import lifecycle, operations, hooks, process, filesystem, namespaces, linux, cgroups  # noqa: F401, I001

"""A runtime-agnostic OCI runtime-spec v1.3.0 conformance suite (runtime.md, config.md,
config-linux.md, runtime-linux.md), driving any runtime binary through its command line.

Run it from the repository root: `python3 -m conformance --runtime pyoci|runc|crun|PATH`.
"""

"""docs/clients.md: its snippets are what the suite runs (see docsnip.py); here the ones that
are commands are run as written, with only the binary, image and container name replaced."""

from __future__ import annotations

import re
import shlex

from . import docsnip
from .harness import check, show


def test_podman_config_snippet_in_effect(podman, compat_runtime):
    """The suite's containers.conf is the doc's snippet (plus test plumbing): podman resolves
    the default runtime to the name `pyoci` at the runtime under test."""
    info = podman.ok("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}")
    assert info.stdout.split() == ["pyoci", compat_runtime], show(info)


def test_podman_run_snippet(podman):
    argv = shlex.split(docsnip.substituted("podman-run", podman.s.runtime, image=podman.image))
    assert argv[0] == "podman" and "--rm" in argv, argv
    p = check(podman(*argv[1:]))
    assert p.stdout == "hello from pyoci\n", show(p)


def test_ctr_run_snippet(ctr):
    argv = shlex.split(docsnip.substituted("ctr-run", ctr.i.binary_name, image=ctr.image))
    assert argv[:2] == ["ctr", "run"] and "--rm" in argv, argv
    i = argv.index(ctr.image)
    argv[i + 1] = ctr.new_id()  # the doc's container name, unique here
    p = check(ctr(*argv[1:]))
    assert p.stdout == "hello from pyoci\n", show(p)


def test_containerd_snippet_is_a_runc_shim_runtime(containerd):
    assert containerd.runtime_type == "io.containerd.runc.v2"
    assert containerd.binary_name == containerd.runtime


def test_kubernetes_runtimeclass_names_the_containerd_runtime(containerd):
    """Not run on a cluster (none here): only the handler/runtime-name link is checked."""
    text = docsnip.snippet("k8s-runtimeclass.yaml")
    assert re.search(r"^apiVersion:\s*node\.k8s\.io/v1\s*$", text, re.M), text
    assert re.search(r"^kind:\s*RuntimeClass\s*$", text, re.M), text
    handler = re.search(r"^handler:\s*(\S+)\s*$", text, re.M)
    assert handler and handler.group(1) == containerd.runtime_name, text

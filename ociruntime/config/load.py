"""Turn a schema-valid config.json document into the records of model.py (camelCase -> snake_case)."""

from __future__ import annotations

import os

from .model import (Capabilities, Device, Hook, Hooks, IDMapping, Linux, Mount, Namespace, Process, Rlimit,
                    Root, Spec, User)


def _maps(items: list | None) -> tuple[IDMapping, ...]:
    return tuple(IDMapping(container_id=m["containerID"], host_id=m["hostID"], size=m["size"])
                 for m in items or ())


def _hooks(d: dict | None) -> Hooks:
    d = d or {}

    def one(name: str) -> tuple[Hook, ...]:
        return tuple(Hook(path=h["path"], args=tuple(h.get("args") or ()), env=tuple(h.get("env") or ()),
                          timeout=h.get("timeout")) for h in d.get(name) or ())

    return Hooks(prestart=one("prestart"), create_runtime=one("createRuntime"),
                 create_container=one("createContainer"), start_container=one("startContainer"),
                 poststart=one("poststart"), poststop=one("poststop"))


def build_process(p: dict) -> Process:
    u = p.get("user") or {}
    caps = p.get("capabilities")
    size = p.get("consoleSize")
    return Process(
        terminal=bool(p.get("terminal", False)),
        console_size=(size["height"], size["width"]) if size else None,
        user=User(uid=u.get("uid", 0), gid=u.get("gid", 0), umask=u.get("umask"),
                  additional_gids=tuple(u.get("additionalGids") or ())),
        args=tuple(p.get("args") or ()),
        env=tuple(p.get("env") or ()),
        cwd=p.get("cwd") or "/",
        capabilities=None if caps is None else Capabilities(
            **{k: tuple(caps.get(k) or ()) for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}),
        rlimits=tuple(Rlimit(type=r["type"], soft=r["soft"], hard=r["hard"]) for r in p.get("rlimits") or ()),
        no_new_privileges=bool(p.get("noNewPrivileges", False)),
        apparmor_profile=p.get("apparmorProfile", ""),
        selinux_label=p.get("selinuxLabel", ""),
        oom_score_adj=p.get("oomScoreAdj"),
        scheduler=p.get("scheduler"),
        io_priority=p.get("ioPriority"),
        exec_cpu_affinity=p.get("execCPUAffinity"),
    )


def _linux(x: dict | None) -> Linux:
    x = x or {}
    return Linux(
        namespaces=tuple(Namespace(type=n["type"], path=n.get("path", "")) for n in x.get("namespaces") or ()),
        uid_mappings=_maps(x.get("uidMappings")),
        gid_mappings=_maps(x.get("gidMappings")),
        time_offsets=x.get("timeOffsets"),
        devices=tuple(Device(type=d["type"], path=d["path"], major=d.get("major", 0), minor=d.get("minor", 0),
                             file_mode=d.get("fileMode"), uid=d.get("uid"), gid=d.get("gid"))
                      for d in x.get("devices") or ()),
        net_devices=x.get("netDevices"),
        cgroups_path=x.get("cgroupsPath", ""),
        resources=x.get("resources"),
        rootfs_propagation=x.get("rootfsPropagation", ""),
        seccomp=x.get("seccomp"),
        sysctl=x.get("sysctl"),
        masked_paths=tuple(x.get("maskedPaths") or ()),
        readonly_paths=tuple(x.get("readonlyPaths") or ()),
        mount_label=x.get("mountLabel", ""),
        intel_rdt=x.get("intelRdt"),
        personality=x.get("personality"),
        memory_policy=x.get("memoryPolicy"),
    )


def build(doc: dict, bundle: str) -> Spec:
    root = doc.get("root") or {}
    root_path = root.get("path", "")
    return Spec(
        oci_version=doc.get("ociVersion", ""),
        root=Root(path=os.path.normpath(os.path.join(bundle, root_path)) if root_path else "",
                  readonly=bool(root.get("readonly", False))),
        mounts=tuple(Mount(destination=m["destination"], type=m.get("type", ""), source=m.get("source", ""),
                           options=tuple(m.get("options") or ()), uid_mappings=_maps(m.get("uidMappings")),
                           gid_mappings=_maps(m.get("gidMappings")))
                     for m in doc.get("mounts") or ()),
        process=build_process(doc["process"]) if doc.get("process") is not None else None,
        hostname=doc.get("hostname"),
        domainname=doc.get("domainname"),
        hooks=_hooks(doc.get("hooks")),
        annotations=doc.get("annotations"),
        linux=_linux(doc.get("linux")),
        bundle=bundle,
        raw=doc,
    )

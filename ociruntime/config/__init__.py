"""config.json: read it, check it against the OCI schema, build the model, apply runc's rules.

Errors name the JSON path: `config.json: process.args: [] should be non-empty`.
"""

from __future__ import annotations

import os

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .model import Spec


def load_bundle(bundle: str) -> Spec:
    """Load <bundle>/config.json for create/run."""
    bundle = os.path.abspath(bundle)
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        if not os.path.isdir(bundle):
            raise ConfigError(f"bundle {bundle}: no such directory") from None
        raise ConfigError(f"{path}: no such file or directory") from None
    except OSError as e:
        raise ConfigError(f"{path}: {(e.strerror or str(e)).lower()}") from None
    return load_document(data, bundle)


def load_document(data: bytes, bundle: str) -> Spec:
    from . import schema
    from .load import build
    from .validate import check

    doc = schema.parse_json(data, "config.json")
    schema.validate(doc, "config-schema.json", "config.json")
    spec = build(doc, bundle)
    check(spec)
    return spec

"""The OCI image-spec's own JSON schemas (Debian's golang-github-opencontainers-image-spec-dev),
for checking every manifest, index, config and layout file berth writes."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMAS = Path("/usr/share/gocode/src/github.com/opencontainers/image-spec/schema")
_BASE = "https://image-spec.schemas.test/"
# What each kind of document is checked against.
KINDS = {
    "manifest": "image-manifest-schema.json",
    "index": "image-index-schema.json",
    "config": "config-schema.json",
    "layout": "image-layout-schema.json",
    "descriptor": "content-descriptor.json",
}


def _without_ids(value: Any) -> Any:
    """The schema with its nested draft-04 ``id``s dropped: they rebase relative $refs
    ("defs.json#/...") onto URLs that name no file; the files are known by their names."""
    if isinstance(value, dict):
        return {key: _without_ids(item) for key, item in value.items() if key != "id"}
    if isinstance(value, list):
        return [_without_ids(item) for item in value]
    return value


@cache
def _registry() -> Registry:
    if not SCHEMAS.is_dir():
        pytest.skip(f"needs the OCI image-spec schemas in {SCHEMAS} "
                    "(Debian package golang-github-opencontainers-image-spec-dev)")  # fmt: skip
    resources = []
    for path in SCHEMAS.glob("*.json"):
        schema = _without_ids(json.loads(path.read_text()))
        resources.append((_BASE + path.name, Resource(contents=schema, specification=DRAFT4)))
    return Registry().with_resources(resources)


def validate(document: dict[str, Any] | bytes, kind: str) -> None:
    """Raise jsonschema.ValidationError unless ``document`` is a valid OCI ``kind``."""
    if isinstance(document, bytes):
        document = json.loads(document)
    registry = _registry()
    schema = registry.contents(_BASE + KINDS[kind])
    validator = jsonschema.Draft4Validator({**schema, "id": _BASE + KINDS[kind]}, registry=registry)
    validator.validate(document)

"""Every config.json berth writes is valid by the OCI runtime-spec's own JSON schema.

The schema is Debian's golang-github-opencontainers-specs-dev
(/usr/share/gocode/.../runtime-spec/schema): config-schema.json and the defs*.json files
it refers to. A flag whose config the schema rejects is a bug of berth, not of the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.containers.model import CreateOptions
from tests.oci_configs import built_config

SCHEMA_DIR = Path("/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema")
_PACKAGE = "golang-github-opencontainers-specs-dev"

pytestmark = pytest.mark.skipif(
    not (SCHEMA_DIR / "config-schema.json").is_file(),
    reason=f"the OCI runtime-spec JSON schema is not installed (Debian package {_PACKAGE})",
)


def _validator(schema: dict[str, Any]) -> Any:
    """A validator of ``schema`` that resolves "defs.json#/..." in SCHEMA_DIR."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    resources = [
        (
            path.name,
            Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT4),
        )
        for path in SCHEMA_DIR.glob("*.json")
    ]
    registry = Registry().with_resources(resources)
    return jsonschema.Draft4Validator(schema, registry=registry)


def _config_schema() -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / "config-schema.json").read_text())


def _check(config: dict[str, Any]) -> None:
    errors = sorted(_validator(_config_schema()).iter_errors(config), key=lambda e: list(e.path))
    described = [
        f"{'.'.join(map(str, error.path)) or '(top)'}: {error.message}" for error in errors
    ]
    assert not described, "config.json breaks the runtime-spec schema:\n" + "\n".join(described)


def _check_process(process: dict[str, Any]) -> None:
    """An exec's OCI process object, by the schema's definition of config.json's process."""
    schema = {**_config_schema()["properties"]["process"], "$schema": _config_schema()["$schema"]}
    errors = list(_validator(schema).iter_errors(process))
    described = [
        f"{'.'.join(map(str, error.path)) or '(top)'}: {error.message}" for error in errors
    ]
    assert not described, "the exec process breaks the runtime-spec schema:\n" + "\n".join(
        described
    )


def _device() -> str:
    return "/dev/null:/dev/mynull:rw"


SECCOMP_PROFILE = json.dumps({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
})  # fmt: skip

CASES: dict[str, list[str]] = {
    "default": [],
    "tty-interactive": ["-t", "-i"],
    "user": ["-u", "1000:1000"],
    "privileged": ["--privileged"],
    "capabilities": ["--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "--cap-drop", "MKNOD"],
    "capabilities-non-root": ["-u", "1000", "--cap-add", "NET_ADMIN"],
    "device": ["--device", _device()],
    "tmpfs": ["--tmpfs", "/scratch:size=1m,mode=1777,exec"],
    "read-only": ["--read-only"],
    "limits": ["--memory", "64m", "--cpus", "0.5", "--pids-limit", "20", "--blkio-weight", "300",
               "--cpuset-cpus", "0"],
    "more-limits": ["--memory", "64m", "--memory-swap", "-1", "--memory-reservation", "32m",
                    "--cpu-shares", "512", "--cpu-period", "50000", "--cpu-quota", "25000"],
    "network-none": ["--network", "none"],
    "network-host": ["--network", "host"],
    "network-bridge": ["--network", "bridge"],
    "ulimit": ["--ulimit", "nofile=100:200", "--ulimit", "nproc=50"],
    "seccomp-profile": ["--security-opt", "seccomp={profile}"],
    "seccomp-unconfined": ["--security-opt", "seccomp=unconfined"],
    "no-new-privileges": ["--security-opt", "no-new-privileges"],
    "workdir-env-hostname": ["-w", "/tmp/work", "-e", "A=1", "-e", "B=two words",
                             "--hostname", "box"],
}  # fmt: skip


def _config(berth: Any, engine: Engine, flags: list[str]) -> dict[str, Any]:
    """config.json of a container run with ``flags`` (it is written when it starts)."""
    profile = engine.paths.root / "seccomp.json"
    profile.write_text(SECCOMP_PROFILE)
    flags = [flag.replace("{profile}", str(profile)) for flag in flags]
    run = berth("run", "-d", *flags, "busybox", "true")
    assert run.returncode == 0, run.stderr
    container_id = run.stdout.strip()
    path = engine.paths.root / "containers" / container_id / "config.json"
    return json.loads(path.read_text())


@pytest.mark.parametrize("flags", CASES.values(), ids=CASES.keys())
def test_config_json_is_valid(berth, engine: Engine, flags: list[str]):
    _check(_config(berth, engine, flags))


async def test_exec_process_is_valid(berth, engine: Engine):
    run = berth("run", "-d", "--cap-add", "NET_ADMIN", "busybox", "sleep", "30")
    assert run.returncode == 0, run.stderr
    container = await engine.containers.get(run.stdout.strip())
    for user, tty, privileged in (("", False, False), ("1000:1000", True, False),
                                  ("", False, True)):  # fmt: skip
        process = engine.containers._exec_process(
            container, ["id"], ["X=1"], "/tmp", user or None, tty, privileged
        )
        _check_process(process)


def test_the_schema_catches_what_it_should():
    """The validator really reads the defs: a device of no known type fails."""
    device = {"path": "/dev/x", "type": "q", "major": 1, "minor": 2}
    bad = {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "linux": {"devices": [device]}}
    with pytest.raises(AssertionError, match=r"linux\.devices\.0\.type"):
        _check(bad)
    assert os.path.isdir(SCHEMA_DIR)


# The builder itself, without root or a container: what bundle.py writes for these options.
_BUILT = {
    "default": CreateOptions("busybox"),
    "flags": CreateOptions(
        "busybox", tty=True, read_only=True, tmpfs=["/t:size=1m,mode=1777"],
        ulimits=["nproc=5:10", "nofile=100"], cap_add=["NET_ADMIN"], cap_drop=["CHOWN"],
        memory=1 << 26, memory_swap=-1, memory_reservation=1 << 25, nano_cpus=500_000_000,
        cpu_shares=512, pids_limit=20, blkio_weight=300, cpuset_cpus="0",
        devices=["/dev/null:/dev/mynull:rw"],
    ),
    "privileged": CreateOptions("busybox", privileged=True),
    "seccomp-profile": CreateOptions("busybox", security_opt=[f"seccomp={SECCOMP_PROFILE}"]),
    "unconfined": CreateOptions("busybox", security_opt=["seccomp=unconfined",
                                                         "no-new-privileges"]),
}  # fmt: skip


@pytest.mark.parametrize("options", _BUILT.values(), ids=_BUILT.keys())
@pytest.mark.parametrize("uid", [0, 1000])
def test_the_builders_config_is_valid(options: CreateOptions, uid: int):
    _check(json.loads(built_config(options, uid).to_json()))


def test_the_models_full_example_is_valid():
    from tests.runtime.test_oci_model import FULL

    _check(FULL)

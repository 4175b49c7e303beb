"""Pure logic: engine/ocispec.py, the one model of config.json the engine writes and the
runtime reads: round trips, and refusal of what the runtime cannot honour, by name."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from engine import ocispec as oci
from engine.containers import security
from engine.containers.model import CreateOptions
from engine.errors import InvalidArgumentError, UnsupportedError
from engine.runtime import resources
from engine.runtime import spec as runtime_spec
from tests.oci_configs import built_config

FULL: dict[str, Any] = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": True,
        "consoleSize": {"height": 24, "width": 80},
        "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 6]},
        "args": ["sh", "-c", "true"],
        "env": ["PATH=/bin", "A=1"],
        "cwd": "/tmp",
        "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"],
                         "inheritable": [], "permitted": ["CAP_CHOWN"], "ambient": []},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "box",
    "domainname": "example.org",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
        {"destination": "/etc/hosts", "type": "bind", "source": "/x/hosts",
         "options": ["rbind", "rprivate"]},
    ],
    "linux": {
        "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"},
                       {"type": "network", "path": "/run/netns/x"}],
        "devices": [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
                     "fileMode": 438, "uid": 0, "gid": 0}],
        "cgroupsPath": "berth/x",
        "resources": {
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "memory": {"limit": 67108864, "reservation": 33554432, "swap": -1},
            "pids": {"limit": 20},
            "blockIO": {"weight": 300},
            "devices": [{"allow": False, "access": "rwm"},
                        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
        },
        "sysctl": {"net.ipv4.ip_forward": "1"},
        "seccomp": {
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                         {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
        },
        "maskedPaths": ["/proc/kcore"],
        "readonlyPaths": ["/proc/sys"],
        "rootfsPropagation": "slave",
    },
    "annotations": {"org.example": "1"},
}  # fmt: skip


def _with(path: str, value: Any) -> dict[str, Any]:
    """FULL with ``value`` at the dotted ``path`` (a number indexes a list)."""
    config = copy.deepcopy(FULL)
    *parents, key = path.split(".")
    node: Any = config
    for parent in parents:
        node = node[int(parent)] if parent.isdigit() else node.setdefault(parent, {})
    node[key] = value
    return config


def test_a_full_config_round_trips() -> None:
    model = oci.Spec.from_dict(copy.deepcopy(FULL))
    assert model.to_dict() == FULL
    assert oci.Spec.from_json(model.to_json()) == model
    assert model.linux is not None and model.linux.resources is not None
    assert model.linux.resources.block_io == oci.BlockIO(weight=300)
    assert model.process is not None and model.process.user.additional_gids == [5, 6]


def test_what_is_not_given_stays_so() -> None:
    minimal = {"ociVersion": "1.0.2", "process": {"cwd": "/", "args": ["x"], "env": []}}
    model = oci.Spec.from_dict(minimal)
    assert model.process == oci.Process(cwd="/", args=["x"], env=[])
    assert model.process.user is None and model.process.terminal is None
    assert model.linux is None and model.root is None and model.mounts is None
    assert model.to_dict() == minimal


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("linux.intelRdt", {"closID": "x"}),
        ("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}]),
        ("linux.mountLabel", "system_u:object_r:container_file_t:s0"),
        ("linux.personality", {"domain": "LINUX32"}),
        ("linux.resources.hugepageLimits", [{"pageSize": "2MB", "limit": 1}]),
        ("linux.resources.memory.swappiness", 10),
        ("linux.resources.cpu.realtimeRuntime", 1000),
        ("linux.resources.blockIO.throttleReadBpsDevice", [{"major": 8, "minor": 0, "rate": 1}]),
        ("linux.resources.network", {"classID": 1}),
        ("linux.seccomp.listenerPath", "/run/seccomp.sock"),
        ("linux.seccomp.flags", ["SECCOMP_FILTER_FLAG_LOG"]),
        ("process.apparmorProfile", "docker-default"),
        ("process.selinuxLabel", "system_u:system_r:container_t:s0"),
        ("process.oomScoreAdj", 100),
        ("process.capabilities.extra", ["CAP_CHOWN"]),
        ("hooks", {"prestart": [{"path": "/bin/true"}]}),
        ("mounts.0.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}]),
        ("windows", {"layerFolders": ["C:\\x"]}),
    ],
)  # fmt: skip
def test_a_field_the_runtime_cannot_honour_is_refused_by_name(path: str, value: Any) -> None:
    shown = re.escape(path.replace(".0.", "[0]."))
    with pytest.raises(UnsupportedError, match=rf"^config\.json: {shown} is not supported$"):
        oci.Spec.from_dict(_with(path, value))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("hooks", {}),  # asks for nothing
        ("linux.uidMappings", []),
        ("process.apparmorProfile", ""),
        ("linux.resources.memory.disableOOMKiller", False),
        ("process.user.username", "someone"),  # Windows only: listed as ignored
        ("process.commandLine", "cmd /c x"),
    ],
)
def test_what_asks_nothing_or_is_listed_as_ignored_loads(path: str, value: Any) -> None:
    assert oci.Spec.from_dict(_with(path, value)).to_dict() == FULL


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("process.user.uid", "0", r"process\.user\.uid must be an integer"),
        ("process.terminal", "yes", r"process\.terminal must be a boolean"),
        ("mounts.1.options", "ro", r"mounts\[1\]\.options must be an array"),
        ("linux.namespaces", {"type": "pid"}, r"linux\.namespaces must be an array"),
        ("linux.sysctl", {"kernel.shmmax": 1}, r"linux\.sysctl\.kernel\.shmmax must be a string"),
        ("linux.resources.pids.limit", True, r"linux\.resources\.pids\.limit must be an integer"),
        ("linux.resources.cpu.cpus", 0, r"linux\.resources\.cpu\.cpus must be a string"),
        ("linux.seccomp", {"syscalls": []}, r"linux\.seccomp\.defaultAction is required"),
        ("process", "sh", r"process must be an object"),
    ],
)
def test_a_field_of_the_wrong_kind_is_named(path: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        oci.Spec.from_dict(_with(path, value))


def test_required_fields_are_named() -> None:
    config = copy.deepcopy(FULL)
    del config["process"]["cwd"]
    with pytest.raises(InvalidArgumentError, match=r"process\.cwd is required"):
        oci.Spec.from_dict(config)
    with pytest.raises(InvalidArgumentError, match="ociVersion is required"):
        oci.Spec.from_dict({})


def test_an_update_is_read_by_the_model_too() -> None:
    assert resources.parse({"pids": {"limit": 5}, "devices": []}).pids == 5
    with pytest.raises(UnsupportedError, match=r"^config\.json: linux\.resources\.rdma is not"):
        resources.parse({"rdma": {"mlx": {"hcaHandles": 1}}})


def test_the_runtime_refuses_through_the_model(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(_with("linux.intelRdt", {"closID": "x"})))
    with pytest.raises(UnsupportedError, match=r"linux\.intelRdt is not supported"):
        runtime_spec.load(tmp_path, "x")
    with pytest.raises(UnsupportedError, match=r"process\.apparmorProfile is not supported"):
        runtime_spec.load_process({"args": ["id"], "cwd": "/", "apparmorProfile": "x"})


def test_the_runtime_reads_the_full_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(FULL))
    loaded = runtime_spec.load(tmp_path, "x")
    assert loaded.root == tmp_path / "rootfs" and loaded.root_readonly
    assert loaded.process.user == runtime_spec.User(1000, 1000, (5, 6), 18)
    assert loaded.process.console_size == (24, 80)
    assert loaded.process.capabilities is not None and loaded.process.capabilities.bounding == 1
    assert loaded.resources.pids == 20 and loaded.resources.blkio_weight == 300
    assert loaded.resources.cpuset_cpus == "0" and loaded.resources.memory_swap == -1
    assert [rule.line() for rule in loaded.device_rules] == ["a *:* rwm", "c 1:3 rwm"]
    assert loaded.devices[0].file_mode == 0o666 and loaded.namespace("network").path
    assert loaded.seccomp == FULL["linux"]["seccomp"]
    assert loaded.rootfs_propagation == "slave" and loaded.domainname == "example.org"


@pytest.mark.parametrize(
    "options",
    [
        CreateOptions("busybox"),
        CreateOptions("busybox", tty=True, read_only=True, tmpfs=["/t:size=1m"],
                      ulimits=["nproc=5:10"], cap_add=["NET_ADMIN"], cap_drop=["CHOWN"],
                      memory=1 << 26, nano_cpus=500_000_000, pids_limit=20, blkio_weight=300,
                      cpuset_cpus="0", devices=["/dev/null:/dev/mynull:rw"]),
        CreateOptions("busybox", privileged=True),
        CreateOptions("busybox", security_opt=["seccomp=unconfined", "no-new-privileges"]),
    ],
    ids=["default", "flags", "privileged", "unconfined"],
)  # fmt: skip
def test_what_the_engine_builds_the_runtime_reads(tmp_path: Path, options: CreateOptions) -> None:
    config = built_config(options)
    text = config.to_json()
    assert oci.Spec.from_json(text) == config
    (tmp_path / "config.json").write_text(text)
    loaded = runtime_spec.load(tmp_path, "x")
    assert loaded.process.args == ("sh",) and loaded.cgroups_path == "berth/x"
    assert loaded.root_readonly == options.read_only
    assert (loaded.seccomp is None) == (options.privileged or bool(options.security_opt))


def test_a_non_root_user_gets_only_what_it_was_given() -> None:
    config = built_config(CreateOptions("busybox", cap_add=["NET_ADMIN"]), uid=1000)
    assert config.process is not None and config.process.capabilities is not None
    assert config.process.capabilities.ambient == ["CAP_NET_ADMIN"]
    assert "CAP_CHOWN" in config.process.capabilities.bounding


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"syscalls": []}, "defaultAction is required"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"]}]},
         r"syscalls\[0\]\.action is required"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
          "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ",
                                                "bogus": 1}]}]},
         r"syscalls\[0\]\.args\[0\]\.bogus is not supported"),
    ],
)  # fmt: skip
def test_a_seccomp_profile_the_runtime_cannot_read_is_refused_at_create(
    profile: dict[str, Any], message: str
) -> None:
    options = CreateOptions("busybox", security_opt=[f"seccomp={json.dumps(profile)}"])
    with pytest.raises(
        InvalidArgumentError, match=f"the seccomp profile cannot be used: {message}"
    ):
        security.check(options)
    security.check(CreateOptions("busybox", privileged=True, security_opt=options.security_opt))

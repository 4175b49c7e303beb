"""Docker's default confinement, seen from inside real containers (run as root)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from engine import runtimes
from engine.runtime.seccomp_cache import CACHE_DIR

DEFAULT_CAPS = "00000000a80425fb"
# Each probe prints "<name>=ok" only when the operation succeeded.
PROBES = (
    "mkdir -p /mnt; mount -t tmpfs none /mnt && echo mount=ok; "
    "echo probe > /proc/sys/kernel/hostname && echo sysctl=ok; "
    '[ -n "$(head -c 16 /proc/timer_list)" ] && echo masked-read=ok; '
    "unshare -n true && echo unshare=ok; "
    "nsenter -t 1 -n true && echo setns=ok; true"
)


def caps(output: str) -> dict[str, str]:
    return dict(re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", output, re.M))


def test_default_capabilities(berth):
    result = berth("run", "--rm", "busybox", "grep", "Cap", "/proc/self/status")
    assert result.returncode == 0, result.stderr
    found = caps(result.stdout)
    for kind in ("CapInh", "CapPrm", "CapEff", "CapBnd"):
        assert found[kind] == DEFAULT_CAPS, kind
    assert int(found["CapAmb"], 16) == 0


def test_default_container_is_confined(berth):
    result = berth("run", "--rm", "busybox", "sh", "-c", PROBES)
    assert result.returncode == 0, result.stderr
    assert "=ok" not in result.stdout
    status = berth("run", "--rm", "busybox", "grep", "Seccomp:", "/proc/self/status")
    assert status.stdout.split() == ["Seccomp:", "2"]  # a filter is loaded


def test_reading_kcore_fails(berth):
    result = berth("run", "--rm", "busybox", "sh", "-c", "head -c 16 /proc/kcore | wc -c")
    assert result.stdout.strip() == "0"  # masked by /dev/null (or absent from this kernel)


def test_privileged_lifts_it(berth):
    result = berth("run", "--rm", "--privileged", "busybox", "sh", "-c", PROBES)
    assert result.returncode == 0, result.stderr
    ok = set(re.findall(r"^([\w-]+)=ok$", result.stdout, re.M))
    assert {"mount", "sysctl", "masked-read", "unshare", "setns"} <= ok
    status = berth("run", "--rm", "--privileged", "busybox", "grep", "-e", "Seccomp:",
                   "-e", "CapEff", "/proc/self/status")  # fmt: skip
    assert "Seccomp:\t0" in status.stdout
    assert int(caps(status.stdout)["CapEff"], 16) & 1 << 21  # CAP_SYS_ADMIN


def test_privileged_sees_host_devices(berth):
    host = sorted(name for name in os.listdir("/dev") if Path("/dev", name).is_char_device())
    result = berth("run", "--rm", "--privileged", "busybox", "ls", "/dev")
    assert set(host) - {"console", "ptmx"} <= set(result.stdout.split())


def test_drop_all_add_one(berth):
    result = berth("run", "--rm", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE",
                   "busybox", "grep", "Cap", "/proc/self/status")  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = caps(result.stdout)
    assert found["CapEff"] == found["CapBnd"] == f"{1 << 10:016x}"


def test_cap_drop_one(berth):
    result = berth("run", "--rm", "--cap-drop", "chown", "busybox", "sh", "-c",
                   "grep CapEff /proc/self/status; chown 1 /tmp || echo refused")  # fmt: skip
    assert caps(result.stdout)["CapEff"] == f"{0xA80425FB & ~1:016x}"
    assert "refused" in result.stdout


def test_unknown_capability_is_refused(berth):
    result = berth("run", "--rm", "--cap-add", "NOT_A_CAP", "busybox", "true")
    assert result.returncode == 125
    assert "unknown capability" in result.stderr


def test_non_root_user_has_no_capabilities(berth):
    result = berth("run", "--rm", "-u", "1000", "busybox", "grep", "Cap", "/proc/self/status")
    found = caps(result.stdout)
    assert int(found["CapEff"], 16) == int(found["CapPrm"], 16) == 0
    assert found["CapBnd"] == DEFAULT_CAPS


def test_non_root_user_keeps_added_capabilities(berth):
    result = berth("run", "--rm", "-u", "1000", "--cap-add", "NET_ADMIN", "busybox",
                   "grep", "CapEff", "/proc/self/status")  # fmt: skip
    assert caps(result.stdout)["CapEff"] == f"{1 << 12:016x}"


def test_exec_gets_the_containers_capabilities(berth):
    name = "capexec"
    assert berth("run", "-d", "--name", name, "busybox", "sleep", "60").returncode == 0
    try:
        plain = berth("exec", name, "grep", "Cap", "/proc/self/status")
        assert caps(plain.stdout)["CapEff"] == DEFAULT_CAPS
        user = berth("exec", "-u", "1000", name, "grep", "CapEff", "/proc/self/status")
        assert int(caps(user.stdout)["CapEff"], 16) == 0
        privileged = berth("exec", "--privileged", name, "grep", "CapEff", "/proc/self/status")
        assert int(caps(privileged.stdout)["CapEff"], 16) & 1 << 21  # CAP_SYS_ADMIN
        # The container's seccomp profile still applies to exec'd processes.
        status = berth("exec", name, "grep", "Seccomp:", "/proc/self/status")
        assert status.stdout.split() == ["Seccomp:", "2"]
    finally:
        berth("rm", "-f", name)


def test_seccomp_profile_denying_mkdir(berth, tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }))  # fmt: skip
    result = berth("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox",
                   "mkdir", "/tmp/denied")  # fmt: skip
    assert result.returncode != 0
    assert "Operation not permitted" in result.stderr


def test_seccomp_profile_is_compiled_once(berth, engine, tmp_path):
    # The runtime keeps the compiled filter in the run dir: later starts and execs
    # load that, and are confined just the same.
    cache = runtimes.state_root(runtimes.BUILTIN, engine.paths.runroot) / CACHE_DIR
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }))  # fmt: skip
    option = f"seccomp={profile}"
    first = berth("run", "--rm", "--security-opt", option, "busybox", "mkdir", "/x")
    assert "Operation not permitted" in first.stderr
    entries = sorted(cache.iterdir())
    assert entries, "nothing cached"
    name = "seccompcache"
    started = berth("run", "-d", "--name", name, "--security-opt", option, "busybox", "sleep", "60")
    assert started.returncode == 0, started.stderr
    try:
        exec_result = berth("exec", name, "mkdir", "/y")
        assert exec_result.returncode != 0
        assert "Operation not permitted" in exec_result.stderr
    finally:
        berth("rm", "-f", name)
    assert sorted(cache.iterdir()) == entries  # the same profile: the same entry


def test_seccomp_unconfined(berth):
    result = berth("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox",
                   "grep", "Seccomp:", "/proc/self/status")  # fmt: skip
    assert result.stdout.split() == ["Seccomp:", "0"]


def test_no_new_privileges(berth):
    result = berth("run", "--rm", "--security-opt", "no-new-privileges", "busybox",
                   "grep", "NoNewPrivs", "/proc/self/status")  # fmt: skip
    assert result.stdout.split() == ["NoNewPrivs:", "1"]


def test_read_only_root_with_tmpfs(berth):
    result = berth("run", "--rm", "--read-only", "--tmpfs", "/scratch:size=1m", "busybox",
                   "sh", "-c", "touch /x || echo root-refused; touch /scratch/x && echo tmpfs-ok; "
                   "grep ' /scratch ' /proc/mounts")  # fmt: skip
    assert "root-refused" in result.stdout and "tmpfs-ok" in result.stdout
    assert all(flag in result.stdout for flag in ("nosuid", "nodev", "noexec"))


def test_ulimit(berth):
    result = berth("run", "--rm", "--ulimit", "nofile=100:200", "busybox", "sh", "-c",
                   "ulimit -n; ulimit -Hn")  # fmt: skip
    assert result.stdout.split() == ["100", "200"]


def test_device_flag(berth):
    result = berth("run", "--rm", "--device", "/dev/null:/dev/extra", "busybox", "sh", "-c",
                   "echo x > /dev/extra && echo written")  # fmt: skip
    assert "written" in result.stdout, result.stderr

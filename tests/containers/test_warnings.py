"""The engine's part in warnings: the monitor's ready message read, the notes worded for a user.

The whole path (runtime -> monitor -> engine -> ``WARNING:`` on the CLI's stderr) is
tested as a user meets it in tests/e2e/test_e2e_warnings.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.containers import limits
from engine.containers.lifecycle import MonitorHandle, read_ready
from engine.containers.model import CreateOptions
from engine.errors import ContainerStartError

PIDS = "linux.resources.pids.limit is not applied (no pids.max): the pids controller is absent"
QUOTA = "linux.resources.cpu.quota is not applied (no cpu.cfs_quota_us): no cpu controller"
PERIOD = "linux.resources.cpu.period is not applied (no cpu.cfs_period_us): no cpu controller"
DEVICES = "device rules are not enforced: no devices controller"


def test_a_note_on_a_limit_names_the_flag_and_why() -> None:
    options = CreateOptions(image="busybox", pids_limit=50)
    assert limits.warnings([PIDS], options) == [
        "--pids-limit is not applied: the pids controller is absent"
    ]


def test_cpus_is_named_once_for_its_quota_and_period() -> None:
    cpus = CreateOptions(image="busybox", nano_cpus=500_000_000)
    assert limits.warnings([PERIOD, QUOTA], cpus) == ["--cpus is not applied: no cpu controller"]
    quota = CreateOptions(image="busybox", cpu_quota=50_000, cpu_period=100_000)
    assert limits.warnings([PERIOD, QUOTA], quota) == [
        "--cpu-period is not applied: no cpu controller",
        "--cpu-quota is not applied: no cpu controller",
    ]


def test_a_note_on_no_single_limit_is_passed_on_as_it_is() -> None:
    assert limits.warnings([DEVICES, DEVICES], CreateOptions(image="busybox")) == [DEVICES]


def _handle(message: bytes | None) -> MonitorHandle:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    if message is not None:
        os.write(write_end, message)
    os.close(write_end)
    return MonitorHandle("unused.sock", read_end)


def test_read_ready_returns_the_monitors_warnings(tmp_path: Path) -> None:
    message = json.dumps({"ok": True, "warnings": [PIDS]}).encode()
    assert read_ready(_handle(message), tmp_path) == [PIDS]


def test_read_ready_of_an_older_monitor_without_warnings(tmp_path: Path) -> None:
    assert read_ready(_handle(b'{"ok": true}'), tmp_path) == []


def test_read_ready_still_raises_what_failed(tmp_path: Path) -> None:
    message = json.dumps({"ok": False, "error": "no such file", "code": 127}).encode()
    with pytest.raises(ContainerStartError, match="no such file"):
        read_ready(_handle(message), tmp_path)

"""Docker's resource flags: parsing, Docker's errors, and the v2 conversions."""

from __future__ import annotations

import os

import pytest

from engine.cgroups.limits import blkio_to_io_weight, shares_to_weight
from tests.limits.kernel import NO_NETWORK, inspect, limits, on_both

MIB = 1024 * 1024


@pytest.mark.parametrize(("shares", "weight"), [(2, 1), (512, 59), (1024, 100), (262144, 10000)])
def test_shares_to_weight_as_current_runc_and_crun(shares, weight):
    assert shares_to_weight(shares) == weight


def test_blkio_weight_to_io_weight():
    assert [blkio_to_io_weight(w) for w in (10, 500, 1000)] == [1, 4950, 10000]


CPUS = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--cpus", str(CPUS + 1)], f"Range of CPUs is from 0.01 to {CPUS}.00, as there are "
                                    f"only {CPUS} CPUs available"),
        (["--cpus", "0.001"], "Range of CPUs is from 0.01"),
        (["--cpus", "half"], 'invalid argument "half" for "--cpus" flag: failed to parse half '
                             "as a rational number"),
        (["-m", "4m"], "Minimum memory limit allowed is 6MB"),
        (["-m", "lots"], 'invalid argument "lots" for "--memory" flag'),
        (["--memory-swap", "1g"], "You should always set the Memory limit when using "
                                  "Memoryswap limit"),
        (["-m", "1g", "--memory-swap", "512m"], "Minimum memoryswap limit should be larger"),
        (["--cpus", "1", "--cpu-quota", "50000"], "Conflicting options: Nano CPUs and CPU Quota"),
        (["--cpu-period", "100"], "CPU cfs period can not be less than 1ms"),
        (["--blkio-weight", "5"], "Range of blkio weight is from 10 to 1000"),
        (["--cpuset-cpus", "0-64"], "Requested CPUs are not available - requested 0-64"),
        (["--cpuset-cpus", "a"], "Invalid value a for cpuset cpus"),
        (["--pids-limit", "many"], 'invalid argument "many" for "--pids-limit" flag'),
    ],
)  # fmt: skip
def test_bad_values_get_dockers_errors_and_create_nothing(berth, flags, message):
    result = berth("run", *flags, "busybox", "true")
    assert result.returncode == 125
    assert result.stderr.startswith("berth: ") and message in result.stderr, result.stderr
    assert berth("ps", "-a", "-q").stdout == ""


def test_sizes_parse_like_dockers(berth):
    berth("create", "--name", "sized", "-m", "1.5g", "--memory-reservation", "512m",
          "--memory-swap", "-1", "busybox", "true")  # fmt: skip
    host_config = inspect(berth, "sized")["HostConfig"]
    assert (host_config["Memory"], host_config["MemoryReservation"]) == (1536 * MIB, 512 * MIB)
    assert host_config["MemorySwap"] == -1


def test_update_needs_a_flag_and_an_existing_container(berth):
    assert berth("update", "nothere").stderr.startswith("berth: you must provide one or more")
    missing = berth("update", "-m", "64m", "nothere")
    assert (missing.returncode, missing.stderr) == (
        1, 'berth: no such container: "nothere" (see berth ps -a)\n'
    )  # fmt: skip


@on_both
def test_update_of_a_stopped_container_applies_at_its_next_start(berth):
    berth("create", *NO_NETWORK, "--name", "later", "-m", "64m", "busybox", "sleep", "300")
    assert berth("update", "--pids-limit", "30", "-m", "96m", "--memory-swap", "128m",
                 "later").returncode == 0  # fmt: skip
    assert berth("start", "later").returncode == 0
    container_id = inspect(berth, "later")["Id"]
    expected = {"--pids-limit": "30", "--memory": str(96 * MIB), "--memory-swap": str(128 * MIB)}
    assert limits(container_id, expected) == expected

"""Many berth commands at once, as a benchmark's set-up and clean-up run them.

50 ``run -d`` at the same moment, then 50 ``rm -f``: every one succeeds, every
container gets its own address, and the fixture's leak check finds nothing after.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.e2e.berth_cli import HEX64, Berth, describe

_COUNT = 50


def test_fifty_concurrent_runs_then_fifty_concurrent_removals(berth: Berth) -> None:
    with ThreadPoolExecutor(max_workers=_COUNT) as pool:
        runs = list(pool.map(
            lambda i: berth("run", "-d", "--name", f"many{i}", "busybox", "sleep", "600",
                            timeout=300),
            range(_COUNT),
        ))  # fmt: skip
        failed = [describe(run) for run in runs if run.returncode != 0]
        assert not failed, "\n".join(failed)
        ids = [run.stdout.strip() for run in runs]
        assert all(HEX64.fullmatch(cid) for cid in ids)
        states = berth.ps()
        assert sorted(states) == sorted(f"many{i}" for i in range(_COUNT))
        assert {state for state, _ in states.values()} == {"running"}, states
        addresses = [
            item["NetworkSettings"]["IPAddress"] for item in berth.inspect(*ids)
        ]  # fmt: skip
        assert len(set(addresses)) == _COUNT, addresses

        removals = list(pool.map(lambda cid: berth("rm", "-f", cid, timeout=300), ids))
    failed = [describe(removal) for removal in removals if removal.returncode != 0]
    assert not failed, "\n".join(failed)
    assert berth.ids() == []

"""Host facts probed once per boot: kept in the run dir under the kernel's boot id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.network import boot_cache, firewall
from engine.paths import EnginePaths

BOOT_ID = Path("/proc/sys/kernel/random/boot_id").read_text().strip()


class _Probe:
    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        return self.answers.pop(0)


def _works(problem: object) -> bool:
    return problem is None


def _store(runroot: Path, name: str, boot: str, value: object) -> None:
    path = boot_cache.directory(runroot) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"boot": boot, "value": value}))


def test_a_fact_is_probed_once_per_boot(tmp_path: Path) -> None:
    probe = _Probe(1400)
    assert boot_cache.cached(tmp_path, "mtu", probe) == 1400
    assert boot_cache.cached(tmp_path, "mtu", probe) == 1400
    assert probe.calls == 1
    stored = json.loads((boot_cache.directory(tmp_path) / "mtu.json").read_text())
    assert stored == {"boot": BOOT_ID, "value": 1400}


def test_a_fact_of_an_earlier_boot_is_probed_again(tmp_path: Path) -> None:
    _store(tmp_path, "mtu", "an-earlier-boot", 9000)
    probe = _Probe(1500)
    assert boot_cache.cached(tmp_path, "mtu", probe) == 1500
    assert probe.calls == 1
    assert boot_cache.cached(tmp_path, "mtu", probe) == 1500  # stored for this boot now


def test_an_unreadable_fact_is_probed_again(tmp_path: Path) -> None:
    path = boot_cache.directory(tmp_path) / "mtu.json"
    path.parent.mkdir(parents=True)
    path.write_text("{half a")
    assert boot_cache.cached(tmp_path, "mtu", _Probe(1500)) == 1500


def test_an_answer_not_kept_is_probed_every_time(tmp_path: Path) -> None:
    probe = _Probe("nft is not installed", None)
    assert boot_cache.cached(tmp_path, "nft", probe, _works) == "nft is not installed"
    assert boot_cache.cached(tmp_path, "nft", probe, _works) is None
    assert boot_cache.cached(tmp_path, "nft", probe, _works) is None
    assert probe.calls == 2


@pytest.mark.root("nft list tables")
def test_the_nft_probe_of_an_earlier_boot_is_not_believed(tmp_path: Path) -> None:
    paths = EnginePaths(tmp_path / "root", tmp_path / "run")
    _store(paths.runroot, "nft", "an-earlier-boot", "nft (nftables) is not installed")
    if firewall.available(paths) is not None:
        pytest.skip("needs nft that can set rules")
    stored = json.loads((boot_cache.directory(paths.runroot) / "nft.json").read_text())
    assert stored == {"boot": BOOT_ID, "value": None}

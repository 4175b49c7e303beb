"""engine/runtimes: choosing a runtime by name, and a runtime binary's errors (a fake one)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from engine import runtimes
from engine.errors import ConflictError, ContainerStartError, NotFoundError
from engine.runtimes.binary import BinaryRuntime
from engine.runtimes.builtin import BuiltinRuntime

# A runtime binary that logs, as runc does with --log-format json, the error it is given
# in $FAKE_ERROR and exits 1; or prints $FAKE_OUTPUT and exits 0. It records its argv.
_FAKE = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls"
while [ $# -gt 0 ]; do
    case "$1" in --log) log="$2"; shift;; --pid-file) pid="$2"; shift;; esac
    shift
done
if [ -n "$FAKE_ERROR" ]; then
    message=$(printf '%s' "$FAKE_ERROR" | sed 's/"/\\\\"/g')
    printf '{"level":"error","msg":"%s","time":"now"}\\n' "$message" >> "$log"
    echo "$FAKE_ERROR" >&2
    exit 1
fi
[ -n "$pid" ] && echo 4242 > "$pid"
printf '%s' "$FAKE_OUTPUT"
"""


@pytest.fixture
def fake(tmp_path: Path) -> BinaryRuntime:
    binary = tmp_path / "bin" / "fakert"
    binary.parent.mkdir()
    binary.write_text(_FAKE)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return BinaryRuntime(binary, tmp_path / "run" / "runtimes" / "fakert")


def _calls(runtime: BinaryRuntime) -> list[str]:
    return (runtime.path.parent / "calls").read_text().splitlines()


def test_berth_is_the_builtin_runtime_with_its_usual_state_dir(tmp_path: Path) -> None:
    runtime = runtimes.get("berth", tmp_path)
    assert isinstance(runtime, BuiltinRuntime)
    assert runtime.state_root == tmp_path / "runtime"
    assert runtime.children_are_ours


def test_a_binary_on_path_or_by_absolute_path(fake: BinaryRuntime, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", str(fake.path.parent))
    by_name = runtimes.get("fakert", tmp_path)
    assert isinstance(by_name, BinaryRuntime) and by_name.path == fake.path
    assert by_name.state_root == tmp_path / "runtimes" / "fakert"
    assert not by_name.children_are_ours
    by_path = runtimes.get(str(fake.path), tmp_path)
    assert by_path.name == "fakert" and by_path.path == fake.path


@pytest.mark.parametrize("name", ["runx", "/no/such/runtime", "relative/runc", ""])
def test_an_unknown_runtime_is_named(name: str, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as raised:
        runtimes.get(name, tmp_path)
    assert str(raised.value) == f'no such OCI runtime: "{name}" (install it, or see --runtime)'


def test_the_default_comes_from_berth_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_RUNTIME", raising=False)
    assert runtimes.default_name() == "berth"
    monkeypatch.setenv("BERTH_RUNTIME", "runc")
    assert runtimes.default_name() == "runc"


def test_create_speaks_runcs_command_line(fake: BinaryRuntime, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"linux": {"cgroupsPath": "berth/c1"}}))
    console = tmp_path / "console.sock"
    assert fake.create("c1", bundle, console_socket=console) == 4242
    argv = _calls(fake)[-1].split()
    assert argv[:2] == ["--root", str(fake.state_root)]
    assert argv[4:6] == ["--log-format", "json"]
    assert argv[6:9] == ["create", "--bundle", str(bundle)]
    assert argv[-3:] == ["--console-socket", str(console), "c1"]
    # runc reads a relative cgroupsPath from its own cgroup: berth's is from the root.
    config = json.loads((bundle / "config.json").read_text())
    assert config["linux"]["cgroupsPath"] == "/berth/c1"
    assert not list(fake.state_root.parent.glob(".fakert-*")), "a call's scratch files stayed"


def test_kill_delete_update_and_exec_arguments(fake: BinaryRuntime) -> None:
    fake.kill("c1", 9, all=True)
    fake.delete("c1", force=True)
    assert fake.update("c1", {"memory": {"limit": 1}}) == []
    assert fake.exec("c1", {"args": ["true"]}) == 4242
    calls = [line.split()[6:] for line in _calls(fake)]
    assert calls[0] == ["kill", "--all", "c1", "9"]
    assert calls[1] == ["delete", "--force", "c1"]
    assert calls[2] == ["update", "--resources", "-", "c1"]
    assert calls[3][0] == "exec" and "--detach" in calls[3] and calls[3][-1] == "c1"


def test_its_errors_name_the_runtime_and_the_command(
    fake: BinaryRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ERROR", "container does not exist")
    with pytest.raises(NotFoundError, match=r"^fakert state failed: container does not exist$"):
        fake.state("c1")
    monkeypatch.setenv("FAKE_ERROR", "container not running")
    with pytest.raises(ConflictError, match=r"^fakert kill failed: container not running$"):
        fake.kill("c1", 15)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    monkeypatch.setenv(
        "FAKE_ERROR", 'unable to start container process: exec: "nope": executable file not found'
    )
    with pytest.raises(ContainerStartError) as raised:
        fake.create("c1", bundle)
    assert raised.value.exit_code == 127
    assert str(raised.value).startswith("fakert create failed: unable to start container process")
    monkeypatch.setenv("FAKE_ERROR", "some mount failed")
    with pytest.raises(ContainerStartError) as raised:
        fake.create("c1", bundle)
    assert (raised.value.exit_code, str(raised.value)) == (
        125, "fakert create failed: some mount failed"
    )  # fmt: skip

"""The installed ``berth`` command, one fresh process per step, as a user runs it.

Nothing here imports the engine or opens its database: a test process that holds
either keeps alive exactly the state a user's shell never has.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BERTH = str(Path(sys.executable).with_name("berth"))
HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Berth:
    """``berth --root R --runroot RR ...`` for one temporary engine."""

    root: Path
    runroot: Path
    #: every container id any step saw (ps, inspect, run -d, the directory watcher)
    seen: set[str] = field(default_factory=set)
    #: bridge names of every network seen, for the leak check
    bridges: set[str] = field(default_factory=set)
    _watcher: IdWatcher | None = None

    def argv(self, *args: str) -> list[str]:
        return [BERTH, "--root", str(self.root), "--runroot", str(self.runroot), *args]

    def __call__(
        self, *args: str, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.argv(*args), input=input, capture_output=True, text=True,
                                timeout=timeout, check=False)  # fmt: skip
        self.seen.update(HEX64.findall(result.stdout))
        return result

    def ok(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a step that must succeed; the assertion shows what berth said."""
        result = self(*args, timeout=timeout)
        assert result.returncode == 0, describe(result)
        return result

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        """A step in its own session, so it alone can be killed."""
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(self.argv(*args), start_new_session=True, **kwargs)

    def ids(self) -> list[str]:
        """Every container ``ps -a`` lists, full ids."""
        result = self.ok("ps", "-aq", "--no-trunc")
        return result.stdout.split()

    def ps(self) -> dict[str, tuple[str, str]]:
        """``ps -a`` as {name: (State, Status)}."""
        result = self.ok("ps", "-a", "--format", "{{.Names}}\t{{.State}}\t{{.Status}}")
        rows = [line.split("\t") for line in result.stdout.splitlines() if line.strip()]
        return {row[0]: (row[1], row[2]) for row in rows}

    def inspect(self, *refs: str) -> list[dict[str, Any]]:
        """``inspect`` JSON of what exists among ``refs`` (missing ones are left out)."""
        result = self("inspect", *refs)
        try:
            found = json.loads(result.stdout or "[]")
        except json.JSONDecodeError as error:
            raise AssertionError(f"inspect printed no JSON: {describe(result)}") from error
        self.seen.update(item["Id"] for item in found if HEX64.fullmatch(item.get("Id", "")))
        return found

    def state(self, ref: str) -> dict[str, Any]:
        found = self.inspect(ref)
        assert found, f"inspect {ref} found nothing"
        return found[0]["State"]

    def watch(self) -> None:
        """Record ids of containers too short-lived for any ``ps`` to see (``run --rm``)."""
        self._watcher = IdWatcher([self.root / "containers", self.runroot / "containers",
                                   self.runroot / "runtime"], self.seen)  # fmt: skip
        self._watcher.start()

    def unwatch(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None


class IdWatcher(threading.Thread):
    """Lists the engine's per-container directories every few ms; adds every id seen.

    Plain directory listings: no engine code and no database in the test process.
    """

    def __init__(self, directories: list[Path], seen: set[str], interval: float = 0.01) -> None:
        super().__init__(name="berth-id-watcher", daemon=True)
        self._directories = directories
        self._seen = seen
        self._interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            for directory in self._directories:
                try:
                    names = os.listdir(directory)
                except OSError:
                    continue
                self._seen.update(name for name in names if HEX64.fullmatch(name))

    def stop(self) -> None:
        self._stopped.set()
        self.join(5)


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A step and what came of it, for assertion messages."""
    command = " ".join(result.args[5:]) if isinstance(result.args, list) else result.args
    return (f"`berth {command}` exited {result.returncode}\n"
            f"stdout: {result.stdout!r}\nstderr: {result.stderr!r}")  # fmt: skip


def timed(step: Callable[[], Any]) -> tuple[Any, float]:
    """What ``step`` returns and how many seconds it took."""
    start = time.monotonic()
    value = step()
    return value, time.monotonic() - start


def poll(check: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """The first truthy value of ``check()`` within ``timeout`` seconds, else the last."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def parent_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no PPid in /proc/{pid}/status")

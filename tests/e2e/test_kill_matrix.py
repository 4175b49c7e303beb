"""SIGKILL berth commands (and monitors) at chosen moments; then berth must tell the truth.

For each command, a fresh ``berth`` process is killed 20, 50, 100, 200, 300 and 400 ms
after it starts, at 50 % and 80 % of its complete run (measured first: under load,
starting Python alone can outlast 400 ms), and once left to finish. Then, as a user
would: ``ps -a`` must exit 0 and be right (a Created container starts, an Up one is
running and stops, an Exited one has no process left, a ``--rm`` one goes away by
itself), everything is removed, and nothing may remain (tests/e2e/leaks.py), compared
with what was there before.
A container's monitor is killed too, while the container runs and while it exits.

Every point is reported, found problems or not: ``pytest -s`` prints the table, it is
written to kill_matrix.txt in the test's tmp dir, and the assertion carries it.
Three engine roots work in parallel (each point only looks at its own root), to keep
the whole matrix within a few minutes on two cores.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e import leaks
from tests.e2e.berth_cli import HEX64, Berth, describe, parent_of, pid_alive
from tests.e2e.conftest import settled_leaks

KILL_AFTER_MS = (20, 50, 100, 200, 300, 400)  # and once never: the command runs to its end
RELATIVE_KILLS = (0.5, 0.8)  # of the complete run's duration, when past the fixed moments
MONITOR_KILL_AFTER_EXIT_MS = (-50, 0, 50, 200)  # around the moment its container exits
WORKERS = 3
SLEEPER = ("busybox", "sleep", "1000")


@dataclass
class Point:
    """One kill and what berth said and left afterwards."""

    what: str
    when: str
    client: str = ""
    listed: str = ""
    problems: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.leaked)


@dataclass
class Worker:
    """One engine root working through its share of the points."""

    berth: Berth
    tarball: Path
    octet: int  # its networks are 10.<octet>.N.0/24: a stray bridge is found by address
    networks: itertools.count = field(default_factory=lambda: itertools.count(1))
    names: itertools.count = field(default_factory=itertools.count)
    busybox: str = ""  # the image id every point keeps
    baseline: set[leaks.Leak] = field(default_factory=set)  # what no point may be blamed for

    def subnet(self) -> str:
        return f"10.{self.octet}.{next(self.networks)}.0/24"

    def tag(self) -> str:
        """A fresh container (and image, network) name for the next point."""
        return f"kp{self.octet}-{next(self.names)}"


@dataclass(frozen=True)
class Scenario:
    """A command to kill: ``prepare`` makes what it needs and returns its arguments."""

    what: str
    prepare: Callable[[Worker, str], list[str]]
    auto_remove: bool = False  # a run --rm: its container must go away by itself
    makes_images: bool = False
    uses_networks: bool = False


# -- the commands ----------------------------------------------------------------------


def _run_detached(worker: Worker, tag: str) -> list[str]:
    return ["run", "-d", "--name", tag, *SLEEPER]


def _run_rm(worker: Worker, tag: str) -> list[str]:
    return ["run", "--rm", "--name", tag, "busybox", "sh", "-c", "sleep 1"]


def _create(worker: Worker, tag: str) -> list[str]:
    return ["create", "--name", tag, *SLEEPER]


def _start(worker: Worker, tag: str) -> list[str]:
    worker.berth.ok("create", "--name", tag, *SLEEPER)
    return ["start", tag]


def _stop(worker: Worker, tag: str) -> list[str]:
    worker.berth.ok("run", "-d", "--name", tag, *SLEEPER)
    return ["stop", "-t", "1", tag]


def _rm_force(worker: Worker, tag: str) -> list[str]:
    worker.berth.ok("run", "-d", "--name", tag, *SLEEPER)
    return ["rm", "-f", tag]


def _commit(worker: Worker, tag: str) -> list[str]:
    worker.berth.ok("run", "-d", "--name", tag, "busybox", "sh", "-c", "echo x > /f; sleep 1000")
    return ["commit", tag, f"kp/{tag}:latest"]


def _import(worker: Worker, tag: str) -> list[str]:
    return ["import", str(worker.tarball), f"kp/{tag}:latest"]


def _network_create(worker: Worker, tag: str) -> list[str]:
    return ["network", "create", "--subnet", worker.subnet(), tag]


def _network_connect(worker: Worker, tag: str) -> list[str]:
    worker.berth.ok("network", "create", "--subnet", worker.subnet(), f"{tag}-net")
    worker.berth.ok("run", "-d", "--name", tag, *SLEEPER)
    return ["network", "connect", f"{tag}-net", tag]


SCENARIOS = (
    Scenario("run -d", _run_detached),
    Scenario("run --rm", _run_rm, auto_remove=True),
    Scenario("create", _create),
    Scenario("start", _start),
    Scenario("stop", _stop),
    Scenario("rm -f", _rm_force),
    Scenario("commit", _commit, makes_images=True),
    Scenario("import", _import, makes_images=True),
    Scenario("network create", _network_create, uses_networks=True),
    Scenario("network connect", _network_connect, uses_networks=True),
)


def rootfs_tarball(scratch: Path) -> Path:
    """A small root file system: the host's static busybox and a few of its applets."""
    path = scratch / "rootfs.tar"
    with tarfile.open(path, "w") as tar:
        tar.add("/bin/busybox", "bin/busybox")
        for applet in ("sh", "true", "sleep", "echo"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return path


# -- killing ---------------------------------------------------------------------------


def kill_client(berth: Berth, argv: list[str], kill_ms: int | None) -> tuple[str, float]:
    """Run ``berth ARGV`` in its own session; SIGKILL it alone after ``kill_ms``.

    Returns what became of it, and how many ms it ran.
    """
    process = berth.popen(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    start = time.monotonic()
    if kill_ms is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=kill_ms / 1000)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=120)
    took = (time.monotonic() - start) * 1000
    berth.seen.update(HEX64.findall(stdout.decode(errors="replace")))
    if process.returncode == -signal.SIGKILL:
        return "killed", took
    message = stderr.decode(errors="replace").strip().splitlines()
    said = f": {message[-1]}" if message else ""
    return f"exit {process.returncode} at {took:.0f} ms{said}", took


def kill_monitor(berth: Berth, tag: str, after_exit_ms: int | None) -> tuple[str, float]:
    """Kill the monitor of a running container, or ``after_exit_ms`` around its exit.

    The container waits for a file the test writes into its root, then sleeps 0.3 s and
    exits: the kill lands at a known moment of its end.
    """
    if after_exit_ms is None:
        berth.ok("run", "-d", "--name", tag, *SLEEPER)
    else:
        script = "while [ ! -e /go ]; do sleep 0.05; done; sleep 0.3"
        berth.ok("run", "-d", "--name", tag, "busybox", "sh", "-c", script)
    [found] = berth.inspect(tag)
    pid = found["State"]["Pid"]
    monitor = parent_of(pid)
    command = Path(f"/proc/{monitor}/cmdline").read_bytes()
    assert b"engine.monitor" in command, f"the parent of {pid} is not a monitor: {command!r}"
    if after_exit_ms is not None:
        (Path(found["GraphDriver"]["Data"]["MergedDir"]) / "go").touch()
        time.sleep(max(0.0, 0.3 + after_exit_ms / 1000))
    os.kill(monitor, signal.SIGKILL)
    return f"monitor {monitor} killed; init {pid} {'alive' if pid_alive(pid) else 'gone'}", 0.0


# -- the truth, afterwards ----------------------------------------------------------------

Row = tuple[str, str, str, str]  # id, name, State, Status as ps -a prints them


def listed_containers(berth: Berth) -> list[Row]:
    result = berth.ok("ps", "-a", "--no-trunc", "--format",
                      "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Status}}")  # fmt: skip
    return [tuple(line.split("\t")) for line in result.stdout.splitlines() if line.count("\t") == 3]


@dataclass
class Truth:
    """What ``ps -a`` said, what is wrong with it, and what each action must lead to."""

    listed: str = "(none)"
    problems: list[str] = field(default_factory=list)
    #: name -> the states (None: removed) it may be in after this check's actions
    expect: dict[str, set[str | None]] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)  # what ps listed


def check_truth(berth: Berth, scenario: Scenario | None) -> Truth:
    """Every way ``ps -a`` differs from the kernel's facts; act as its answer invites."""
    truth = Truth()
    try:
        rows = listed_containers(berth)
    except AssertionError as error:
        truth.problems.append(f"ps -a failed: {error}")
        return truth
    truth.listed = ", ".join(f"{name}: {status}" for _, name, _, status in rows) or "(none)"
    truth.ids = [cid for cid, _, _, _ in rows]
    names = [name for _, name, _, _ in rows]
    found = {item["Name"].lstrip("/"): item for item in berth.inspect(*names)} if rows else {}
    for name, (_, _, state, _) in zip(names, rows, strict=True):
        if name in found:
            _check_container(berth, scenario, found[name], state, truth)
        else:  # gone since ps, as a --rm container may be; or listed and not there at all
            truth.expect[name] = {None}
    if scenario is not None and scenario.makes_images:
        truth.problems += _images_usable(berth)
    return truth


def _check_container(berth: Berth, scenario: Scenario | None, found: dict, state: str,
                     truth: Truth) -> None:  # fmt: skip
    name, facts = found["Name"].lstrip("/"), found["State"]
    auto_remove = scenario is not None and scenario.auto_remove
    if state == "paused":
        truth.problems.append(f"{name}: left paused")
        berth("unpause", name)
        state = "running"
    if state == "running":
        if not pid_alive(facts["Pid"]) and _up_without_init(berth, name, facts["Pid"]):
            truth.problems.append(f"{name}: says Up, but its init {facts['Pid']} is gone")
        elif scenario is not None and scenario.uses_networks:
            truth.problems += _networks_true(berth, name, found)
        if auto_remove:  # it ends by itself, then must go
            truth.expect[name] = {None}
            return
        stopped = berth("stop", "-t", "0", name)
        if stopped.returncode != 0:
            truth.problems.append(f"{name}: says Up, yet stop fails: {describe(stopped)}")
        truth.expect[name] = {"exited"}
    elif state == "created":
        started = berth("start", name)
        if started.returncode != 0:
            truth.problems.append(f"{name}: says Created, yet start fails: {describe(started)}")
        truth.expect[name] = {None} if auto_remove else {"running", "exited"}
    elif state == "exited":
        left = processes_in_cgroup(found["Id"])
        if left:
            truth.problems.append(f"{name}: says Exited, yet processes {left} run in its cgroup")
        if scenario is None:
            truth.problems += _waits(berth, name)
        if auto_remove:
            truth.expect[name] = {None}
    else:
        truth.problems.append(f"{name}: state {state!r}")


def _up_without_init(berth: Berth, name: str, pid: int) -> bool:
    """Whether berth still says Up 2 s after its init died (it may have just ended)."""

    def still() -> bool:
        found = berth.inspect(name)
        return bool(found) and found[0]["State"]["Running"] and found[0]["State"]["Pid"] == pid

    deadline = time.monotonic() + 2
    while (up := still()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return up


def _waits(berth: Berth, name: str) -> list[str]:
    """``wait`` of an exited container answers at once, whatever its monitor did."""
    try:
        result = berth("wait", name, timeout=10)
    except subprocess.TimeoutExpired:
        return [f"{name}: says Exited, yet wait hangs"]
    return [] if result.returncode == 0 else [f"{name}: wait fails: {describe(result)}"]


def _networks_true(berth: Berth, name: str, found: dict) -> list[str]:
    """inspect's networks are the container's interfaces, no more and no fewer."""
    said = set(found["NetworkSettings"]["Networks"])
    shown = berth("exec", name, "ip", "-o", "-4", "addr")
    if shown.returncode != 0:
        return [f"{name}: exec ip addr fails: {describe(shown)}"]
    interfaces = {line.split()[1] for line in shown.stdout.splitlines()} - {"lo"}
    if len(interfaces) != len(said):
        return [f"{name}: inspect says networks {sorted(said)}, it has {sorted(interfaces)}"]
    return []


def _images_usable(berth: Berth) -> list[str]:
    """Every image the killed command left listed runs (its layers are whole)."""
    listed = berth.ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    problems = []
    for image in listed:
        if image.startswith("kp/"):
            # Not --rm: that has troubles of its own (test_e2e_run).
            name = f"{image[3:].split(':')[0]}-runs"
            result = berth("run", "--name", name, image, "true")
            berth("rm", "-f", name)
            if result.returncode != 0:
                problems.append(f"image {image} is listed, yet cannot run: {describe(result)}")
    return problems


def processes_in_cgroup(cid: str) -> list[int]:
    """Live processes of the container's cgroup (zombies are dead, awaiting their reaper)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and f"/{cid}" in (entry / "cgroup").read_text():
                found.append(int(entry.name))
    return [pid for pid in found if pid_alive(pid)]


# -- one point, then all of them -----------------------------------------------------------


def settle(berth: Berth, truth: Truth) -> list[str]:
    """Each container reached a state its check's action leads to (--rm: within 10 s)."""

    def wrong() -> list[str]:
        now = {name: state for _, name, state, _ in listed_containers(berth)}
        return [f"{name}: {now.get(name) or 'removed'}, expected {' or '.join(map(_named, ok))}"
                for name, ok in truth.expect.items() if now.get(name) not in ok]  # fmt: skip

    if not truth.expect:
        return []
    waiting = any(None in ok for ok in truth.expect.values())
    deadline = time.monotonic() + (10 if waiting else 0)
    while (left := wrong()) and time.monotonic() < deadline:
        time.sleep(0.3)
    return [f"after the check's actions: {problem}" for problem in left]


def _named(state: str | None) -> str:
    return state or "removed"


def remove_all(berth: Berth, scenario: Scenario | None, busybox: str,
               listed: bool = True) -> list[str]:  # fmt: skip
    """Empty the engine as a user would; what refuses is a problem.

    ``listed``: whether ps -a listed any container (no berth process runs now to add one).
    """
    problems = []
    ids = berth.ids() if listed else []
    if ids:
        removed = berth("rm", "-f", *ids, timeout=120)
        if removed.returncode != 0:
            problems.append(f"rm -f of everything fails: {describe(removed)}")
    if scenario is not None and scenario.uses_networks:
        problems += _remove_networks(berth)
    if scenario is not None and scenario.makes_images:
        for image in berth.ok("images", "-q", "--no-trunc").stdout.split():
            result = berth("rmi", image) if image != busybox else None
            if result is not None and result.returncode != 0:
                problems.append(f"rmi {image[:19]} fails: {describe(result)}")
    return problems


def _remove_networks(berth: Berth) -> list[str]:
    problems = []
    for line in berth.ok("network", "ls", "--format", "{{.Name}}\t{{.ID}}").stdout.splitlines():
        name, short_id = line.split("\t")
        berth.bridges.add(f"br-{short_id}")
        if name != "bridge":  # the default network stays: every point's containers use it
            result = berth("network", "rm", name)
            if result.returncode != 0:
                problems.append(f"network rm {name} fails: {describe(result)}")
    return problems


def run_point(worker: Worker, what: str, when: str, step: Callable[[], tuple[str, float]],
              scenario: Scenario | None) -> tuple[Point, float]:  # fmt: skip
    """Kill, check, empty the engine, look for leaks; and how many ms the step ran."""
    berth, point, took = worker.berth, Point(what, when), 0.0
    start = time.monotonic()
    try:
        point.client, took = step()
        truth = check_truth(berth, scenario)
        point.listed, point.problems = truth.listed, truth.problems
        point.problems += settle(berth, truth)
        point.problems += remove_all(berth, scenario, worker.busybox, bool(truth.ids))
    except (AssertionError, subprocess.SubprocessError, OSError, ValueError) as error:
        point.problems.append(f"the check itself broke: {error}")
        with contextlib.suppress(AssertionError, subprocess.SubprocessError):
            remove_all(berth, scenario, worker.busybox)
    subnets = [f"10.{worker.octet}.0.0/16"]
    found = set(settled_leaks(berth, grace=2.0, subnets=subnets))
    new = found - worker.baseline
    leaks.clean(new)
    point.leaked = [str(leak) for leak in sorted(new)]
    worker.baseline |= {leak for leak in found if leak.kind == "row"}  # rows stay: berth's to fix
    point.seconds = time.monotonic() - start
    return point, took


def kill_points(worker: Worker, scenario: Scenario) -> list[Point]:
    """The fixed moments, then halfway and 80 % through the command's measured run.

    Under load berth may take longer to start than the fixed moments; the relative ones
    land inside its work whatever the load. The complete run goes first, to measure.
    """

    def at(kill_ms: int | None, when: str) -> tuple[Point, float]:
        tag = worker.tag()

        def step() -> tuple[str, float]:
            return kill_client(worker.berth, scenario.prepare(worker, tag), kill_ms)

        return run_point(worker, scenario.what, when, step, scenario)

    never, full_ms = at(None, "never")
    points = [at(ms, f"{ms} ms")[0] for ms in KILL_AFTER_MS]
    for share in RELATIVE_KILLS:
        ms = int(full_ms * share)
        if ms > max(KILL_AFTER_MS):
            points.append(at(ms, f"{ms} ms ({share:.0%})")[0])
    return [*points, never]


def monitor_points(worker: Worker) -> list[Point]:
    def at(after: int | None, when: str) -> Point:
        tag = worker.tag()
        return run_point(worker, "monitor", when, lambda: kill_monitor(worker.berth, tag, after),
                         None)[0]  # fmt: skip

    return [at(None, "running"),
            *(at(ms, f"{ms} ms after exit") for ms in MONITOR_KILL_AFTER_EXIT_MS)]  # fmt: skip


def run_worker(worker: Worker, groups: list[Scenario | None]) -> list[list[Point]]:
    """Each group's points in turn: a scenario's, or the monitor's (None)."""
    berth = worker.berth
    worker.busybox = berth.ok("images", "-q", "--no-trunc").stdout.split()[0]
    berth.ok("run", "--rm", "busybox", "true")  # the default network, made before any kill
    worker.baseline = set(leaks.find(berth.root, berth.runroot, berth.seen))
    return [monitor_points(worker) if group is None else kill_points(worker, group)
            for group in groups]  # fmt: skip


def table(points: list[Point]) -> str:
    lines = [f"{'command':<16} {'kill at':<18} {'client':<24} {'verdict':<7} {'s':>5}  ps -a"]
    for p in points:
        verdict = "FAIL" if p.failed else "ok"
        client = p.client if len(p.client) <= 24 else p.client[:21] + "..."
        lines.append(f"{p.what:<16} {p.when:<18} {client:<24} {verdict:<7} "
                     f"{p.seconds:5.1f}  {p.listed}")  # fmt: skip
        if len(p.client) > 24:
            lines.append(f"    client: {p.client}")
        lines += [f"    problem: {' | '.join(problem.splitlines())}" for problem in p.problems]
        lines += [f"    leak: {leak}" for leak in p.leaked]
    return "\n".join(lines)


def test_kill_matrix(
    engines: Callable[[str], Berth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups: list[Scenario | None] = [*SCENARIOS, None]
    tarball = rootfs_tarball(tmp_path)
    workers = [Worker(engines(f"w{n}"), tarball, 213 + n) for n in range(WORKERS)]
    start = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        shares = list(pool.map(run_worker, workers, [groups[n::WORKERS] for n in range(WORKERS)]))
    by_group = {id(group): points for n, share in enumerate(shares)
                for group, points in zip(groups[n::WORKERS], share, strict=True)}  # fmt: skip
    points = [point for group in groups for point in by_group[id(group)]]
    soundness = {str(w.berth.root): leaks.integrity(w.berth.root) for w in workers}
    report = (f"{table(points)}\n\n{len(points)} points in {time.monotonic() - start:.0f} s"
              f"\nintegrity_check: {soundness}")  # fmt: skip
    (tmp_path / "kill_matrix.txt").write_text(report + "\n")
    with capsys.disabled():  # every point, in CI's log too, whether it passed or not
        print("\n" + report)
    failed = [f"{p.what} @ {p.when}" for p in points if p.failed]
    assert not failed and all(v == ["ok"] for v in soundness.values()), (
        f"{len(failed)} of {len(points)} points failed: {failed}\n\n{report}"
    )

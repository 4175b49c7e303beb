"""The home view: every container, as ``docker ps -a`` lists them, with live usage."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import time
from collections.abc import Awaitable, Callable, Sequence

from textual.binding import Binding
from textual.worker import Worker

from engine.api import Container, ContainerStats, Engine, PortMapping
from engine.errors import BerthError
from tui.handover import DETACH_HINT, SHELL, HandOver, HandOverFn
from tui.rows import CONTAINER_COLUMNS, ContainerRows, Row
from tui.screens.confirm import ConfirmScreen
from tui.screens.files import DiffBrowser
from tui.screens.inspect import InspectScreen
from tui.screens.logs import LogsScreen
from tui.screens.prompt import PromptScreen
from tui.widgets.engine_table import EngineTable
from tui.workers import describe_error, run_engine_task

_KILL_SETTLE_SECONDS = 2.0

# Which containers an action applies to; None: any container.
_APPLIES: dict[str, Callable[[Container], bool] | None] = {
    "remove": None,
    "inspect": None,
    "diff": None,
    "logs": None,
    "start": lambda container: not container.running,
    "pause": lambda container: container.state in ("running", "paused"),
    **dict.fromkeys(
        ("kill", "stop", "restart", "attach", "exec_shell", "exec_command"),
        lambda container: container.running,
    ),
}
# Actions on the cursor's row only, marks or not: a terminal holds one session at a time.
_SINGLE = {"inspect", "diff", "attach", "exec_shell", "exec_command"}


class ContainersView(EngineTable):
    """Containers, newest first; actions apply to the marked ones, else the cursor's."""

    COLUMNS = CONTAINER_COLUMNS
    EMPTY_TEXT = "No containers yet — try: berth run -d --name web busybox sleep 600"
    # k9s's and lazydocker's keys where they agree (a attach, l logs, d remove, / filter);
    # j/k/g/G move (tui.table), so Kill is k9s's ctrl+k.
    BINDINGS = [
        Binding("s", "start", "Start", id="containers.start"),
        Binding("x", "stop", "Stop", id="containers.stop"),
        Binding("r", "restart", "Restart", id="containers.restart"),
        Binding("p", "pause", "Pause", id="containers.pause"),
        Binding("d,ctrl+d", "remove", "Remove", id="containers.remove"),
        Binding("ctrl+k", "kill", "Kill", id="containers.kill", show=False),
        Binding("l,m", "logs", "Logs", id="containers.logs"),
        Binding("a", "attach", "Attach", id="containers.attach"),
        Binding("e", "exec_shell", "Shell", id="containers.exec-shell"),
        Binding("E", "exec_command", "Exec…", id="containers.exec-command", show=False),
        Binding("i", "inspect", "Inspect", id="containers.inspect", show=False),
        Binding("D", "diff", "Diff", id="containers.diff", show=False),
        Binding("A", "toggle_all", "All/running", id="containers.toggle-all", show=False),
        Binding("ctrl+r", "reload", "Refresh", id="containers.refresh", show=False),
    ]

    def __init__(
        self, engine: Engine, hand_over: HandOverFn, *, id: str = "containers",
        refresh: float | None = None,
    ) -> None:  # fmt: skip
        super().__init__(engine, id=id, refresh=refresh)
        self.hand_over = hand_over
        self.show_all = True  # Docker's `ps` lists running ones; a UI wants to see all
        self.exec_command = ""  # the last command run with E; empty: bash, else sh
        self._containers: dict[str, Container] = {}
        self._ports: dict[str, list[PortMapping]] = {}
        self._ports_runs: list[tuple[str, str, str | None]] = []  # what _ports was read for
        self._stats: dict[str, ContainerStats] = {}
        self._row_maker = ContainerRows()
        self._feed: Worker[object] | None = None
        self._fetched_at = 0.0  # time.monotonic() as the last reload's listing began

    # -- rows ------------------------------------------------------------------------

    async def fetch(self) -> list[Row]:
        self._fetched_at = time.monotonic()
        containers = await self.engine.containers.list(all=self.show_all)
        await self._read_ports(containers, always=True)
        self._containers = {container.id: container for container in containers}
        return self._build_rows()

    async def _read_ports(self, containers: list[Container], *, always: bool = False) -> None:
        # Ports are published when a container is created and bound when it starts: read
        # again when a container came, went, started or stopped, not on every tick.
        runs = [(c.id, c.state, c.started_at) for c in containers]
        if always or runs != self._ports_runs:
            self._ports = await self.engine.networks.all_ports()
            self._ports_runs = runs

    def _build_rows(self) -> list[Row]:
        containers = self._containers.values()
        return self._row_maker.rows(containers, time.time(), self._stats, self._ports)

    def caption(self) -> str:
        kind = "All containers" if self.show_all else "Running containers"
        return f"{kind} · {len(self._containers)}"

    def live_changed(self, live: bool) -> bool:
        # The rows and their CPU and memory come from the engine's shared stats sampler,
        # followed only while shown: its one listing per tick is the view's too.
        running = self._feed is not None and not self._feed.is_finished
        if live and not running:
            self._feed = run_engine_task(
                self,
                self._follow,
                group=f"feed-stats-{self.id}",  # "feed-": runs until cancelled
                description="Reading stats",
            )
        elif not live and self._feed is not None and running:
            self._feed.cancel()
        return live

    async def _follow(self) -> None:
        snapshots = self.engine.stats.watch(interval=self.refresh_seconds)
        async with contextlib.aclosing(snapshots):
            async for snapshot in snapshots:
                if snapshot.listed_at < self._fetched_at:
                    continue  # listed before a reload (after an action): older news
                containers = [c for c in snapshot.containers if self.show_all or c.running]
                await self._read_ports(containers)
                self._containers = {container.id: container for container in containers}
                self._stats = snapshot.stats
                self.show_rows(self._build_rows())

    @property
    def selected(self) -> Container | None:
        key = self.selected_key
        return None if key is None else self._containers.get(key)

    def targets(self, action: str) -> list[Container]:
        """The containers ``action`` would act on now (marked ones it applies to)."""
        keys = [self.selected_key] if action in _SINGLE else self.target_keys
        containers = [self._containers[key] for key in keys if key in self._containers]
        applies = _APPLIES.get(action)
        return [c for c in containers if applies is None or applies(c)]

    def binding_state(self) -> object:
        targets = [self._containers.get(key) for key in self.target_keys]
        return super().binding_state(), [c.state if c else None for c in targets]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None shows the key greyed out in the footer: there is nothing for it to act on.
        if action in _APPLIES:
            return True if self.targets(action) else None
        return True

    # -- actions ---------------------------------------------------------------------

    def action_reload(self) -> None:
        self.reload()

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.reload()

    def action_remove(self) -> None:
        containers = self.targets("remove")
        if not containers:
            return
        running = [c for c in containers if c.running]
        if len(containers) == 1:
            what = containers[0].name
            question = (
                f"{what} is running. Kill it and remove it?"
                if running
                else f"Remove container {what}?"
            )
        else:
            what = f"{len(containers)} containers"
            question = f"Remove {what}: {', '.join(c.name for c in containers)}?"
            if running:
                question += f" {len(running)} running will be killed."

        def removal_confirmed(confirmed: bool | None) -> None:
            if confirmed:
                # A running container was confirmed as "kill and remove", as `rm -f` does.
                self._bulk(containers, "Removing", "Removed", self._remove_one)

        self.app.push_screen(ConfirmScreen(question, "Remove"), removal_confirmed)

    async def _remove_one(self, container_id: str) -> object:
        return await self.engine.containers.remove(container_id, force=True)

    def action_kill(self) -> None:
        self._bulk(self.targets("kill"), "Killing", "Killed", self._kill_one)

    async def _kill_one(self, container_id: str) -> None:
        await self.engine.containers.kill(container_id, int(signal.SIGKILL))
        # The signal is sent, the exit not yet recorded: wait a moment so the row reads
        # "Exited (137)" now, not at the next poll. A paused container (its process is
        # frozen) or one with a restart policy may not stop, hence the bound.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_KILL_SETTLE_SECONDS):
                await self.engine.containers.wait(container_id)

    def action_start(self) -> None:
        self._bulk(self.targets("start"), "Starting", "Started", self._start_one)

    async def _start_one(self, container_id: str) -> Container:
        known = self._containers.get(container_id)
        title = f"Warning: {known.name if known else container_id[:12]}"

        def warn(text: str) -> None:  # what the host cannot apply (a limit)
            self.notify(text, title=title, severity="warning", markup=False)

        return await self.engine.containers.start(container_id, warn=warn)

    def action_stop(self) -> None:
        self._bulk(self.targets("stop"), "Stopping", "Stopped", self.engine.containers.stop)

    def action_restart(self) -> None:
        containers = self.targets("restart")
        self._bulk(containers, "Restarting", "Restarted", self.engine.containers.restart)

    def action_pause(self) -> None:
        # Toggles each: a mix of paused and running containers swaps both ways.
        containers = self.targets("pause")

        async def toggle(container_id: str) -> object:
            if self._containers[container_id].state == "paused":
                return await self.engine.containers.unpause(container_id)
            return await self.engine.containers.pause(container_id)

        self._bulk(containers, "Pausing/unpausing", "Paused/unpaused", toggle)

    def _bulk(
        self, containers: Sequence[Container], doing: str, done: str,
        call: Callable[[str], Awaitable[object]],
    ) -> None:  # fmt: skip
        """Run ``call`` on every container at once (as `docker stop a b` does), then refresh.

        Each failure is its own notification, naming the container; the others go on.
        """
        if not containers:
            return
        names = ", ".join(c.name for c in containers)

        async def work() -> None:
            try:
                results = await asyncio.gather(
                    *(call(c.id) for c in containers), return_exceptions=True
                )
            finally:
                self.marked.clear()
                self.reload()
            outcomes = list(zip(containers, results, strict=True))
            succeeded = [c.name for c, r in outcomes if not isinstance(r, Exception)]
            if succeeded:
                self.notify(f"{done} {', '.join(succeeded)}", markup=False)
            for container, result in outcomes:
                if isinstance(result, Exception):
                    title = f"{doing} {container.name}"
                    self.notify(describe_error(result), title=title, severity="error", markup=False)

        self._run(work(), f"{doing} {names}")

    def action_inspect(self) -> None:
        container = self.selected
        if container is not None:
            self._run(self._inspect(container), f"Inspecting {container.name}")

    async def _inspect(self, container: Container) -> None:
        document = await self.engine.containers.inspect(container.id)
        self.app.push_screen(InspectScreen(f"Container {container.name}", document))

    def action_diff(self) -> None:
        container = self.selected
        if container is not None:
            self.app.push_screen(DiffBrowser(self.engine, container.id, container.name))

    def action_logs(self) -> None:
        containers = self.targets("logs")
        if containers:
            self.app.push_screen(LogsScreen(self.engine, containers))

    def action_attach(self) -> None:
        container = self.selected
        if container is not None:
            notice = f"Attached to {container.name}. Detach with {DETACH_HINT}."
            request = HandOver(container.id, container.name, container.options.tty, notice=notice)
            self._run(self._session(request), f"Attaching to {container.name}")

    def start_attached(self, container: Container) -> None:
        """Start a created container with the terminal handed to it (the run form's -it).

        One that fails to start is removed: the run form either runs a container or
        leaves nothing behind.
        """
        notice = f"Started {container.name}. Detach with {DETACH_HINT}."
        request = HandOver(container.id, container.name, True, notice=notice, start=True)

        async def work() -> None:
            try:
                await self._session(request)
            except Exception:
                with contextlib.suppress(BerthError):
                    await self.engine.containers.remove(container.id, force=True)
                raise

        self._run(work(), f"Running {container.name}")

    def action_exec_shell(self) -> None:
        container = self.selected
        if container is not None:
            self._exec(container, SHELL)

    def action_exec_command(self) -> None:
        """Ask which command to run (a shell of the user's choice), then run it with a TTY."""
        container = self.selected
        if container is None:
            return

        def chosen(command: str | None) -> None:
            if command:
                self.exec_command = command
                self._exec(container, tuple(shlex.split(command)))

        question = f"Run in {container.name} (with a terminal):"
        prompt = PromptScreen(question, self.exec_command, "e.g. /bin/ash, bash -l, top")
        self.app.push_screen(prompt, chosen)

    def _exec(self, container: Container, command: tuple[str, ...]) -> None:
        notice = f"{' '.join(command) if command != SHELL else 'A shell'} in {container.name}."
        request = HandOver(
            container.id, container.name, True, command,
            f"{notice} Exit it, or detach with {DETACH_HINT}.",
        )  # fmt: skip
        self._run(self._session(request), f"Running {command[0]} in {container.name}")

    async def _session(self, request: HandOver) -> None:
        try:
            end = await self.hand_over(request)
        finally:
            self.reload()  # the container may have exited meanwhile
        if end.detached:
            self.notify(f"Detached from {request.name}; it keeps running", markup=False)
        elif end.exit_code is not None:
            self.notify(f"Session in {request.name} ended ({end.exit_code})", markup=False)

    def _run(self, work: Awaitable[None], description: str) -> None:
        run_engine_task(self, work, group="containers", description=description)

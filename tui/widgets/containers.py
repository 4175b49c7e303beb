"""The home view: every container, as ``docker ps -a`` lists them, live."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable

from textual.binding import Binding

from engine.api import Engine
from engine.containers.model import Container
from tui.handover import DETACH_HINT, SHELL, HandOver, HandOverFn
from tui.rows import CONTAINER_COLUMNS, Row, container_row
from tui.screens.confirm import ConfirmScreen
from tui.screens.inspect import InspectScreen
from tui.screens.logs import LogsScreen
from tui.widgets.engine_table import EngineTable
from tui.workers import run_engine_task

_KILL_SETTLE_SECONDS = 2.0


class ContainersView(EngineTable):
    """Containers, newest first; remove, kill and inspect the one under the cursor."""

    COLUMNS = CONTAINER_COLUMNS
    EMPTY_TEXT = "No containers yet — try: berth run -d --name web busybox sleep 600"
    BINDINGS = [
        Binding("a", "toggle_all", "All", id="containers.toggle-all"),
        Binding("s", "start", "Start", id="containers.start"),
        Binding("x", "stop", "Stop", id="containers.stop"),
        Binding("R", "restart", "Restart", id="containers.restart"),
        Binding("p", "pause", "Pause", id="containers.pause"),
        Binding("d", "remove", "Remove", id="containers.remove"),
        Binding("k", "kill", "Kill", id="containers.kill"),
        Binding("i", "inspect", "Inspect", id="containers.inspect"),
        Binding("l", "logs", "Logs", id="containers.logs"),
        Binding("A", "attach", "Attach", id="containers.attach"),
        Binding("e", "exec_shell", "Shell", id="containers.exec-shell"),
        Binding("r", "reload", "Refresh", id="containers.refresh", show=False),
    ]

    def __init__(self, engine: Engine, hand_over: HandOverFn, *, id: str = "containers") -> None:
        super().__init__(engine, id=id)
        self.hand_over = hand_over
        self.show_all = True  # Docker's `ps` lists running ones; a UI wants to see all
        self._containers: dict[str, Container] = {}

    async def fetch(self) -> list[Row]:
        containers = await self.engine.containers.list(all=self.show_all)
        self._containers = {container.id: container for container in containers}
        now = time.time()
        return [container_row(container, now) for container in containers]

    def caption(self) -> str:
        kind = "All containers" if self.show_all else "Running containers"
        return f"{kind} · {len(self._containers)}"

    @property
    def selected(self) -> Container | None:
        key = self.selected_key
        return None if key is None else self._containers.get(key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None shows the key greyed out in the footer: there is nothing for it to act on.
        container = self.selected
        if action in ("remove", "inspect", "logs"):
            return True if container else None
        if action in ("kill", "stop", "restart", "attach", "exec_shell"):
            return True if container and container.running else None
        if action == "start":
            return True if container and not container.running else None
        if action == "pause":
            return True if container and container.state in ("running", "paused") else None
        return True

    def action_reload(self) -> None:
        self.reload()

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.reload()

    def action_remove(self) -> None:
        container = self.selected
        if container is None:
            return
        question = (
            f"{container.name} is running. Kill it and remove it?"
            if container.running
            else f"Remove container {container.name}?"
        )

        def removal_confirmed(confirmed: bool | None) -> None:
            if confirmed:
                self._run(self._remove(container), f"Removing {container.name}")

        self.app.push_screen(ConfirmScreen(question, "Remove"), removal_confirmed)

    async def _remove(self, container: Container) -> None:
        try:
            # A running container was confirmed as "kill and remove", as `rm -f` does.
            await self.engine.containers.remove(container.id, force=container.running)
            self.notify(f"Removed {container.name}", markup=False)
        finally:
            self.reload()  # also when it failed: the row may be stale (removed elsewhere)

    def action_kill(self) -> None:
        container = self.selected
        if container is not None:
            self._run(self._kill(container), f"Killing {container.name}")

    async def _kill(self, container: Container) -> None:
        try:
            await self.engine.containers.kill(container.id, int(signal.SIGKILL))
            # The signal is sent, the exit not yet recorded: wait a moment so the row reads
            # "Exited (137)" now, not at the next poll. A paused container (its process is
            # frozen) or one with a restart policy may not stop, hence the bound.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_KILL_SETTLE_SECONDS):
                    await self.engine.containers.wait(container.id)
            self.notify(f"Killed {container.name}", markup=False)
        finally:
            self.reload()

    def action_start(self) -> None:
        self._lifecycle("Starting", "Started", self.engine.containers.start)

    def action_stop(self) -> None:
        self._lifecycle("Stopping", "Stopped", self.engine.containers.stop)

    def action_restart(self) -> None:
        self._lifecycle("Restarting", "Restarted", self.engine.containers.restart)

    def action_pause(self) -> None:
        container = self.selected
        if container is not None and container.state == "paused":
            self._lifecycle("Unpausing", "Unpaused", self.engine.containers.unpause)
        else:
            self._lifecycle("Pausing", "Paused", self.engine.containers.pause)

    def _lifecycle(self, doing: str, done: str, call: Callable[[str], Awaitable[object]]) -> None:
        """Run one lifecycle call on the selected container, then refresh its row."""
        container = self.selected
        if container is None:
            return

        async def work() -> None:
            try:
                await call(container.id)
                self.notify(f"{done} {container.name}", markup=False)
            finally:
                self.reload()

        self._run(work(), f"{doing} {container.name}")

    def action_inspect(self) -> None:
        container = self.selected
        if container is not None:
            self._run(self._inspect(container), f"Inspecting {container.name}")

    async def _inspect(self, container: Container) -> None:
        document = await self.engine.containers.inspect(container.id)
        self.app.push_screen(InspectScreen(f"Container {container.name}", document))

    def action_logs(self) -> None:
        container = self.selected
        if container is not None:
            self.app.push_screen(LogsScreen(self.engine, container))

    def action_attach(self) -> None:
        container = self.selected
        if container is not None:
            notice = f"Attached to {container.name}. Detach with {DETACH_HINT}."
            request = HandOver(container.id, container.name, container.options.tty, notice=notice)
            self._run(self._session(request), f"Attaching to {container.name}")

    def action_exec_shell(self) -> None:
        container = self.selected
        if container is not None:
            notice = f"A shell in {container.name}. Exit it, or detach with {DETACH_HINT}."
            request = HandOver(container.id, container.name, True, SHELL, notice)
            self._run(self._session(request), f"Running a shell in {container.name}")

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

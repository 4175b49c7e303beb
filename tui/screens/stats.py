"""Every running container's usage at once, ctop-style, from one shared stats stream."""

from __future__ import annotations

import contextlib
import time
from collections import deque

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Sparkline, Static

from engine.api import ContainerStats, CreateOptions, Engine, humanize, limits_in_effect
from tui.workers import run_engine_task

HISTORY = 180  # ticks kept for the sparklines: three minutes at one a second


class StatsCard(Vertical):
    """One container: its figures now, and CPU and memory over the last minutes."""

    def __init__(self, sample: ContainerStats) -> None:
        super().__init__(id=f"stats-{sample.id}", classes="stats-card")
        self.container_id = sample.id
        self.cpu: deque[float] = deque(maxlen=HISTORY)
        self.memory: deque[float] = deque(maxlen=HISTORY)
        self._previous: tuple[float, ContainerStats] | None = None
        self.figures = ""
        self.limits = ""
        self._options: CreateOptions | None = None  # what ``limits`` was worded from

    def compose(self) -> ComposeResult:
        yield Static(classes="stats-figures", markup=False)
        yield Static(classes="stats-limits", markup=False)
        with Horizontal(classes="stats-lines"):
            yield Label("CPU ", classes="stats-label")
            yield Sparkline([], classes="stats-cpu")
            yield Label(" MEM ", classes="stats-label")
            yield Sparkline([], classes="stats-memory")

    def show_limits(self, options: CreateOptions) -> None:
        """The limits in effect, in the flags' terms (cpus=0.5 memory=64MiB pids=20)."""
        if options == self._options:
            return  # as they were: no re-wording, no re-layout
        self._options = options
        self.limits = "limits: " + (limits_in_effect(options) or "none set")
        self.query_one(".stats-limits", Static).update(self.limits)

    def show(self, sample: ContainerStats, now: float) -> None:
        self.cpu.append(sample.cpu_percent or 0.0)
        self.memory.append(sample.memory_percent)
        figures = self._figures(sample, now)
        self._previous = (now, sample)
        if figures != self.figures:  # an update re-lays the screen out, even unchanged
            self.figures = figures
            self.query_one(".stats-figures", Static).update(figures)
        self.query_one(".stats-cpu", Sparkline).data = list(self.cpu)
        self.query_one(".stats-memory", Sparkline).data = list(self.memory)

    def _figures(self, sample: ContainerStats, now: float) -> str:
        cpu = "  —  " if sample.cpu_percent is None else f"{sample.cpu_percent:5.1f}%"
        memory = (
            f"{humanize.binary_size(sample.memory_usage)} / "
            f"{humanize.binary_size(sample.memory_limit)} ({sample.memory_percent:.1f}%)"
        )
        rates = self._rates(sample, now)
        return (
            f"{sample.name:<16} CPU {cpu}  MEM {memory}  "
            f"NET ↓{rates[0]} ↑{rates[1]}  BLK r {rates[2]} w {rates[3]}  PIDS {sample.pids}"
        )

    def _rates(self, sample: ContainerStats, now: float) -> list[str]:
        # The counters are totals since the container started: a rate needs two ticks.
        if self._previous is None:
            return ["—"] * 4
        then, before = self._previous
        elapsed = max(now - then, 1e-3)
        pairs = (
            (sample.net_rx, before.net_rx),
            (sample.net_tx, before.net_tx),
            (sample.block_read, before.block_read),
            (sample.block_write, before.block_write),
        )
        return [f"{humanize.size(max(new - old, 0) / elapsed)}/s" for new, old in pairs]


class StatsScreen(Screen[None]):
    """Fed by one ``engine.stats.stream`` while shown; nothing runs while it is hidden."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="stats.close")]

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        super().__init__()
        self.engine = engine
        self.interval = interval  # seconds between ticks
        self.ticks = 0
        self._caption = ""

    def compose(self) -> ComposeResult:
        yield Static("Waiting for the first sample…", id="stats-caption", markup=False)
        yield VerticalScroll(id="stats-body")
        yield Footer()

    def on_screen_resume(self) -> None:
        run_engine_task(
            self,
            self._sample,
            group="stats",
            description="Reading container stats",
            exclusive=True,
        )

    def on_screen_suspend(self) -> None:
        # Covered by another screen or closed: stop the stream, and with it the sampler.
        self.app.workers.cancel_group(self.app, "stats")

    async def _sample(self) -> None:
        # The listing comes with the tick: the limits (which `berth update` changes) are
        # the containers' options, there for free, so no listing of the screen's own.
        snapshots = self.engine.stats.watch(interval=self.interval)
        async with contextlib.aclosing(snapshots):
            async for snapshot in snapshots:
                running = [c for c in snapshot.containers if c.running]
                samples = [snapshot.stats[c.id] for c in running]
                options = {container.id: container.options for container in running}
                await self._apply([sample for sample in samples if sample.running], options)

    async def _apply(self, tick: list[ContainerStats], options: dict[str, CreateOptions]) -> None:
        """One tick, drawn at once: cards come and go with the containers."""
        body = self.query_one("#stats-body", VerticalScroll)
        cards = {card.container_id: card for card in body.query(StatsCard)}
        wanted = {sample.id for sample in tick}
        for container_id, card in cards.items():
            if container_id not in wanted:
                await card.remove()
        new = [StatsCard(sample) for sample in tick if sample.id not in cards]
        await body.mount_all(new)
        cards.update((card.container_id, card) for card in new)
        now = time.monotonic()
        with self.app.batch_update():
            for sample in tick:
                cards[sample.id].show_limits(options[sample.id])
                cards[sample.id].show(sample, now)
            self.ticks += 1
            caption = f"{len(tick)} running · every {self.interval:g} s · Escape closes"
            if caption != self._caption:  # an update re-lays the screen out, even unchanged
                self._caption = caption
                self.query_one("#stats-caption", Static).update(caption)

    def action_close(self) -> None:
        self.dismiss(None)

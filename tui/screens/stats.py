"""Every running container's usage at once, ctop-style, from one shared stats stream."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Sequence

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Sparkline, Static

from engine.api import ContainerStats, CreateOptions, Engine, humanize, limits_in_effect
from tui.workers import run_engine_task

HISTORY = 180  # ticks kept for the sparklines: three minutes at one a second


class StatsCard(Vertical):
    """One container: its figures now, and CPU and memory over the last minutes.

    Every tick is recorded; only a card in view is drawn. Redrawing one out of view
    would cost more than the visible ones together: Textual then re-arranges every card
    to find where it is.
    """

    def __init__(self, sample: ContainerStats) -> None:
        super().__init__(id=f"stats-{sample.id}", classes="stats-card")
        self.container_id = sample.id
        self.cpu: deque[float] = deque(maxlen=HISTORY)
        self.memory: deque[float] = deque(maxlen=HISTORY)
        self._previous: tuple[float, ContainerStats] | None = None
        self.figures = ""
        self.limits = ""
        self._options: CreateOptions | None = None  # what ``limits`` was worded from
        self._figures_line = Static(classes="stats-figures", markup=False)
        self._limits_line = Static(classes="stats-limits", markup=False)
        self._cpu_line = Sparkline([], classes="stats-cpu")
        self._memory_line = Sparkline([], classes="stats-memory")
        self._drawn: tuple[str, int] = ("", 0)  # the figures and the ticks on screen
        self._ticks = 0

    def compose(self) -> ComposeResult:
        yield self._figures_line
        yield self._limits_line
        with Horizontal(classes="stats-lines"):
            yield Label("CPU ", classes="stats-label")
            yield self._cpu_line
            yield Label(" MEM ", classes="stats-label")
            yield self._memory_line

    def show_limits(self, options: CreateOptions) -> None:
        """The limits in effect, in the flags' terms (cpus=0.5 memory=64MiB pids=20)."""
        if options == self._options:
            return  # as they were: no re-wording, no re-layout
        self._options = options
        self.limits = "limits: " + (limits_in_effect(options) or "none set")
        self._limits_line.update(self.limits)

    def record(self, sample: ContainerStats, now: float) -> None:
        """Keep ``sample``: its figures, and a point of each sparkline."""
        self.cpu.append(sample.cpu_percent or 0.0)
        self.memory.append(sample.memory_percent)
        self.figures = self._figures(sample, now)
        self._previous = (now, sample)
        self._ticks += 1

    def draw(self) -> None:
        """Put what was recorded since the last draw on screen."""
        figures, ticks = self._drawn
        if self.figures != figures:
            # The same width cannot change the card's height: no re-layout of the screen.
            same = cell_len(self.figures) == cell_len(figures)
            self._figures_line.update(self.figures, layout=not same)
        if self._ticks != ticks:
            for sparkline, history in ((self._cpu_line, self.cpu),
                                       (self._memory_line, self.memory)):  # fmt: skip
                # A flat line (an idle container's) is drawn the same at any length.
                if not (_flat(sparkline.data or ()) and _flat(history)):
                    sparkline.data = list(history)
        self._drawn = (self.figures, self._ticks)

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
    """Fed by ``engine.stats.watch`` while shown; nothing runs while it is hidden."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="stats.close")]

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        super().__init__()
        self.engine = engine
        self.interval = interval  # seconds between ticks
        self.ticks = 0
        self._caption = ""
        self._cards: dict[str, StatsCard] = {}  # by container id, in the body's order

    def compose(self) -> ComposeResult:
        yield Static("Waiting for the first sample…", id="stats-caption", markup=False)
        yield VerticalScroll(id="stats-body")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self._body, "scroll_y", self._draw_visible, init=False)

    @property
    def _body(self) -> VerticalScroll:
        return self.query_one("#stats-body", VerticalScroll)

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
        wanted = {sample.id for sample in tick}
        for container_id in [key for key in self._cards if key not in wanted]:
            await self._cards.pop(container_id).remove()
        new = [StatsCard(sample) for sample in tick if sample.id not in self._cards]
        await self._body.mount_all(new)
        self._cards.update((card.container_id, card) for card in new)
        now = time.monotonic()
        with self.app.batch_update():
            for sample in tick:
                self._cards[sample.id].show_limits(options[sample.id])
                self._cards[sample.id].record(sample, now)
            if new:  # a new card has its place once the screen is laid out again
                self.call_after_refresh(self._draw_visible)
            else:
                self._draw_visible()
            self.ticks += 1
            caption = f"{len(tick)} running · every {self.interval:g} s · Escape closes"
            if caption != self._caption:  # an update re-lays the screen out, even unchanged
                self._caption = caption
                self.query_one("#stats-caption", Static).update(caption)

    def _draw_visible(self) -> None:
        """Draw the cards in view (a card scrolled into view is drawn as it comes)."""
        # Where each card lies in the body, whatever the scroll (which moves no card).
        window = self._body.window_region
        for card in self._cards.values():
            if card.virtual_region.overlaps(window):
                card.draw()

    def action_close(self) -> None:
        self.dismiss(None)


def _flat(values: Sequence[float]) -> bool:
    # Two points at least: Textual draws a single one as a full bar.
    return len(values) >= 2 and min(values) == max(values)

"""One container's log, followed live: stdout and stderr apart, search, filter, pause."""

from __future__ import annotations

import re
from collections import deque

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, RichLog, Static

from engine.api import Engine
from engine.containers.logs import LogEntry
from engine.containers.model import Container
from tui.workers import run_engine_task

TAIL = 1000  # lines of history shown when the pane opens, as `logs --tail 1000 -f`
KEEP = 20_000  # entries kept for re-rendering (toggles, filter); older ones are dropped
FLUSH_SECONDS = 0.05  # entries are collected this long, then written in one go


class LogsScreen(Screen[None]):
    """Follows ``container``'s log until it stops; the log widget renders only what shows."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="logs.close"),
        Binding("t", "toggle_timestamps", "Timestamps", id="logs.timestamps"),
        Binding("w", "toggle_wrap", "Wrap", id="logs.wrap"),
        Binding("slash", "ask('search')", "Search", id="logs.search"),
        Binding("n", "next_match(1)", "Next", id="logs.next"),
        Binding("N", "next_match(-1)", "Previous", id="logs.previous"),
        Binding("f", "ask('filter')", "Filter", id="logs.filter"),
    ]

    def __init__(self, engine: Engine, container: Container) -> None:
        super().__init__()
        self.engine = engine
        self.container = container
        self.entries: deque[LogEntry] = deque(maxlen=KEEP)
        self.timestamps = False
        self.search = ""
        self.filter = ""
        self.following = True  # False while the user has scrolled up; End resumes
        self.ended = False  # the container stopped: the log is complete
        self._pending: list[LogEntry] = []
        self._shown = 0  # entries that passed the filter
        self._starts: list[int] = []  # per match of the search, its first line in the log
        self._match = -1
        self._asking = ""  # "search" or "filter" while the input is open
        self._status = ""

    def compose(self) -> ComposeResult:
        yield Static(id="logs-status", markup=False)
        yield RichLog(id="logs-body", max_lines=None, auto_scroll=False)
        yield Input(id="logs-input")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#logs-input").display = False
        self.log_widget.focus()
        self.set_interval(FLUSH_SECONDS, self._flush)
        run_engine_task(
            self,
            self._follow(),
            group=f"logs-{id(self)}",
            description=f"Following the log of {self.container.name}",
        )
        self._update_status()

    @property
    def log_widget(self) -> RichLog:
        return self.query_one("#logs-body", RichLog)

    async def _follow(self) -> None:
        # Only collected here: the timer writes them, so a flood costs one write per flush.
        async for entry in self.engine.containers.logs(self.container.id, follow=True, tail=TAIL):
            self._pending.append(entry)
        self.ended = True

    def _flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.entries.extend(batch)
            if len(self.log_widget.lines) > 2 * KEEP:
                self._rerender()  # the widget keeps every line: trim it to what we keep
            else:
                self._write(batch)
        self._update_status()

    def _write(self, batch: list[LogEntry]) -> None:
        log = self.log_widget
        # Scrolled up (or to a match), the view stays put; back at the bottom (End, the
        # mouse), it follows again. The scroll's target, not its position: a Home still
        # being animated must not be yanked back to the bottom by this batch.
        self.following = log.scroll_target_y >= log.max_scroll_y
        pattern, search = self._pattern(self.filter), self._pattern(self.search)
        for entry in batch:
            if pattern and not pattern.search(entry.text):
                continue
            self._shown += 1
            if search and search.search(entry.text):
                self._starts.append(len(log.lines))
            log.write(self._line(entry, search), scroll_end=False)
        if self.following:
            log.scroll_end(animate=False, immediate=True, x_axis=False)

    def _line(self, entry: LogEntry, search: re.Pattern[str] | None) -> Text:
        text = Text(entry.text.rstrip("\n"), no_wrap=not self.log_widget.wrap)
        if entry.stream == "stderr":
            text.stylize(self.app.theme_variables.get("error", "red"))
        if search:
            text.highlight_regex(search, style="bold reverse")
        if self.timestamps:
            text = Text.assemble((entry.time + " ", "dim"), text)
        return text

    def _rerender(self) -> None:
        """Write every kept entry anew, after a toggle that changes how each line looks."""
        self.log_widget.clear()
        self._shown, self._starts, self._match = 0, [], -1
        self._write(list(self.entries))
        self._update_status()

    @staticmethod
    def _pattern(text: str) -> re.Pattern[str] | None:
        return re.compile(re.escape(text), re.IGNORECASE) if text else None

    def _update_status(self) -> None:
        status = self.status_text()
        if status != self._status:  # most flushes change nothing it says
            self._status = status
            self.query_one("#logs-status", Static).update(status)

    def status_text(self) -> str:
        """The time window in effect and the line count, so an empty pane explains itself."""
        first = self.entries[0].time[:19].replace("T", " ") if self.entries else "—"
        until = "now (following)" if not self.ended else "container stopped"
        parts = [
            f"{self.container.name} · last {TAIL} lines then live · from {first} to {until}",
            f"{len(self.entries)} lines",
        ]
        if self.filter:
            parts.append(f"{self._shown} match filter “{self.filter}”")
        if self.search:
            parts.append(f"search “{self.search}”: {self._match + 1}/{len(self._starts)}")
        if not self.following:
            parts.append("paused — End resumes")
        return " · ".join(parts)

    def action_toggle_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        self._rerender()

    def action_toggle_wrap(self) -> None:
        self.log_widget.wrap = not self.log_widget.wrap
        self._rerender()

    def action_next_match(self, step: int) -> None:
        if not self._starts:
            return
        self._match = (self._match + step) % len(self._starts)
        log = self.log_widget
        self.following = False  # looking at a match: new lines must not scroll it away
        log.scroll_to(y=max(0, self._starts[self._match] - log.size.height // 2), animate=False)
        self._update_status()

    def action_ask(self, what: str) -> None:
        self._asking = what
        field = self.query_one("#logs-input", Input)
        field.placeholder = "Search (Enter)" if what == "search" else "Show only lines with (Enter)"
        field.value = self.search if what == "search" else self.filter
        field.display = True
        field.focus()

    @on(Input.Submitted, "#logs-input")
    def _answered(self, event: Input.Submitted) -> None:
        setattr(self, self._asking, event.value)
        self._close_input()
        self._rerender()
        if self.search:
            self.action_next_match(1)

    def _close_input(self) -> None:
        self._asking = ""
        self.query_one("#logs-input").display = False
        self.log_widget.focus()

    def action_close(self) -> None:
        # Escape first closes the search or filter field, then the pane.
        if self._asking:
            self._close_input()
        else:
            self.dismiss(None)

    def on_unmount(self) -> None:
        # Stop following: the pane is gone, nobody reads the entries any more.
        self.app.workers.cancel_group(self.app, f"logs-{id(self)}")

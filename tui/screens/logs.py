"""Containers' logs, merged by time and followed live: window, search, filter, copy, pause."""

from __future__ import annotations

import asyncio
import heapq
import re
import shlex
import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise, takewhile
from typing import NamedTuple

from rich.ansi import AnsiDecoder
from rich.cells import cell_len, chop_cells
from rich.text import Span, Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.events import Resize
from textual.geometry import Offset, Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip
from textual.widgets import Footer, Input, Static

from engine.api import Container, Engine, LogEntry, parse_tail, parse_time_filter
from engine.api import parse_timestamp as parse
from engine.errors import BerthError, InvalidArgumentError, NotFoundError
from tui.workers import run_engine_task

TAIL = 1000  # lines of history shown when the pane opens, as `logs --tail 1000 -f`
KEEP = 20_000  # lines kept for filtering and copying; older ones are dropped
FLUSH_SECONDS = 0.05  # lines are collected this long, then shown in one go
# The theme colours that tell containers apart; "error" is stderr's.
NAME_COLOURS = ("primary", "accent", "success", "warning", "secondary")
_PROMPTS = {
    "search": "Search (Enter)",
    "filter": "Show only lines with (Enter)",
    "window": "--since 10m --until 2026-11-23T10:00:00 --tail all (Enter)",
}
# A container's control characters must not reach the terminal: they are shown as "�".
# Not tabs (expanded) nor ESC: of its sequences, SGR (colours, bold) is shown as style,
# every other one (cursor moves, clearing, titles, links, bell) is dropped.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1a\x1c-\x1f\x7f-\x9f]")
_ESCAPE = re.compile(
    r"(\x1b\[[0-9;]*m)"  # SGR: kept
    r"|\x1b(?:\[[0-?]*[ -/]*[@-~]"  # any other CSI
    r"|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, DCS, APC...: ended by BEL or ST
    r"|[ -/]*[0-~])?"  # the other escapes, or a lone ESC
)


class Line(NamedTuple):
    """One log entry of one of the pane's containers, as the pane shows it."""

    source: int  # index of its container
    entry: LogEntry
    text: str  # printable, without the newline and escape sequences: searched, copied
    spans: tuple[Span, ...] = ()  # the styles of text its SGR sequences set (colours)


@dataclass(frozen=True)
class LogWindow:
    """Which entries the pane reads, as ``berth logs --since --until --tail`` chooses them."""

    tail: int | None = TAIL  # lines from the end of the window; None (or < 0): all
    since: float | None = None
    until: float | None = None
    since_text: str = ""  # as the user wrote them: to describe and to edit again
    until_text: str = ""

    @classmethod
    def parse(cls, flags: str, now: float | None = None) -> LogWindow:
        """``--since 10m --until 2026-11-23T10:00:00 --tail all``; absent flags mean all.

        Raises InvalidArgumentError naming what is wrong.
        """
        try:
            words = shlex.split(flags.replace("=", " "))
        except ValueError as error:
            raise InvalidArgumentError(f"invalid time window: {error}") from None
        values = {"--since": "", "--until": "", "--tail": "all"}
        while words:
            flag = {"-n": "--tail"}.get(words[0], words[0])
            if flag not in values:
                raise InvalidArgumentError(
                    f'unknown option "{words[0]}": use --since, --until or --tail'
                )
            if len(words) < 2:
                example = {"--since": "10m", "--until": "5m", "--tail": "all"}[flag]
                raise InvalidArgumentError(f"{flag} needs a value, e.g. {flag} {example}")
            values[flag], words = words[1], words[2:]
        since, until = values["--since"], values["--until"]
        return cls(
            tail=parse_tail(values["--tail"]),
            since=_time(since, now) if since else None,
            until=_time(until, now) if until else None,
            since_text=since,
            until_text=until,
        )

    @property
    def flags(self) -> str:
        """The window as ``parse`` takes it, to edit."""
        words = [f"--since {self.since_text}"] if self.since_text else []
        words += [f"--until {self.until_text}"] if self.until_text else []
        tail = "all" if self.tail is None or self.tail < 0 else self.tail
        return " ".join([*words, f"--tail {tail}"])

    def follows(self, now: float) -> bool:
        """Whether new lines can still fall in the window."""
        return self.until is None or self.until > now

    def describe(self, following: bool) -> str:
        """E.g. "last 1,000 lines since 10m ago (10:02:13), then live"."""
        text = "all lines" if self.tail is None or self.tail < 0 else f"last {self.tail:,} lines"
        if self.since is not None:
            text += f" since {_moment(self.since_text, self.since)}"
        if self.until is not None:
            text += f" until {_moment(self.until_text, self.until)}"
        if not following:
            return text + ", not following"
        return text + (", following until then" if self.until is not None else ", then live")


def _time(written: str, now: float | None) -> float:
    moment = parse_time_filter(written, now)
    try:
        datetime.fromtimestamp(moment)  # the status line shows it as a date
    except (ValueError, OverflowError, OSError):
        raise InvalidArgumentError(f'time "{written}" is out of range') from None
    return moment


def _moment(written: str, moment: float) -> str:
    # Durations (10m, 1h30m) end in a unit; RFC 3339 and unix times end in a digit or Z.
    relative = written[-1:] in ("s", "m", "h")
    return f"{written} ago ({_clock(moment)})" if relative else _clock(moment)


def _clock(moment: float) -> str:
    local = datetime.fromtimestamp(moment)
    today = local.date() == datetime.now().date()
    return local.strftime("%H:%M:%S" if today else "%Y-%m-%d %H:%M:%S")


def _decode(raw: str) -> tuple[str, tuple[Span, ...]]:
    """The line as shown, printable, and the styles its SGR sequences give it."""
    text = raw.rstrip("\r\n")
    if "\x1b" not in text:  # most lines: no need to decode
        return (text if text.isprintable() else _CONTROL.sub("�", text.expandtabs())), ()
    # Once only SGR sequences are left, rich decodes them (a new decoder: it keeps the
    # style from one line to the next, and a line's colours must not leak to the next).
    decoded = AnsiDecoder().decode_line(_CONTROL.sub("�", _ESCAPE.sub(_sgr_only, text)))
    decoded.expand_tabs()
    return decoded.plain, tuple(decoded.spans)


def _sgr_only(match: re.Match[str]) -> str:
    return match[1] or ""


def _cuts(plain: str, width: int) -> list[int]:
    """Where (in characters) ``plain`` wraps to rows of ``width`` cells."""
    if plain.isascii():
        return list(range(width, len(plain), width))
    cuts, at = [], 0
    for piece in chop_cells(plain, width)[:-1]:
        at += len(piece)
        cuts.append(at)
    return cuts


class LogView(ScrollView, can_focus=True):
    """A log that renders only the rows in view, so appending costs the same at any length,
    and a change in how lines look (timestamps, search) only clears a cache.

    A line is one row, or several when wrapped. Rows can be selected with the mouse
    (Textual's selection: drag, double-click; ctrl+c copies).
    """

    ALLOW_SELECT = True
    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        &:focus { background-tint: $foreground 5%; }
    }
    """

    def __init__(
        self, styled: Callable[[Line], Text], plain: Callable[[Line], str], *, id: str
    ) -> None:
        super().__init__(id=id)
        self._styled, self._plain = styled, plain
        self.lines: list[Line] = []
        self.dropped = 0  # lines trimmed from the front: line number n is lines[n - dropped]
        self.wrap = False
        self.placeholder = ""  # said in the view while it has no line
        self._starts = [0]  # each line's first row, then the row count
        self._width = 0  # the widest line, in cells
        self._strips: LRUCache[int, list[Strip]] = LRUCache(1024)  # by line number

    def append(self, lines: Sequence[Line]) -> None:
        starts, width = self._starts, self._wrap_width
        for line in lines:
            plain = self._plain(line)
            rows = len(_cuts(plain, width)) + 1 if self.wrap else 1
            starts.append(starts[-1] + rows)
            self._width = max(self._width, cell_len(plain))
        self.lines.extend(lines)
        self._resized()

    def reset(self, lines: list[Line]) -> None:
        """Show ``lines`` instead, from the top."""
        self.lines, self.dropped = lines, 0
        self._measure()
        self.scroll_home(animate=False, immediate=True)

    def trim(self, count: int) -> None:
        """Drop the first ``count`` lines; the rows in view stay where they are."""
        rows = self._starts[count]
        target = self.scroll_target_y - rows
        del self.lines[:count]
        self._starts = [start - rows for start in self._starts[count:]]
        self.dropped += count
        self._resized()
        self.scroll_to(y=max(0, target), animate=False, immediate=True)
        self._shift_selection(-rows)

    def relayout(self) -> None:
        """Measure every line anew (wrap, timestamps, width changed); the top line stays."""
        top = self.line_at(round(self.scroll_y))
        self._measure()
        if top is not None:
            self.scroll_to(y=self.row_of(top), animate=False, immediate=True)

    def _measure(self) -> None:
        self._starts, self._width = [0], 0
        self._strips.clear()
        lines, self.lines = self.lines, []
        self.append(lines)

    def restyle(self) -> None:
        """Draw every line anew (a new search): rows and widths are unchanged."""
        self._strips.clear()
        self.refresh()

    def line_at(self, row: int) -> int | None:
        """The number of the line shown on ``row``, None past the end."""
        if not 0 <= row < self._starts[-1]:
            return None
        return self.dropped + bisect_right(self._starts, row) - 1

    def row_of(self, number: int) -> int:
        return self._starts[number - self.dropped]

    def lines_in_view(self) -> list[Line]:
        top = round(self.scroll_y)
        first = self.line_at(top)
        if first is None:
            return []
        bottom = min(top + self.scrollable_content_region.height, self._starts[-1]) - 1
        last = self.line_at(bottom)
        return self.lines[first - self.dropped : last - self.dropped + 1]

    @property
    def _wrap_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _resized(self) -> None:
        width = self._wrap_width if self.wrap else self._width
        self.virtual_size = Size(width, self._starts[-1])
        self.refresh()

    def on_resize(self, event: Resize) -> None:
        if self.wrap:
            self.relayout()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # the theme changed: colours with it

    # -- drawing ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row, width, style = scroll_y + y, self.scrollable_content_region.width, self.rich_style
        number = self.line_at(row)
        if number is None:
            if row or self.lines or not self.placeholder:
                return Strip.blank(width, style)
            return self._strip(Text(self.placeholder, "italic dim")).crop_extend(0, width, style)
        part, selection = row - self.row_of(number), self.text_selection
        span = selection.get_span(row) if selection else None
        if span is None:
            strip = self._strips_of(number)[part]
        else:
            start, end = span
            piece = self._pieces(self.lines[number - self.dropped])[part]
            piece.stylize(self.screen.get_component_rich_style("screen--selection"), start,
                          len(piece) if end == -1 else end)  # fmt: skip
            strip = self._strip(piece)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, row)

    def _strips_of(self, number: int) -> list[Strip]:
        strips = self._strips.get(number)
        if strips is None:
            pieces = self._pieces(self.lines[number - self.dropped])
            strips = self._strips[number] = [self._strip(piece) for piece in pieces]
        return strips

    def _pieces(self, line: Line) -> list[Text]:
        """The line's text, one piece per row."""
        text = self._styled(line)
        if not self.wrap:
            return [text]
        return list(text.divide(_cuts(text.plain, self._wrap_width)))

    def _strip(self, text: Text) -> Strip:
        segments = text.render(self.app.console)
        return Strip(segments, text.cell_len).apply_style(self.rich_style)

    # -- selection ----------------------------------------------------------------------

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self._row_texts())), "\n"

    def _row_texts(self) -> Iterator[str]:
        width = self._wrap_width
        for line in self.lines:
            plain = self._plain(line)
            if self.wrap:
                bounds = [0, *_cuts(plain, width), len(plain)]
                yield from (plain[start:end] for start, end in pairwise(bounds))
            else:
                yield plain

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    def _shift_selection(self, rows: int) -> None:
        selection = self.text_selection
        if selection is None or selection.start is None or selection.end is None:
            return

        def shift(offset: Offset) -> Offset:
            return Offset(offset.x, offset.y + rows) if offset.y + rows >= 0 else Offset(0, 0)

        self.screen.selections = {
            **self.screen.selections,
            self: Selection(shift(selection.start), shift(selection.end)),
        }


class LogsScreen(Screen[None]):
    """Follows the logs of ``containers``, merged by time, until each stops.

    With several containers, each line starts with its container's name in its own colour
    (as `docker compose logs` does). History is merged by time; live lines are shown in
    the order they arrive, sorted by time within each 50 ms batch.
    """

    BINDINGS = [
        Binding("escape", "close", "Close", id="logs.close"),
        Binding("t", "toggle_timestamps", "Timestamps", id="logs.timestamps"),
        Binding("w", "toggle_wrap", "Wrap", id="logs.wrap"),
        Binding("s", "ask('window')", "Window", id="logs.window"),
        Binding("slash", "ask('search')", "Search", id="logs.search"),
        Binding("n", "next_match(1)", "Next", id="logs.next"),
        Binding("N", "next_match(-1)", "Previous", id="logs.previous", show=False),
        Binding("f", "ask('filter')", "Filter", id="logs.filter"),
        Binding("y", "copy", "Copy", id="logs.copy"),
        Binding("Y", "copy_all", "Copy all", id="logs.copy-all"),
    ]

    def __init__(
        self, engine: Engine, containers: Sequence[Container], window: LogWindow | None = None
    ) -> None:
        super().__init__()
        self.engine = engine
        self.containers = list(containers)
        self.window = window or LogWindow()
        self.entries: deque[Line] = deque(maxlen=KEEP)  # every line kept, filtered or not
        self.received = 0  # lines read since the window was set, kept or not
        self.timestamps = False
        self.search = ""
        self.filter = ""
        self.following = True  # False while the user has scrolled up; End resumes
        self._group = f"logs-{id(self)}"
        self._generation = 0  # bumped by each (re)read, which counts its own followers
        self._loaded = False  # the history is read
        self._followers = 0  # containers still being followed
        self._stopped: dict[int, str] = {}  # container index -> "stopped 10:04:55"
        self._pending: list[Line] = []
        self._starts: list[int] = []  # numbers of the lines that match the search
        self._match = -1
        self._asking = ""  # "search", "filter" or "window" while the input is open
        self._status = ""
        names = [container.name for container in self.containers]
        self._name_width = max(map(len, names)) if len(names) > 1 else 0

    def compose(self) -> ComposeResult:
        yield Static(id="logs-status", markup=False)
        yield LogView(self._styled, self._plain, id="logs-body")
        yield Input(id="logs-input")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#logs-input").display = False
        self.body.focus()
        self.set_interval(FLUSH_SECONDS, self._flush)
        self._read()

    @property
    def body(self) -> LogView:
        return self.query_one("#logs-body", LogView)

    @property
    def ended(self) -> bool:
        """The window is read to its end: every container stopped or the window closed."""
        return self._loaded and not self._followers and not self._pending

    # -- reading ------------------------------------------------------------------------

    def _read(self) -> None:
        """(Re)read the window: every container's history merged by time, then follow each."""
        self.app.workers.cancel_group(self.app, self._group)
        self._generation += 1
        self.entries.clear()
        self._pending, self._stopped, self._starts, self._match = [], {}, [], -1
        self.received, self._loaded, self._followers, self.following = 0, False, 0, True
        self.body.reset([])
        run_engine_task(
            self,
            self._load(),
            group=self._group,
            description=f"Reading the log of {self._names()}",
        )
        self._update_status()

    async def _load(self) -> None:
        histories = await asyncio.gather(*map(self._history, range(len(self.containers))))
        self._pending.extend(heapq.merge(*histories, key=lambda line: line.entry.time))
        self.received += sum(map(len, histories))
        self._loaded = True
        if not self.window.follows(time.time()):
            return
        for source, history in enumerate(histories):
            if source in self._stopped:  # removed meanwhile
                continue
            self._followers += 1
            run_engine_task(
                self,
                self._follow(source, history),
                group=self._group,
                description=f"Following the log of {self.containers[source].name}",
            )

    async def _history(self, source: int) -> list[Line]:
        window = self.window
        entries = self.engine.containers.logs(
            self.containers[source].id, since=window.since, until=window.until, tail=window.tail
        )
        try:
            return [Line(source, entry, *_decode(entry.text)) async for entry in entries]
        except NotFoundError:
            self._stopped[source] = "removed"
            return []

    async def _follow(self, source: int, history: list[Line]) -> None:
        # The follow starts where the history ended, at its last time; the lines of that
        # very time (nanoseconds) the history already had are skipped, by count.
        last = history[-1].entry.time if history else ""
        seen = sum(1 for _ in takewhile(lambda line: line.entry.time == last, reversed(history)))
        generation = self._generation
        entries = self.engine.containers.logs(
            self.containers[source].id, follow=True,
            since=parse(last) if last else self.window.since, until=self.window.until,
        )  # fmt: skip
        try:
            async for entry in entries:
                if entry.time < last or (entry.time == last and seen):
                    seen -= entry.time == last
                    continue
                self._pending.append(Line(source, entry, *_decode(entry.text)))
                self.received += 1
            await self._note_stop(source)
        except NotFoundError:
            self._stopped[source] = "removed"
        finally:
            if generation == self._generation:  # else _read has counted afresh
                self._followers -= 1

    async def _note_stop(self, source: int) -> None:
        try:
            container = await self.engine.containers.get(self.containers[source].id)
        except NotFoundError:
            self._stopped[source] = "removed"
            return
        if not container.running:  # else the window closed, said by the window itself
            finished = container.finished_at
            self._stopped[source] = f"stopped {_clock(parse(finished))}" if finished else "stopped"

    # -- showing ------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            if len(self.containers) > 1:
                batch.sort(key=lambda line: line.entry.time)
            self.entries.extend(batch)
            self._show(batch)
        self._update_status()

    def _show(self, batch: list[Line]) -> None:
        body = self.body
        # Scrolled up (or to a match), the view stays put; back at the bottom (End, the
        # mouse), it follows again. The scroll's target, not its position: a Home still
        # being animated must not be yanked back to the bottom by this batch.
        self.following = body.scroll_target_y >= body.max_scroll_y
        pattern, search = _pattern(self.filter), _pattern(self.search)
        shown = [line for line in batch if not pattern or pattern.search(line.text)]
        if search:
            first = body.dropped + len(body.lines)
            self._starts += [first + i for i, line in enumerate(shown) if search.search(line.text)]
        body.append(shown)
        if len(body.lines) > KEEP + KEEP // 10:  # trimmed in steps: a trim costs O(KEEP)
            body.trim(len(body.lines) - KEEP)
            gone = bisect_left(self._starts, body.dropped)
            del self._starts[:gone]
            self._match = max(-1, self._match - gone)
        if self.following:
            body.scroll_end(animate=False, immediate=True, x_axis=False)

    def _styled(self, line: Line) -> Text:
        text = Text(no_wrap=True)
        if self._name_width:
            colour = NAME_COLOURS[line.source % len(NAME_COLOURS)]
            text.append(self._prefix(line), self.app.theme_variables.get(colour, "cyan"))
        if self.timestamps:
            text.append(line.entry.time + " ", "dim")
        stderr = line.entry.stream == "stderr"
        error = self.app.theme_variables.get("error", "red") if stderr else ""
        body = Text(line.text, error, spans=[*line.spans])  # a copy: highlighted below
        if search := _pattern(self.search):
            body.highlight_regex(search, style="bold reverse")
        return text.append_text(body)

    def _plain(self, line: Line) -> str:
        stamp = line.entry.time + " " if self.timestamps else ""
        return self._prefix(line) + stamp + line.text

    def _prefix(self, line: Line) -> str:
        if not self._name_width:
            return ""
        return f"{self.containers[line.source].name:<{self._name_width}} | "

    def _names(self) -> str:
        return ", ".join(container.name for container in self.containers)

    def _update_status(self) -> None:
        body = self.body
        placeholder = "" if body.lines else self._empty_text()
        if placeholder != body.placeholder:
            body.placeholder = placeholder
            body.refresh()
        status = self.status_text()
        if status != self._status:  # most flushes change nothing it says
            self._status = status
            self.query_one("#logs-status", Static).update(status)

    def status_text(self) -> str:
        """The containers, the window in effect and the line count: an empty pane explains
        itself."""
        names = ", ".join(
            f"{container.name} ({self._stopped[i]})" if i in self._stopped else container.name
            for i, container in enumerate(self.containers)
        )
        following = bool(self._followers) if self._loaded else self.window.follows(time.time())
        parts = [names, self.window.describe(following), f"{len(self.entries):,} lines"]
        if self.filter:
            parts.append(f"{len(self.body.lines):,} match filter “{self.filter}”")
        if self.search:
            parts.append(f"search “{self.search}”: {self._match + 1}/{len(self._starts)}")
        if not self.following:
            parts.append("paused — End resumes")
        return " · ".join(parts)

    def _empty_text(self) -> str:
        if not self._loaded:
            return "Reading the log…"
        if self.entries:
            return f"No line matches the filter “{self.filter}” — f changes it."
        if self._followers:
            return "Nothing logged in this window yet; new lines appear here. s sets the window."
        return "Nothing was logged in this window. s sets it (--since, --until, --tail)."

    # -- keys ---------------------------------------------------------------------------

    def action_toggle_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        self._relayout()

    def action_toggle_wrap(self) -> None:
        self.body.wrap = not self.body.wrap
        self._relayout()

    def _relayout(self) -> None:
        body = self.body
        following = body.scroll_target_y >= body.max_scroll_y
        body.relayout()
        if following:
            body.scroll_end(animate=False, immediate=True, x_axis=False)

    def action_next_match(self, step: int) -> None:
        if not self._starts:
            return
        self._match = (self._match + step) % len(self._starts)
        body = self.body
        self.following = False  # looking at a match: new lines must not scroll it away
        row = body.row_of(self._starts[self._match])
        body.scroll_to(y=max(0, row - body.size.height // 2), animate=False, immediate=True)
        self._update_status()

    def action_copy(self) -> None:
        """The selected text, else every line in view, as plain text."""
        selected = self.get_selected_text()
        if selected:
            self._copy(selected, selected.count("\n") + 1, "selected")
        else:
            lines = self.body.lines_in_view()
            self._copy("\n".join(map(self._plain, lines)), len(lines), "in view")

    def action_copy_all(self) -> None:
        """Every kept line that passes the filter, as plain text."""
        lines = self.body.lines
        which = f"matching “{self.filter}”" if self.filter else "kept"
        self._copy("\n".join(map(self._plain, lines)), len(lines), which)

    def _copy(self, text: str, count: int, which: str) -> None:
        if not count:
            self.notify("Nothing to copy", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {count:,} line{'s' if count != 1 else ''} {which}", markup=False)

    def action_ask(self, what: str) -> None:
        self._asking = what
        field = self.query_one("#logs-input", Input)
        field.placeholder = _PROMPTS[what]
        field.value = self.window.flags if what == "window" else getattr(self, what)
        field.display = True
        field.focus()

    @on(Input.Submitted, "#logs-input")
    def _answered(self, event: Input.Submitted) -> None:
        asking = self._asking
        self._close_input()
        if asking == "window":
            self._set_window(event.value)
        elif asking == "filter":
            self.filter = event.value
            self._refilter()
        else:
            self.search = event.value
            self._research()
            if self.search:
                self.action_next_match(1)
        self._update_status()

    def _set_window(self, flags: str) -> None:
        try:
            self.window = LogWindow.parse(flags)
        except BerthError as error:
            self.notify(str(error), title="Time window", severity="error", markup=False)
            return
        self._read()

    def _refilter(self) -> None:
        pattern = _pattern(self.filter)
        self.body.reset([line for line in self.entries if not pattern or pattern.search(line.text)])
        self._research()
        self.body.scroll_end(animate=False, immediate=True, x_axis=False)
        self.following = True

    def _research(self) -> None:
        search, body = _pattern(self.search), self.body
        self._match = -1
        matches = (i for i, line in enumerate(body.lines) if search and search.search(line.text))
        self._starts = [body.dropped + i for i in matches]
        body.restyle()

    def _close_input(self) -> None:
        self._asking = ""
        self.query_one("#logs-input").display = False
        self.body.focus()

    def action_close(self) -> None:
        # Escape first closes the input field, then the pane.
        if self._asking:
            self._close_input()
        else:
            self.dismiss(None)

    def on_unmount(self) -> None:
        # Stop following: the pane is gone, nobody reads the lines any more.
        self.app.workers.cancel_group(self.app, self._group)


def _pattern(text: str) -> re.Pattern[str] | None:
    return re.compile(re.escape(text), re.IGNORECASE) if text else None

"""The command palette's berth commands: every action a key runs where the user is.

Each is a berth binding (one with an id) in force on the screen the palette was opened
from (see tui/screens/help.py), offered by its description with its keys shown, and run
exactly as its key would run it. Greyed-out actions (nothing to act on) are not offered,
nor Textual's own cursor and focus keys, which are no commands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.screens.help import KeyEntry, keys_in_force


@dataclass(frozen=True)
class Command:
    """One palette entry: a name, its keys and where it applies, and how to run it."""

    name: str
    help: str
    run: Callable[[], Awaitable[bool]]


class BerthCommands(Provider):
    """Offers the enabled bindings of the palette's screen as commands."""

    def commands(self) -> list[Command]:
        """The commands, app-wide first."""
        return [_command(entry) for entry in keys_in_force(self.screen) if _offered(entry)]

    async def discover(self) -> Hits:
        for command in self.commands():
            yield DiscoveryHit(command.name, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(score, matcher.highlight(command.name), command.run, command.name,
                          command.help)  # fmt: skip


def _offered(entry: KeyEntry) -> bool:
    binding = entry.binding
    # The palette's own key is left out: the palette is open already.
    return entry.enabled and bool(binding.id) and binding.action != "command_palette"


def _command(entry: KeyEntry) -> Command:
    run = partial(entry.node.app.run_action, entry.binding.action, entry.node)
    return Command(entry.description, f"{' '.join(entry.keys)} · {entry.scope}", run)

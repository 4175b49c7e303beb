"""``docker run`` as a form: name, command, env, ports, CPUs, memory, detached or attached.

Values are read as the CLI reads the same flags (the engine parses --cpus and --memory
for both front ends), so a value means the same typed here or on the command line.
"""

from __future__ import annotations

import contextlib
import shlex

from textual.app import ComposeResult
from textual.widgets import Checkbox, Input

from engine.api import (
    Container,
    CreateOptions,
    Engine,
    parse_limit,
    parse_port_spec,
    resolve_user_entries,
)
from engine.errors import BerthError, InvalidArgumentError
from tui.screens.image_forms import EngineForm, form_row


class RunForm(EngineForm[Container]):
    """Creates and starts a container of ``image``; dismisses with it, running (or, when
    interactive, created: the terminal hand-over starts it attached, as ``run -it``).

    A container that fails to start is removed again: for the user the form is one step,
    which either runs a container or leaves nothing behind.
    """

    SUBMIT_LABEL = "Run"

    def __init__(self, engine: Engine, image: str) -> None:
        super().__init__(engine)
        self.image = image

    def heading(self) -> str:
        return f"Run a container of {self.image}"

    def fields(self) -> ComposeResult:
        def field(name: str, placeholder: str) -> Input:
            return Input(id=f"form-{name}", placeholder=placeholder, compact=True)

        yield form_row("Name", field("name", "--name (default: generated)"))
        yield form_row("Command", field("command", "default: the image's; e.g. sleep 600"))
        yield form_row("Env", field("env", '-e KEY=VALUE ..., e.g. MODE=dev "GREETING=hi there"'))
        yield form_row(
            "Ports", field("ports", "-p [HOSTIP:][HOSTPORT:]PORT[/PROTO] ..., e.g. 8080:80")
        )
        yield form_row("CPUs", field("cpus", "--cpus, e.g. 0.5"))
        yield form_row("Memory", field("memory", "--memory, e.g. 64m"))
        yield Checkbox(
            "Interactive (-it): attach a terminal now; off: detached (-d)",
            id="form-interactive",
            compact=True,
        )

    def description(self) -> str:
        return f"Running {self.image}"

    def options(self) -> CreateOptions:
        """The container's options from the fields; InvalidArgumentError for a bad one."""
        interactive = self.query_one("#form-interactive", Checkbox).value
        publish = self.value("ports").replace(",", " ").split()
        for spec in publish:  # refused before anything is made, as the CLI does
            parse_port_spec(spec)
        resources = {
            field: parse_limit(field, self.value(name))
            for field, name in (("nano_cpus", "cpus"), ("memory", "memory"))
            if self.value(name)
        }
        return CreateOptions(
            image=self.image,
            command=_words(self.value("command"), "command"),
            name=self.value("name") or None,
            env=resolve_user_entries(_words(self.value("env"), "env")),
            tty=interactive,
            interactive=interactive,
            publish=publish,
            **resources,
        )

    async def perform(self) -> Container:
        container = await self.engine.containers.create(self.options())
        if container.options.tty:
            return container  # started by the terminal hand-over, attached from the start
        try:
            return await self.engine.containers.start(container.id, warn=self._warn)
        except Exception:
            with contextlib.suppress(BerthError):
                await self.engine.containers.remove(container.id, force=True)
            raise

    def _warn(self, text: str) -> None:
        """What the host cannot apply (a limit): the app's, so it outlives the form."""
        self.app.notify(text, title="Warning", severity="warning", markup=False)


def _words(text: str, what: str) -> list[str]:
    """``text`` split as a shell splits it, so quotes keep spaces in one word."""
    try:
        return shlex.split(text)
    except ValueError as error:
        raise InvalidArgumentError(f'cannot read the {what} "{text}": {error}') from None

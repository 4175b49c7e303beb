"""Signal names as users type them: KILL, SIGKILL, sigterm, 9."""

from __future__ import annotations

import signal

from engine.errors import InvalidArgumentError


def parse_signal(name: str | int) -> int:
    """The signal number for a name or number, or a clear error."""
    text = str(name).strip()
    if text.isascii() and text.isdigit() and 0 < int(text) < signal.NSIG:  # not "²"
        return int(text)
    try:
        return int(signal.Signals["SIG" + text.upper().removeprefix("SIG")])
    except KeyError:
        raise InvalidArgumentError(
            f'invalid signal: "{name}" (try KILL, TERM, HUP or a number)'
        ) from None

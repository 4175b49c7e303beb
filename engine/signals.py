"""Signal names as users type them (KILL, SIGKILL, sigterm, 9), and exit codes as a shell
reports a process a signal killed (128 + N)."""

from __future__ import annotations

import os
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


def exit_status(wait_status: int) -> int:
    """A waitpid status as a shell gives it: the exit code, or 128+N if killed by N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code

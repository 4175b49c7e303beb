"""Starting a monitor's interpreter, ahead of need or on it.

A monitor is a lean interpreter of its own (``python -S -I``: no site, no .pth files,
the standard library and engine modules it uses; its memory counts once per
container). Starting one costs an interpreter start and the monitor's imports,
~50 ms; a command that will start a container (``run``, ``start``, ``exec``) calls
:func:`start_ahead` first thing, so that cost runs on the other core while the
command imports and prepares the bundle, and :func:`launch` then only hands the
waiting interpreter its config. A monitor never handed one exits when its config
pipe closes (the command failed first, or needed none). Nothing here may import
more than ``os``, ``subprocess`` and ``sys``: it runs before the command's imports.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from collections.abc import Callable

import engine


def lean_command(module: str, *args: str) -> list[str]:
    """``python -S -I`` calling ``module``'s ``main(*args)`` and exiting with its status
    (an int): no site, no .pth files (the
    editable install's finder alone costs ~18 ms), engine's own location first on its
    path, then the site-packages this process has (for compiled library bindings)."""
    paths = [os.path.dirname(os.path.dirname(engine.__file__)), *site.getsitepackages()]
    # os._exit: the interpreter's teardown (~20 ms) would only delay the lock's release
    code = (f"import os, sys; sys.path[:0] = {paths!r}; from {module} import main; "
            "status = main(*sys.argv[1:]); sys.stderr.flush(); os._exit(status)")  # fmt: skip
    return [sys.executable, "-S", "-I", "-c", code, *args]


class _Waiting:
    """A monitor interpreter waiting on its stdin for its config."""

    def __init__(self) -> None:
        self.ready_read, self.ready_write = os.pipe2(os.O_CLOEXEC)
        config_read, self.config_write = os.pipe2(os.O_CLOEXEC)
        try:
            # A session of its own: the terminal's Ctrl-C is the container's, never its.
            self.process = subprocess.Popen(
                lean_command("engine.monitor.__main__"),
                stdin=config_read, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(self.ready_write,), start_new_session=True,
            )  # fmt: skip
        except BaseException:
            for fd in (self.ready_read, self.ready_write, self.config_write):
                os.close(fd)
            raise
        finally:
            os.close(config_read)

    def hand_over(self, text: str) -> None:
        """Give it its config; return once it is set up (its first process exited)."""
        try:
            with open(self._take("config_write"), "w") as pipe:  # its end of file ends it
                pipe.write(text)
        except BrokenPipeError:
            pass  # it died: its exit status says so
        os.close(self._take("ready_write"))
        if self.process.wait() != 0:
            raise subprocess.CalledProcessError(self.process.returncode, "berth monitor")

    def discard(self) -> None:
        """Close every end still ours: a monitor not handed its config exits."""
        for name in ("ready_read", "ready_write", "config_write"):
            if getattr(self, name) >= 0:
                os.close(self._take(name))

    def _take(self, name: str) -> int:
        fd = getattr(self, name)
        setattr(self, name, -1)
        return fd


_ahead: _Waiting | None = None


def start_ahead() -> None:
    """Start one monitor interpreter now, for the next :func:`launch` of this process."""
    global _ahead
    if _ahead is None:
        _ahead = _Waiting()


def launch(kind: str, config: Callable[[int], str], errors_log: str) -> int:
    """Start a monitor (``kind``: container or exec) with ``config(ready_fd)``.

    Returns once the monitor holds its lock and serves its socket: the read end of its
    ready pipe, where it says whether the process started. ``errors_log`` gets its
    stderr: what it could not say there.
    """
    global _ahead
    waiting, _ahead = _ahead or _Waiting(), None
    try:
        waiting.hand_over(f"{kind}\n{errors_log}\n{config(waiting.ready_write)}")
    except BaseException:
        waiting.discard()
        raise
    return waiting.ready_read

"""The ``berth`` command line: Docker's commands and flags on the local engine.

No traceback reaches a user: every failure ends as one line on stderr. An unexpected
one leaves its trace in the engine root's debug.log, or prints it with ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import select
import sys
import time
import traceback
from collections.abc import Sequence
from typing import NoReturn

from engine.errors import BerthError, ContainerStartError

#: Docker's exit status when SIGPIPE ends a command: a closed stdout ends it like `yes | head`
_CLOSED_OUTPUT = 128 + 13
_FULL = (errno.ENOSPC, errno.EDQUOT)
_DEBUG_LOG = "debug.log"
_DEBUG_LOG_LIMIT = 1 << 20  # bytes; past it the log starts afresh


class _Parser(argparse.ArgumentParser):
    """argparse, with Docker's answer to a bad flag: one line and exit 125, not usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(125, f"berth: {message} (see '{self.prog} --help')\n")


#: The modules that register the commands. Only the running command's modules are
#: imported, and the engine services they use with them; ``--help`` loads them all.
_COMMANDS_OF = {
    ("build",): "build builder",
    ("containers",): "attach create exec kill pause ps rename restart rm run start stop top "
    "unpause wait",
    ("files",): "cp diff export",
    ("images",): "commit history images import rmi starter tag",
    # the registry's commands also join the image group (image pull and the like)
    ("images", "registry"): "image load login logout pull push save",
    ("inspect",): "inspect",
    ("logs",): "logs",
    ("network",): "network",
    ("port",): "port",
    ("stats",): "stats",
    ("system",): "container system",
    ("update",): "update",
    ("volumes",): "volume",
}
_MODULES = {word: modules for modules, words in _COMMANDS_OF.items() for word in words.split()}
_GLOBAL_OPTIONS_WITH_VALUE = ("--root", "--runroot")
#: the commands that start a container's or an exec's monitor
_STARTING = ("exec", "restart", "run", "start")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``command``'s modules, or of every command if it is not one."""
    parser = _Parser(
        prog="berth",
        description="A daemonless container engine. With no command, opens the terminal UI.",
    )
    parser.add_argument("--root", help="engine root (default /var/lib/berth, or $BERTH_ROOT)")
    parser.add_argument("--runroot", help="run directory (default /run/berth, or $BERTH_RUNROOT)")
    parser.add_argument(
        "-D", "--debug", action="store_true", help="print the full trace of an internal error"
    )
    # not dest="command": run and create take the container's command under that name
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND")
    modules = _MODULES.get(command or "", sorted({m for ms in _MODULES.values() for m in ms}))
    image_commands = None
    for name in modules:
        module = importlib.import_module(f"cli.{name}")
        if name == "images":
            image_commands = module.register(commands)
        elif name == "registry":
            module.register(commands, image_commands)
        else:
            module.register(commands)
    tui = commands.add_parser("tui", help="open the terminal UI")
    tui.set_defaults(handler=None)
    return parser


def command_word(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names (``run`` of ``--root R run ...``), if any."""
    words = iter(argv)
    for word in words:
        if word in _GLOBAL_OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = command_word(argv)
    if command in _STARTING:
        from engine.api import start_monitor_ahead

        start_monitor_ahead()  # its interpreter starts while this one imports and works
    args = build_parser(command).parse_args(argv)
    try:
        status = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return status
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except BaseException as error:  # an Exception, or asyncio's CancelledError
        try:
            return _report(args, error)
        except Exception:  # reporting failed too: say the least that cannot fail
            _say(f'berth: internal error in "{_command(args)}": {type(error).__name__}')
            return getattr(args, "error_exit", 1)


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "handler", None) is None:
        from tui.app import run_tui  # Textual loads only for the TUI

        return run_tui(args.root, args.runroot)
    import asyncio

    return asyncio.run(args.handler(args)) or 0


def _report(args: argparse.Namespace, error: BaseException) -> int:
    """Say what went wrong in one line on stderr; the exit status Docker would use."""
    if isinstance(error, BrokenPipeError) and _output_closed():
        _silence_output()
        return _CLOSED_OUTPUT
    exit_code = getattr(args, "error_exit", 1)
    if isinstance(error, BerthError):
        line = str(error)
        # Docker: 126/127 when the command can't run, 125 for other failures of run and
        # create, 1 for every other command.
        if isinstance(error, ContainerStartError):
            exit_code = error.exit_code
    elif isinstance(error, OSError) and error.errno in _FULL:
        line = f"no space left on the engine root ({_engine_root(args)})"
    elif isinstance(error, OSError) and error.strerror:
        line = _os_error(error)
    else:
        trace_note = _log_trace(args, error)
        line = f'internal error in "{_command(args)}": {_describe(error)} ({trace_note})'
    trace = "".join(traceback.format_exception(error)) if args.debug else ""
    _say(f"{trace}berth: {line}")
    return exit_code


def _os_error(error: OSError) -> str:
    """``"PATH": strerror``, naming both files of a rename or link."""
    names = [name for name in (error.filename, error.filename2) if name is not None]
    files = [f'"{os.fsdecode(n) if isinstance(n, bytes) else n}"' for n in names]
    return f"{' -> '.join(files)}: {error.strerror}" if files else error.strerror


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())  # one line, whatever the message holds
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _command(args: argparse.Namespace) -> str:
    words = ["berth", args.subcommand or "tui", getattr(args, "network_command", None)]
    return " ".join(word for word in words if word)


def _engine_root(args: argparse.Namespace) -> str:
    from engine.api import engine_root

    return engine_root(args.root, args.runroot)


def _log_trace(args: argparse.Namespace, error: BaseException) -> str:
    """Append the trace to the root's debug.log, else a new file in /tmp; where it went."""
    entry = f"--- {time.strftime('%Y-%m-%dT%H:%M:%S%z')} {' '.join(sys.argv)}\n" + "".join(
        traceback.format_exception(error)
    )
    try:
        path = os.path.join(_engine_root(args), _DEBUG_LOG)
        with open(path, "a", encoding="utf-8", errors="replace") as log:
            if log.tell() > _DEBUG_LOG_LIMIT:
                log.truncate(0)
            log.write(entry)
    except (OSError, ValueError):
        path = _temporary_log(entry)
    if path is None:
        return "rerun with --debug to print its trace"
    return f"full trace in {path}; rerun with --debug to print it"


def _temporary_log(entry: str) -> str | None:
    """A fresh file under /tmp (mkstemp: no name another user could plant a link at)."""
    import tempfile

    try:
        descriptor, path = tempfile.mkstemp(prefix="berth-debug-", suffix=".log")
        with os.fdopen(descriptor, "w", encoding="utf-8", errors="replace") as log:
            log.write(entry)
    except OSError:
        return None
    return path


def _output_closed() -> bool:
    """Whether stdout's or stderr's reader has gone: its pipe polls as an error or hang-up."""
    try:
        poller = select.poll()
        for stream in (sys.stdout, sys.stderr):
            poller.register(stream.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def _silence_output() -> None:
    """Point stdout and stderr at /dev/null: the interpreter's last flush cannot fail."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            os.dup2(devnull, stream.fileno())
        os.close(devnull)


def _say(line: str) -> None:
    # With stderr closed too, the exit status is all that is left to say it.
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def run() -> NoReturn:
    """The ``berth`` command: :func:`main`, then out without the interpreter's teardown
    (~30 ms of freeing modules and threads and a database checkpoint no one waits for)."""
    status = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    run()

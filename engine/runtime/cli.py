"""``berth-runtime``: the runc command line over berth's OCI runtime.

    berth-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND ...

Errors go to stderr as ``berth-runtime: <message>`` and, with --log, as one line in
the log file ({"level":"error","msg":...,"time":...} in json format, as runc writes),
which is how a caller tells the runtime's failure from the container's own exit code.
The exit status is the error's (127 command not found, 126 not executable, 125 other).
What ``create`` and ``run`` could not apply (a limit the host lacks) is no error: the
container runs, and each such setting is said on stderr as ``berth-runtime: warning:
<note>``, before the container's own output (container.create's default ``warn``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType

DEFAULT_ROOT = "/run/berth/runtime"
PROG = "berth-runtime"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except Exception as error:
        message, code = _describe(error)
        print(f"{PROG}: {message}", file=sys.stderr)
        if args.log:
            _log_error(Path(args.log), args.log_format, message)
        return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Run OCI bundles as containers.")
    parser.add_argument("--root", default=DEFAULT_ROOT, help="state directory of the containers")
    parser.add_argument("--log", help="append errors to this file")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser("create", help="create a container (stopped before its process)")
    _bundle_options(create)
    create.set_defaults(handler=_create)

    start = commands.add_parser("start", help="run a created container's process")
    start.add_argument("id")
    start.set_defaults(handler=_start)

    state = commands.add_parser("state", help="print a container's state as JSON")
    state.add_argument("id")
    state.set_defaults(handler=_state)

    kill = commands.add_parser("kill", help="send a signal to a container's init")
    kill.add_argument("-a", "--all", action="store_true", help="signal every process in it")
    kill.add_argument("id")
    kill.add_argument("signal", nargs="?", default="TERM", help="name or number (TERM)")
    kill.set_defaults(handler=_kill)

    delete = commands.add_parser("delete", help="remove a stopped or created container")
    delete.add_argument("-f", "--force", action="store_true", help="kill it if it runs")
    delete.add_argument("id")
    delete.set_defaults(handler=_delete)

    run = commands.add_parser("run", help="create, start, wait for and delete a container")
    _bundle_options(run)
    run.set_defaults(handler=_run)

    _exec_parser(commands)
    return parser


def _bundle_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-b", "--bundle", default=".", help="bundle directory (default: .)")
    parser.add_argument("--pid-file", help="write the init's pid here")
    _console_option(parser)
    parser.add_argument("id")


def _console_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--console-socket", help="unix socket to send the terminal's master to (terminal only)"
    )


def _exec_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "exec", help="run one more process in a running container",
        description="Without --process: the container's own process, with these changes.",
    )  # fmt: skip
    parser.add_argument("--process", help="the process as an OCI JSON file")
    _console_option(parser)
    parser.add_argument("-t", "--tty", action="store_true", help="give it a terminal")
    parser.add_argument("--cwd", help="working directory inside the container")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="K=V",
                        help="set an environment variable (repeatable)")  # fmt: skip
    parser.add_argument("-u", "--user", metavar="UID[:GID]", help="run as this user")
    parser.add_argument("-d", "--detach", action="store_true", help="do not wait for it")
    parser.add_argument("--pid-file", help="write the process's pid here")
    parser.add_argument("id")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments")
    parser.set_defaults(handler=_exec)


def _runtime() -> ModuleType:
    # Imported on demand: `--help` and argument errors need none of it.
    from engine.runtime import container

    return container


def _create(args: argparse.Namespace) -> None:
    _runtime().create(
        args.id,
        Path(args.bundle),
        state_root=Path(args.root),
        pid_file=_optional_path(args.pid_file),
        console_socket=_optional_path(args.console_socket),
    )


def _start(args: argparse.Namespace) -> None:
    _runtime().start(args.id, state_root=Path(args.root))


def _state(args: argparse.Namespace) -> None:
    print(json.dumps(_runtime().state(args.id, state_root=Path(args.root)), indent=2))


def _kill(args: argparse.Namespace) -> None:
    from engine.signals import parse_signal

    sig = parse_signal(args.signal)
    _runtime().kill(args.id, sig, state_root=Path(args.root), all=args.all)


def _delete(args: argparse.Namespace) -> None:
    _runtime().delete(args.id, state_root=Path(args.root), force=args.force)


def _run(args: argparse.Namespace) -> int:
    return _runtime().run(
        args.id, Path(args.bundle), state_root=Path(args.root),
        pid_file=_optional_path(args.pid_file), console_socket=_optional_path(args.console_socket),
        forward_signals=True,
    )  # fmt: skip


def _exec(args: argparse.Namespace) -> int:
    from engine.runtime.exec import exec_process
    from engine.signals import exit_status

    container = _runtime()
    pid = exec_process(
        args.id, _exec_process(args), state_root=Path(args.root),
        console_socket=_optional_path(args.console_socket),
        pid_file=_optional_path(args.pid_file),
    )  # fmt: skip
    if args.detach:
        return 0
    with container.forwarding(pid):
        _, status = os.waitpid(pid, 0)
    return exit_status(status)


def _exec_process(args: argparse.Namespace) -> dict:
    """The OCI process object exec runs: --process's, or the container's, changed."""
    if args.process:
        return _read_json(Path(args.process))
    if not args.command:
        raise _invalid("exec needs a COMMAND or --process")
    bundle = Path(_runtime().state(args.id, state_root=Path(args.root))["bundle"])
    process = _read_json(bundle / "config.json").get("process", {})
    process.update(args=args.command, terminal=args.tty)
    process["env"] = [*process.get("env", []), *args.env]
    if args.cwd:
        process["cwd"] = args.cwd
    if args.user:
        process["user"] = _parse_user(args.user)
    return process


def _parse_user(text: str) -> dict:
    uid, _, gid = text.partition(":")
    if not uid.isdigit() or not (gid.isdigit() or not gid):
        raise _invalid(f"invalid user {text!r}: use UID or UID:GID (numbers)")
    return {"uid": int(uid), "gid": int(gid or 0)}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise _invalid(f"cannot read {path}: {error}") from None


def _invalid(message: str) -> Exception:
    from engine.errors import InvalidArgumentError

    return InvalidArgumentError(message)


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _describe(error: Exception) -> tuple[str, int]:
    from engine.errors import BerthError

    if isinstance(error, BerthError):
        return str(error), error.exit_code
    if isinstance(error, OSError):
        from engine.linux.syscalls import describe

        return describe(error), 125
    return f"{type(error).__name__}: {error}", 125


def _log_error(path: Path, log_format: str, message: str) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if log_format == "json":
        line = json.dumps({"level": "error", "msg": message, "time": now})
    else:
        line = f'time="{now}" level=error msg={json.dumps(message)}'
    with open(path, "a") as log:
        log.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())

"""Container commands: run, create, start, ps, rm, kill."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

from cli import humanize
from cli.engine_access import open_engine, report_each
from cli.output import render
from engine.api import Engine
from engine.containers.environment import read_env_file, resolve_user_entries
from engine.containers.model import Container, CreateOptions
from engine.errors import InvalidArgumentError
from engine.timestamps import parse

# Signals a foreground `run` passes on to the container instead of dying (Docker's sig-proxy).
_PROXIED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                    signal.SIGUSR2)  # fmt: skip


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="create and run a container in the foreground")
    _add_create_flags(run)
    run.add_argument("--rm", action="store_true", help="remove the container when it exits")
    run.set_defaults(handler=_run, error_exit=125)

    create = commands.add_parser("create", help="create a container without starting it")
    _add_create_flags(create)
    create.set_defaults(handler=_create, error_exit=125)

    start = commands.add_parser("start", help="start a created or stopped container")
    start.add_argument("-a", "--attach", action="store_true", help="attach stdout/stderr")
    start.add_argument("container")
    start.set_defaults(handler=_start, error_exit=1)

    ps = commands.add_parser("ps", help="list containers")
    ps.add_argument("-a", "--all", action="store_true", help="show all, not only running")
    ps.add_argument("-q", "--quiet", action="store_true", help="only ids")
    ps.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    ps.add_argument("--format", help="Go-template-like format, e.g. '{{.ID}} {{.Names}}'")
    ps.set_defaults(handler=_ps, error_exit=1)

    rm = commands.add_parser("rm", help="remove containers")
    rm.add_argument("-f", "--force", action="store_true", help="kill a running container first")
    rm.add_argument("-v", "--volumes", action="store_true", help="remove anonymous volumes too")
    rm.add_argument("containers", nargs="+", metavar="CONTAINER")
    rm.set_defaults(handler=_rm, error_exit=1)

    kill = commands.add_parser("kill", help="send a signal to running containers")
    kill.add_argument("-s", "--signal", default="KILL", help="signal name or number (KILL)")
    kill.add_argument("containers", nargs="+", metavar="CONTAINER")
    kill.set_defaults(handler=_kill, error_exit=1)


def _add_create_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="the container's name (default: generated)")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--env-file", action="append", default=[], metavar="FILE")
    parser.add_argument("-w", "--workdir", help="working directory inside the container")
    parser.add_argument("-u", "--user", help="USER[:GROUP], names or numeric ids")
    parser.add_argument("-h", "--hostname", help="the container's hostname (default: short id)")
    parser.add_argument("--entrypoint", help='override the image\'s ENTRYPOINT ("" clears it)')
    parser.add_argument("image")
    parser.add_argument("command", nargs=argparse.REMAINDER)


def _create_options(args: argparse.Namespace) -> CreateOptions:
    env = [entry for path in args.env_file for entry in read_env_file(path)] + args.env
    return CreateOptions(
        image=args.image,
        command=args.command,
        name=args.name,
        env=resolve_user_entries(env),
        workdir=args.workdir,
        user=args.user,
        hostname=args.hostname,
        entrypoint=args.entrypoint,
        auto_remove=getattr(args, "rm", False),
    )


async def _create(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    container = await engine.containers.create(_create_options(args))
    print(container.id)
    return 0


async def _run(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    container = await engine.containers.create(_create_options(args))
    return await _run_in_foreground(engine, container.id)


async def _start(args: argparse.Namespace) -> int:
    if not args.attach:
        raise InvalidArgumentError(
            "detached start needs the container monitor, which this berth lacks yet: "
            "use berth start -a"
        )
    engine = open_engine(args)
    return await _run_in_foreground(engine, args.container)


async def _run_in_foreground(engine: Engine, ref: str) -> int:
    """Run the container with our stdio, passing our signals on to it."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task] = set()

    def forward(signum: int) -> None:
        task = loop.create_task(_forward_signal(engine, ref, signum))
        pending.add(task)
        task.add_done_callback(pending.discard)

    for signum in _PROXIED_SIGNALS:
        loop.add_signal_handler(signum, forward, signum)
    try:
        return await engine.containers.run_attached(ref)
    finally:
        for signum in _PROXIED_SIGNALS:
            loop.remove_signal_handler(signum)


async def _forward_signal(engine: Engine, ref: str, signum: int) -> None:
    try:
        await engine.containers.kill(ref, signum)
    except Exception as error:  # the container may just have exited
        print(f"berth: could not forward signal {signum}: {error}", file=sys.stderr)


_PS_HEADERS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
    "State": "STATE",
}  # fmt: skip
_PS_DEFAULT = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)


async def _ps(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    containers = await engine.containers.list(all=args.all)
    if args.quiet:
        print("\n".join(c.id if args.no_trunc else c.short_id for c in containers))
        return 0
    items = [_ps_fields(container, args.no_trunc) for container in containers]
    output = render(args.format or _PS_DEFAULT, items, _PS_HEADERS)
    if output:
        print(output)
    return 0


def _ps_fields(container: Container, no_trunc: bool) -> dict[str, str]:
    command = " ".join(container.args)
    if not no_trunc and len(command) > 20:
        command = command[:19] + "…"
    now = time.time()
    return {
        "ID": container.id if no_trunc else container.short_id,
        "Image": container.image_ref,
        "Command": f'"{command}"',
        "CreatedAt": container.created,
        "RunningFor": humanize.duration(now - parse(container.created)) + " ago",
        "Status": status_text(container, now),
        "Ports": "",
        "Names": container.name,
        "State": container.state,
    }


def status_text(container: Container, now: float) -> str:
    """Docker's STATUS column: "Up 5 minutes", "Exited (137) 2 minutes ago", "Created"."""
    if container.running and container.started_at:
        return "Up " + humanize.duration(now - parse(container.started_at))
    if container.state == "exited" and container.finished_at:
        ago = humanize.duration(now - parse(container.finished_at))
        return f"Exited ({container.exit_code}) {ago} ago"
    return "Created"


async def _rm(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    return await report_each(
        args.containers, lambda ref: engine.containers.remove(ref, force=args.force)
    )


async def _kill(args: argparse.Namespace) -> int:
    signum = _parse_signal(args.signal)
    engine = open_engine(args)
    return await report_each(args.containers, lambda ref: engine.containers.kill(ref, signum))


def _parse_signal(name: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        return int(signal.Signals["SIG" + name.upper().removeprefix("SIG")])
    except KeyError:
        raise InvalidArgumentError(
            f'invalid signal: "{name}" (try KILL, TERM, HUP or a number)'
        ) from None

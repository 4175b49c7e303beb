"""Container commands: run, create, start, attach, stop, restart, wait, ps, rm, kill."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

from cli import limits, network, security
from cli.arguments import boolean
from cli.engine_access import open_engine, report_each
from cli.output import render
from cli.progress import follow
from cli.registry import with_default_tag
from engine.api import (
    DEFAULT_DETACH_KEYS,
    INT64_MAX,
    AttachClient,
    Container,
    CreateOptions,
    Engine,
    MountPoint,
    PortMapping,
    RestartPolicy,
    SessionOptions,
    container_status,
    humanize,
    limits_in_effect,
    parse_detach_keys,
    parse_signal,
    parse_size,
    read_env_file,
    resolve_user_entries,
    run_session,
    terminal_size,
)
from engine.api import parse_timestamp as parse
from engine.errors import BerthError, InvalidArgumentError, NotFoundError


def register(commands: argparse._SubParsersAction) -> None:
    # -h is --hostname, as in Docker, so these two spell out --help.
    run = commands.add_parser("run", help="create and start a container", add_help=False)
    _add_create_flags(run)
    run.add_argument("-d", "--detach", action="store_true", help="run in the background")
    run.add_argument("--rm", action="store_true", help="remove the container when it exits")
    _add_attach_flags(run)
    run.set_defaults(handler=_run, error_exit=125)

    create = commands.add_parser(
        "create", help="create a container without starting it", add_help=False
    )
    _add_create_flags(create)
    create.add_argument("--rm", action="store_true", help="remove the container when it exits")
    create.set_defaults(handler=_create, error_exit=125)

    start = commands.add_parser("start", help="start created or stopped containers")
    start.add_argument("-a", "--attach", action="store_true", help="attach stdout/stderr")
    start.add_argument("-i", "--interactive", action="store_true", help="attach stdin")
    start.add_argument("--detach-keys", default=DEFAULT_DETACH_KEYS, help="ctrl-p,ctrl-q")
    start.add_argument("containers", nargs="+", metavar="CONTAINER")
    start.set_defaults(handler=_start, error_exit=1)

    attach = commands.add_parser("attach", help="attach to a running container")
    attach.add_argument("--no-stdin", action="store_true", help="do not attach stdin")
    _add_attach_flags(attach)
    attach.add_argument("container")
    attach.set_defaults(handler=_attach, error_exit=1)

    for name, verb in (("stop", "stop"), ("restart", "restart")):
        command = commands.add_parser(name, help=f"{verb} running containers")
        command.add_argument("-t", "--time", help="seconds before SIGKILL (10)")
        command.add_argument("containers", nargs="+", metavar="CONTAINER")
        command.set_defaults(handler=_stop if name == "stop" else _restart, error_exit=1)

    wait = commands.add_parser("wait", help="wait for containers to stop; print exit codes")
    wait.add_argument("containers", nargs="+", metavar="CONTAINER")
    wait.set_defaults(handler=_wait, error_exit=1)

    exec_ = commands.add_parser("exec", help="run a command in a running container")
    exec_.add_argument("-d", "--detach", action="store_true", help="run it in the background")
    exec_.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    exec_.add_argument("-t", "--tty", action="store_true", help="allocate a terminal")
    exec_.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE")
    exec_.add_argument("-w", "--workdir", help="working directory inside the container")
    exec_.add_argument("-u", "--user", help="USER[:GROUP], names or numeric ids")
    exec_.add_argument(
        "--privileged",
        action="store_true",
        help="give the process every capability",
    )
    exec_.add_argument("--detach-keys", default=DEFAULT_DETACH_KEYS, help="ctrl-p,ctrl-q")
    exec_.add_argument("container")
    exec_.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    exec_.set_defaults(handler=_exec, error_exit=1)

    ps = commands.add_parser("ps", help="list containers")
    ps.add_argument("-a", "--all", action="store_true", help="show all, not only running")
    ps.add_argument("-q", "--quiet", action="store_true", help="only ids")
    ps.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    ps.add_argument("--format", help="Go-template-like format, e.g. '{{.ID}} {{.Names}}'")
    ps.set_defaults(handler=_ps, error_exit=1)

    rm = commands.add_parser("rm", help="remove containers")
    rm.add_argument("-f", "--force", action="store_true", help="kill a running container first")
    rm.add_argument(
        "-v", "--volumes", action="store_true",
        help="remove its anonymous volumes too (named volumes stay)",
    )  # fmt: skip
    rm.add_argument("containers", nargs="+", metavar="CONTAINER")
    rm.set_defaults(handler=_rm, error_exit=1)

    for name, verb in (("pause", "freeze"), ("unpause", "thaw")):
        command = commands.add_parser(name, help=f"{verb} every process of containers")
        command.add_argument("containers", nargs="+", metavar="CONTAINER")
        command.set_defaults(handler=_pause if name == "pause" else _unpause, error_exit=1)

    rename = commands.add_parser("rename", help="rename a container")
    rename.add_argument("container")
    rename.add_argument("new_name", metavar="NEW_NAME")
    rename.set_defaults(handler=_rename, error_exit=1)

    top = commands.add_parser("top", help="the processes of a running container")
    top.add_argument("container")
    top.add_argument("ps_options", nargs=argparse.REMAINDER, metavar="PS OPTIONS")
    top.set_defaults(handler=_top, error_exit=1)

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
    parser.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    parser.add_argument("-t", "--tty", action="store_true", help="allocate a terminal")
    parser.add_argument(
        "--restart", default="no", help="no | on-failure[:N] | always | unless-stopped"
    )
    parser.add_argument("--log-opt", action="append", default=[], metavar="max-size=10m|max-file=3")
    parser.add_argument("--stop-signal", help="signal that stops the container (SIGTERM)")
    parser.add_argument("--stop-timeout", help="seconds stop waits before SIGKILL (10)")
    parser.add_argument(
        "--runtime", metavar="NAME",
        help="OCI runtime: berth (its own), or a runc-compatible binary's name or path "
        "(default: $BERTH_RUNTIME, else berth)",
    )  # fmt: skip
    parser.add_argument(
        "-v", "--volume", dest="volumes", action="append", default=[],
        metavar="[SOURCE:]TARGET[:MODE]",
        help="bind a host path (absolute SOURCE), mount a named volume, or an anonymous one; "
        "MODE: ro, rw, nocopy, z, Z, [r]private, [r]shared, [r]slave",
    )  # fmt: skip
    parser.add_argument(
        "--mount", dest="mounts", action="append", default=[], metavar="type=…,source=…,target=…",
        help="bind, volume or tmpfs mount: readonly, bind-propagation=, volume-nocopy, "
        "volume-opt=, tmpfs-size=, tmpfs-mode=",
    )  # fmt: skip
    parser.add_argument(
        "--volumes-from", action="append", default=[], metavar="CONTAINER[:ro|rw]",
        help="mount the volumes and binds of another container",
    )  # fmt: skip
    limits.add_flags(parser)
    security.add_flags(parser)
    network.add_run_flags(parser)
    parser.add_argument("--pull", choices=("missing", "always", "never"), default="missing",
                        help="pull the image first: missing (default), always, never")  # fmt: skip
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument("image")
    parser.add_argument("command", nargs=argparse.REMAINDER)


def _add_attach_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detach-keys", default=DEFAULT_DETACH_KEYS, help="ctrl-p,ctrl-q")
    parser.add_argument(
        "--sig-proxy",
        type=boolean,
        default=True,
        metavar="BOOL",
        help="pass signals to the container (default true; not with -t)",
    )


def _create_options(args: argparse.Namespace) -> CreateOptions:
    env = [entry for path in args.env_file for entry in read_env_file(path)] + args.env
    max_size, max_files = _log_options(args.log_opt)
    RestartPolicy.parse(args.restart)  # refuse a bad policy before anything is made
    if args.stop_signal:
        parse_signal(args.stop_signal)
    return CreateOptions(
        image=args.image,
        command=args.command,
        name=args.name,
        env=resolve_user_entries(env),
        workdir=args.workdir,
        user=args.user,
        hostname=args.hostname,
        entrypoint=args.entrypoint,
        auto_remove=args.rm,
        tty=args.tty,
        interactive=args.interactive,
        restart=args.restart,
        log_max_size=max_size,
        log_max_files=max_files,
        stop_signal=args.stop_signal,
        stop_timeout=_int64(args.stop_timeout, "--stop-timeout"),
        runtime=args.runtime,
        volumes=[_absolute_source(spec) for spec in args.volumes],
        mounts=args.mounts,
        volumes_from=args.volumes_from,
        **limits.given(args),
        **security.given(args),
        **network.run_options(args),
    )


def _absolute_source(spec: str) -> str:
    """-v ./dir:/x or .:/x, as Docker's client (23+) reads it: relative to here. A source
    without the leading "." is a volume's name."""
    source, colon, rest = spec.partition(":")
    if colon and source.startswith("."):
        return f"{os.path.abspath(source)}:{rest}"
    return spec


def _int64(text: str | None, flag: str) -> int | None:
    """An int flag read as Docker's client reads it: one line naming the flag, not usage."""
    if text is None:
        return None
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InvalidArgumentError(
            f'invalid argument "{text}" for "{flag}" flag: it must be a whole number'
        )
    if not -INT64_MAX - 1 <= int(text) <= INT64_MAX:
        raise InvalidArgumentError(
            f'invalid argument "{text}" for "{flag}" flag: value out of range'
        )
    return int(text)


def _log_options(options: list[str]) -> tuple[int, int]:
    max_size, max_files = 0, 1
    for option in options:
        key, _, value = option.partition("=")
        if key == "max-size":
            max_size = parse_size(value, "max-size")
        elif key == "max-file" and value.isascii() and value.isdigit() and int(value) > 0:
            if int(value) > INT64_MAX:
                raise InvalidArgumentError(f'invalid max-file: "{value}": value out of range')
            max_files = int(value)
        else:
            raise InvalidArgumentError(
                f'unsupported --log-opt "{option}" (json-file takes max-size=SIZE, max-file=N)'
            )
    return max_size, max_files


def _warn(text: str) -> None:
    """What the host cannot apply, said as Docker's client says its daemon's warnings."""
    print(f"WARNING: {text}", file=sys.stderr, flush=True)


async def _pull_as_asked(engine: Engine, args: argparse.Namespace) -> None:
    """Docker's ``--pull``: pull the image first if it is missing (or always), showing
    the pull on stderr, as the container's output may be what stdout is for."""
    if args.pull == "never":
        return
    if args.pull == "missing":
        try:
            await engine.images.resolve(args.image)
            return
        except NotFoundError as missing:
            print(f"Unable to find image '{with_default_tag(args.image)}' locally",
                  file=sys.stderr, flush=True)  # fmt: skip
            try:
                await follow(engine.images.pull(args.image), sys.stderr)
            except BerthError as failed:  # offline, or a typo: say both, in one line
                raise NotFoundError(f"{missing}; pulling it failed: {failed}") from None
            return
    await follow(engine.images.pull(args.image), sys.stderr)


async def _create(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    await _pull_as_asked(engine, args)
    container = await engine.containers.create(_create_options(args), warn=_warn)
    print(container.id)
    return 0


async def _run(args: argparse.Namespace) -> int:
    if args.detach and args.rm and args.restart != "no":
        raise InvalidArgumentError("--rm and --restart cannot be combined")
    engine = open_engine(args)
    options = _create_options(args)
    detach_keys = parse_detach_keys(args.detach_keys)
    await _pull_as_asked(engine, args)
    container = await engine.containers.create(options, to_run=True)
    await network.warn_outbound(engine, container)
    # run says what the host cannot apply once, as the container starts (not at create too).
    if args.detach:
        await engine.containers.start(container.id, warn=_warn)
        print(container.id)
        return 0
    size = terminal_size() if args.tty else None
    client = await engine.containers.start_attached(container.id, size, warn=_warn)
    session = SessionOptions(
        tty=args.tty, stdin=args.interactive, detach_keys=detach_keys,
        close_stdin_at_eof=args.interactive, sig_proxy=args.sig_proxy,
    )  # fmt: skip
    return await _finish_session(
        engine, container.id, container.name, client, session, removed=args.rm
    )


async def _finish_session(
    engine: Engine, container_id: str, name: str, client: AttachClient, session: SessionOptions,
    *, removed: bool = False,
) -> int:  # fmt: skip
    """The session's exit code, once the container stopped (and, with ``removed``, is gone).

    Like Docker's client for ``run --rm``: when it returns, the name is free again.
    """
    end = await run_session(client, session)
    if end.detached:
        print(f"\r\nberth: detached from {name}; it keeps running "
              f"(re-attach with: berth attach {name})", file=sys.stderr)  # fmt: skip
        return 0
    code = await engine.containers.wait(container_id, removed=removed)
    return code if end.exit_code is None else end.exit_code


async def _start(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    if not (args.attach or args.interactive):
        return await report_each(
            args.containers, lambda ref: engine.containers.start(ref, warn=_warn)
        )
    if len(args.containers) > 1:
        raise InvalidArgumentError("you cannot start and attach multiple containers at once")
    container = await engine.containers.get(args.containers[0])
    size = terminal_size() if container.options.tty else None
    client = await engine.containers.start_attached(container.id, size, warn=_warn)
    session = SessionOptions(
        tty=container.options.tty, stdin=args.interactive and container.options.interactive,
        detach_keys=parse_detach_keys(args.detach_keys), close_stdin_at_eof=args.interactive,
    )  # fmt: skip
    return await _finish_session(engine, container.id, container.name, client, session)


async def _attach(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    detach_keys = parse_detach_keys(args.detach_keys)
    container, client = await engine.containers.attach(args.container)
    session = SessionOptions(
        tty=container.options.tty, stdin=not args.no_stdin and container.options.interactive,
        detach_keys=detach_keys, sig_proxy=args.sig_proxy,
    )  # fmt: skip
    return await _finish_session(engine, container.id, container.name, client, session)


async def _stop(args: argparse.Namespace) -> int:
    timeout = _int64(args.time, "--time")
    engine = open_engine(args)
    return await report_each(args.containers, lambda ref: engine.containers.stop(ref, timeout))


async def _restart(args: argparse.Namespace) -> int:
    timeout = _int64(args.time, "--time")
    engine = open_engine(args)
    return await report_each(args.containers, lambda ref: engine.containers.restart(ref, timeout))


async def _wait(args: argparse.Namespace) -> int:
    engine = open_engine(args)

    async def wait(ref: str) -> None:
        print(await engine.containers.wait(ref))

    return await report_each(args.containers, wait, echo=False)


_PS_HEADERS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
    "State": "STATE", "Mounts": "MOUNTS",
}  # fmt: skip
_PS_DEFAULT = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)


async def _ps(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    containers = await engine.containers.list(all=args.all)
    if args.quiet:
        for container in containers:
            print(container.id if args.no_trunc else container.short_id)
        return 0
    ports = await engine.networks.all_ports()
    items = [ps_fields(c, args.no_trunc, ports.get(c.id, [])) for c in containers]
    if args.format and ".Mounts" in args.format:  # a query per container: only when shown
        for item, container in zip(items, containers, strict=True):
            mounts = await engine.containers.mounts(container.id)
            item["Mounts"] = ",".join(_mount_name(mount, args.no_trunc) for mount in mounts)
    output = render(args.format or _PS_DEFAULT, items, _PS_HEADERS)
    if output:
        print(output)
    return 0


def _mount_name(mount: MountPoint, no_trunc: bool) -> str:
    """A mount as ps's {{.Mounts}} names it: the volume, the bind's source, cut at 15."""
    name = mount.source or mount.destination  # a tmpfs has no source
    return name if no_trunc or len(name) <= 15 else name[:14] + "…"


def ps_fields(container: Container, no_trunc: bool, ports: list[PortMapping]) -> dict[str, str]:
    """A container's row as ``ps`` words it (``system df -v`` lists containers the same way)."""
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
        "Status": container_status(container, now),
        "Ports": ", ".join(str(mapping) for mapping in ports),
        "Names": container.name,
        "State": container.state,
    }


async def _rm(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    return await report_each(
        args.containers,
        lambda ref: engine.containers.remove(ref, force=args.force, volumes=args.volumes),
    )


async def _kill(args: argparse.Namespace) -> int:
    signum = parse_signal(args.signal)
    engine = open_engine(args)
    return await report_each(args.containers, lambda ref: engine.containers.kill(ref, signum))


async def _pause(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    return await report_each(args.containers, engine.containers.pause)


async def _unpause(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    return await report_each(args.containers, engine.containers.unpause)


async def _rename(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    await engine.containers.rename(args.container, args.new_name)
    return 0


async def _top(args: argparse.Namespace) -> int:
    """The host's ps, filtered to the container's processes, as Docker does it.

    A last line names the resource limits in effect, when the container has any.
    """
    engine = open_engine(args)
    pids = set(await engine.containers.processes(args.container))
    in_effect = limits_in_effect((await engine.containers.get(args.container)).options)
    options = args.ps_options or ["-ef"]
    result = subprocess.run(["ps", *options], capture_output=True, text=True, check=False)
    if result.returncode != 0:  # ps follows its error with a usage text: the first line says it
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reason = lines[0] if lines else f"exit status {result.returncode}"
        raise InvalidArgumentError(f"ps {' '.join(options)} failed: {reason}")
    header, *rows = result.stdout.splitlines()
    if "PID" not in header.split():
        raise InvalidArgumentError(f"ps {' '.join(options)} shows no PID column")
    column = header.split().index("PID")
    print(header)
    for row in rows:
        fields = row.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
            print(row)
    if in_effect:
        print(f"Limits: {in_effect}")
    return 0


async def _exec(args: argparse.Namespace) -> int:
    if not args.command:
        raise InvalidArgumentError("exec needs a command to run in the container")
    detach_keys = parse_detach_keys(args.detach_keys)
    engine = open_engine(args)
    client = await engine.containers.exec(
        args.container, args.command, env=resolve_user_entries(args.env), workdir=args.workdir,
        user=args.user, tty=args.tty, detach=args.detach,
        terminal_size=terminal_size() if args.tty else None, privileged=args.privileged,
    )  # fmt: skip
    if client is None:
        return 0
    session = SessionOptions(
        tty=args.tty, stdin=args.interactive, detach_keys=detach_keys,
        close_stdin_at_eof=args.interactive,
    )  # fmt: skip
    end = await run_session(client, session)
    if end.detached:
        print(f"\r\nberth: detached from the exec session in {args.container}; "
              "it keeps running", file=sys.stderr)  # fmt: skip
        return 0
    return 255 if end.exit_code is None else end.exit_code

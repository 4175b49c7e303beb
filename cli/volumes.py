"""``berth volume ...``: create, ls, inspect, rm and prune, with Docker's flags and output."""

from __future__ import annotations

import argparse

from cli.engine_access import open_engine, report_each
from cli.inspect import show_each
from cli.output import render
from cli.prune_output import confirmed, report
from engine.api import Volume
from engine.errors import InvalidArgumentError

_LS_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE",
               "Mountpoint": "MOUNTPOINT", "Labels": "LABELS"}  # fmt: skip
_LS_DEFAULT = "table {{.Driver}}\t{{.Name}}"
_PRUNE_WARNINGS = {
    False: "WARNING! This will remove anonymous local volumes not used by at least one container.",
    True: "WARNING! This will remove all local volumes not used by at least one container.",
}


def register(commands: argparse._SubParsersAction) -> None:
    volume = commands.add_parser("volume", help="manage volumes")
    verbs = volume.add_subparsers(dest="volume_command", metavar="COMMAND", required=True)

    create = verbs.add_parser("create", help="create a volume (an anonymous one without NAME)")
    create.add_argument("name", nargs="?", metavar="NAME")
    create.add_argument("-d", "--driver", default="local", help="volume driver (only local)")
    create.add_argument("--label", action="append", default=[], metavar="KEY[=VALUE]",
                        help="set metadata on the volume (repeatable)")  # fmt: skip
    create.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                        help="local driver option: type=tmpfs|none|FSTYPE, device=..., "
                             "o=MOUNT OPTIONS (repeatable)")  # fmt: skip
    create.set_defaults(handler=_create, error_exit=1)

    ls = verbs.add_parser("ls", aliases=["list"], help="list volumes")
    ls.add_argument("-q", "--quiet", action="store_true", help="only names")
    ls.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                    help="dangling=true|false, driver=local, label=KEY[=VALUE], "
                         "label!=KEY[=VALUE], name=NAME (repeatable)")  # fmt: skip
    ls.add_argument("--format", help="Go-template-like format, e.g. '{{.Name}}'")
    ls.set_defaults(handler=_ls, error_exit=1)

    inspect = verbs.add_parser("inspect", help="details of volumes, as JSON")
    inspect.add_argument("volumes", nargs="+", metavar="VOLUME")
    inspect.add_argument("-f", "--format", default="",
                         help="Go template over each volume, e.g. '{{.Mountpoint}}'")  # fmt: skip
    inspect.set_defaults(handler=_inspect, error_exit=1)

    rm = verbs.add_parser("rm", aliases=["remove"], help="remove volumes no container uses")
    rm.add_argument("-f", "--force", action="store_true",
                    help="no error for a missing volume (one in use is never removed)")  # fmt: skip
    rm.add_argument("volumes", nargs="+", metavar="VOLUME")
    rm.set_defaults(handler=_rm, error_exit=1)

    prune = verbs.add_parser("prune", help="remove anonymous volumes no container uses")
    prune.add_argument("-a", "--all", action="store_true",
                       help="every volume no container uses, named ones too")  # fmt: skip
    prune.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    prune.add_argument("--filter", action="append", default=[], metavar="FILTER",
                       help="label=KEY[=VALUE], label!=KEY[=VALUE] (repeatable)")  # fmt: skip
    prune.set_defaults(handler=_prune, error_exit=1)


async def _create(args: argparse.Namespace) -> int:
    labels = {key: value for key, _, value in (label.partition("=") for label in args.label)}
    if "" in labels:
        raise InvalidArgumentError('invalid argument for "--label" flag: a label needs a KEY')
    options = {}
    for option in args.opt:
        key, equals, value = option.partition("=")
        if not key or not equals:
            raise InvalidArgumentError(
                f'invalid argument "{option}" for "-o, --opt" flag: use KEY=VALUE'
            )
        options[key] = value
    engine = open_engine(args)
    volume = await engine.volumes.create(
        args.name, driver=args.driver, labels=labels, options=options
    )
    print(volume.name)
    return 0


async def _ls(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    volumes = await engine.volumes.list(args.filter)
    if args.quiet:
        for volume in volumes:
            print(volume.name)
        return 0
    output = render(args.format or _LS_DEFAULT, [_fields(v) for v in volumes], _LS_HEADERS)
    if output:
        print(output)
    return 0


def _fields(volume: Volume) -> dict[str, str]:
    labels = ",".join(f"{key}={value}" for key, value in sorted(volume.labels.items()))
    return {"Driver": volume.driver, "Name": volume.name, "Scope": "local",
            "Mountpoint": str(volume.mountpoint), "Labels": labels}  # fmt: skip


async def _inspect(args: argparse.Namespace) -> int:
    return await show_each(args, args.volumes, lambda engine, name: engine.volumes.inspect(name))


async def _rm(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    return await report_each(
        args.volumes, lambda name: engine.volumes.remove(name, force=args.force)
    )


async def _prune(args: argparse.Namespace) -> int:
    if not args.force and not confirmed(_PRUNE_WARNINGS[args.all]):
        return 0
    engine = open_engine(args)
    names, reclaimed = await engine.volumes.prune(all=args.all, filters=args.filter)
    report([("Volumes", names)], reclaimed)
    return 0

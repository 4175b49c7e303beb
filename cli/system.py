"""Housekeeping of the engine as a whole: ``system df``, ``system prune``, ``container
prune``, and ``system boot`` (bring back, after the host restarts, what Docker's daemon
would)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence

from cli.containers import ps_fields
from cli.engine_access import open_engine
from cli.output import render, table
from cli.prune_output import confirmed, image_lines, report
from engine.api import ContainerUsage, DiskUsage, ImageUsage, PruneFilter, VolumeSpace, humanize
from engine.api import parse_timestamp as parse
from engine.errors import InvalidArgumentError

_FILTER_HELP = "until=TIMESTAMP|DURATION, label=KEY[=VALUE], label!=KEY[=VALUE] (repeatable)"


def register(commands: argparse._SubParsersAction) -> None:
    system = commands.add_parser("system", help="manage the engine as a whole")
    verbs = system.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    boot = verbs.add_parser(
        "boot",
        help="start containers with --restart always, and unless-stopped ones nobody stopped "
        "(run at boot: see the README's berth-boot.service)",
    )
    boot.set_defaults(handler=_boot, error_exit=1)

    df = verbs.add_parser("df", help="show the disk space images, containers and volumes use")
    df.add_argument("-v", "--verbose", action="store_true", help="one row per object too")
    df.add_argument("--format", help="table, json, or a template, e.g. '{{.Type}} {{.Size}}'")
    df.set_defaults(handler=_df, error_exit=1)

    prune = verbs.add_parser("prune", help="remove unused data")
    prune.add_argument("-a", "--all", action="store_true",
                       help="remove every unused image, not only dangling ones")  # fmt: skip
    prune.add_argument("--volumes", action="store_true", help="prune anonymous volumes too")
    prune.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    prune.add_argument("--filter", action="append", default=[], metavar="FILTER",
                       help=_FILTER_HELP)  # fmt: skip
    prune.set_defaults(handler=_system_prune, error_exit=1)

    container = commands.add_parser("container", help="manage containers (container prune)")
    container_verbs = container.add_subparsers(
        dest="container_command", metavar="COMMAND", required=True
    )
    container_prune = container_verbs.add_parser("prune", help="remove all stopped containers")
    container_prune.add_argument("-f", "--force", action="store_true",
                                 help="do not ask for confirmation")  # fmt: skip
    container_prune.add_argument("--filter", action="append", default=[], metavar="FILTER",
                                 help=_FILTER_HELP)  # fmt: skip
    container_prune.set_defaults(handler=_container_prune, error_exit=1)


async def _boot(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    status = 0
    for container, error in await engine.containers.boot():
        if error is None:
            print(container.name)
        else:
            print(f"berth: cannot start {container.name}: {error}", file=sys.stderr)
            status = 1
    return status


# -- df ---------------------------------------------------------------------------------

_DF_HEADERS = {
    "Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}  # fmt: skip
_DF_DEFAULT = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
_IMAGE_COLUMNS = {
    "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
    "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
    "Containers": "CONTAINERS",
}  # fmt: skip
_CONTAINER_COLUMNS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "LocalVolumes": "LOCAL VOLUMES",
    "Size": "SIZE", "RunningFor": "CREATED", "Status": "STATUS", "Names": "NAMES",
}  # fmt: skip
_VOLUME_COLUMNS = {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}
# the build cache is counted (df), not yet listed entry by entry: its -v table has no rows
_BUILD_CACHE_HEADERS = ("CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED")


async def _df(args: argparse.Namespace) -> int:
    template = args.format or "table"
    if args.verbose and template not in ("table", "json"):
        raise InvalidArgumentError(
            f'unsupported --format "{template}" with -v: use table or json '
            "(berth's templates have no range over the objects)"
        )
    engine = open_engine(args)
    usage = await engine.system.disk_usage()
    if args.verbose:
        print(_verbose_json(usage) if template == "json" else _verbose_table(usage))
        return 0
    rows = [
        {
            "Type": row.kind,
            "TotalCount": str(row.total),
            "Active": str(row.active),
            "Size": humanize.size(row.size),
            # Docker gives no share of the build cache, only its bytes
            "Reclaimable": _share(row.reclaimable, row.size, row.kind != "Build Cache"),
        }
        for row in usage.categories
    ]
    if template == "json":
        print("\n".join(_json(row) for row in rows))
    else:
        print(render(_DF_DEFAULT if template == "table" else template, rows, _DF_HEADERS))
    return 0


def _share(part: int, whole: int, percent: bool) -> str:
    """ "11.63MB (70%)", the percentage cut down to a whole number as Docker's is."""
    if not percent or whole <= 0:
        return humanize.size(part)
    return f"{humanize.size(part)} ({part * 100 // whole}%)"


def _verbose_rows(usage: DiskUsage) -> dict[str, list[dict[str, str]]]:
    now = time.time()
    return {
        "Images": [_image_row(image, now) for image in usage.images],
        "Containers": [_container_row(row) for row in usage.containers],
        "Volumes": [_volume_row(volume) for volume in usage.volumes],
        "BuildCache": [],
    }


def _image_row(image: ImageUsage, now: float) -> dict[str, str]:
    # Docker shows an image's first name only, <none> for an untagged one
    repository, _, tag = (image.summary.repo_tags or ["<none>:<none>"])[0].rpartition(":")
    return {
        "Repository": repository,
        "Tag": tag,
        "ID": image.summary.id.removeprefix("sha256:")[:12],
        "CreatedSince": humanize.duration(now - parse(image.summary.created)) + " ago",
        "Size": humanize.size(image.size, 3),
        "SharedSize": humanize.size(image.shared_size, 3),
        "UniqueSize": humanize.size(image.unique_size, 3),
        "Containers": str(image.summary.containers),
    }


def _container_row(usage: ContainerUsage) -> dict[str, str]:
    row = ps_fields(usage.container, False, [])  # df -v shows ps's words, without the ports
    row.update(LocalVolumes=str(usage.local_volumes), Size=humanize.size(usage.size, 3))
    return row


def _volume_row(volume: VolumeSpace) -> dict[str, str]:
    size = "N/A" if volume.size < 0 else humanize.size(volume.size)
    return {"Name": volume.name, "Links": str(volume.links), "Size": size}


def _verbose_table(usage: DiskUsage) -> str:
    rows = _verbose_rows(usage)
    build_cache = humanize.size(usage.category("Build Cache").size)
    return "\n".join([
        "Images space usage:\n", _columns(_IMAGE_COLUMNS, rows["Images"]),
        "\nContainers space usage:\n", _columns(_CONTAINER_COLUMNS, rows["Containers"]),
        "\nLocal Volumes space usage:\n", _columns(_VOLUME_COLUMNS, rows["Volumes"]),
        f"\nBuild cache usage: {build_cache}\n", table(_BUILD_CACHE_HEADERS, []),
    ])  # fmt: skip


def _columns(columns: Mapping[str, str], rows: Sequence[Mapping[str, str]]) -> str:
    return table(list(columns.values()), [[row[key] for key in columns] for row in rows])


def _verbose_json(usage: DiskUsage) -> str:
    return _json(_verbose_rows(usage))


def _json(value: object) -> str:
    # Docker's JSON output: compact, keys sorted (Go marshals its maps so)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


# -- prune ------------------------------------------------------------------------------


async def _system_prune(args: argparse.Namespace) -> int:
    filters = PruneFilter.parse(args.filter, volumes=args.volumes)  # refused before asking
    if not args.force and not confirmed(_system_warning(args.all, args.volumes, args.filter)):
        return 0
    engine = open_engine(args)
    pruned = await engine.system.prune(all_images=args.all, volumes=args.volumes, filters=filters)
    report(
        [("Containers", pruned.containers), ("Networks", pruned.networks),
         ("Volumes", pruned.volumes), ("Images", image_lines(pruned.images))],
        pruned.reclaimed,
    )  # fmt: skip
    return 0


def _system_warning(all_images: bool, volumes: bool, filters: Sequence[str]) -> str:
    """Docker's list of what system prune removes, and the filters, if any, it obeys."""
    items = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        items.append("all anonymous volumes not used by at least one container")
    if all_images:
        items += ["all images without at least one container associated to them", "all build cache"]
    else:
        items += ["all dangling images", "unused build cache"]
    text = "WARNING! This will remove:\n" + "".join(f"  - {item}\n" for item in items)
    if filters:
        text += "\n  Items to be pruned will be filtered with:\n"
        text += "".join(f"  - {given}\n" for given in sorted(filters))
    return text


async def _container_prune(args: argparse.Namespace) -> int:
    filters = PruneFilter.parse(args.filter)
    if not args.force and not confirmed("WARNING! This will remove all stopped containers."):
        return 0
    engine = open_engine(args)
    pruned = await engine.system.prune_containers(filters)
    report([("Containers", pruned.removed)], pruned.reclaimed)
    return 0

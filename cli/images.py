"""Image commands: import, commit, images, history, tag, rmi, starter."""

from __future__ import annotations

import argparse
import time
from typing import Any

from cli.arguments import boolean
from cli.engine_access import open_engine, report_each
from cli.output import render
from engine.api import ImageSummary, humanize
from engine.api import parse_timestamp as parse


def register(commands: argparse._SubParsersAction) -> None:
    imp = commands.add_parser("import", help="create an image from a root file system tarball")
    imp.add_argument("file", metavar="FILE|-", help="a .tar, .tar.gz or .tar.xz, or - for stdin")
    imp.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    imp.add_argument("-c", "--change", action="append", default=[],
                     help="a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, "
                          "STOPSIGNAL, USER, WORKDIR")  # fmt: skip
    imp.add_argument("-m", "--message", help="commit message for the image's history")
    imp.set_defaults(handler=_import, error_exit=1)

    commit = commands.add_parser("commit", help="create an image from a container's changes")
    commit.add_argument("container", metavar="CONTAINER")
    commit.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    commit.add_argument("-a", "--author", default="", help='e.g. "Jane Doe <jane@example.com>"')
    commit.add_argument("-c", "--change", action="append", default=[],
                        help="a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, "
                             "STOPSIGNAL, USER, WORKDIR")  # fmt: skip
    commit.add_argument("-m", "--message", default="", help="commit message")
    commit.add_argument("-p", "--pause", type=boolean, default=True, metavar="BOOL",
                        help="pause the container while committing (default true)")  # fmt: skip
    commit.set_defaults(handler=_commit, error_exit=1)

    images = commands.add_parser("images", help="list images")
    images.add_argument("-q", "--quiet", action="store_true", help="only ids")
    images.add_argument("--no-trunc", action="store_true", help="full ids")
    images.add_argument("--format", help="Go-template-like format, e.g. '{{.Repository}}'")
    images.set_defaults(handler=_images, error_exit=1)

    history = commands.add_parser("history", help="show how an image was made, layer by layer")
    history.add_argument("image", metavar="IMAGE")
    history.add_argument("-q", "--quiet", action="store_true", help="only ids")
    history.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    history.add_argument("-H", "--human", type=boolean, default=True, metavar="BOOL",
                         help="sizes and dates in human words (default true)")  # fmt: skip
    history.add_argument("--format", help="Go-template-like format, e.g. '{{.CreatedBy}}'")
    history.set_defaults(handler=_history, error_exit=1)

    tag = commands.add_parser("tag", help="give an image another name")
    tag.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    tag.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    tag.set_defaults(handler=_tag, error_exit=1)

    rmi = commands.add_parser("rmi", help="remove images")
    rmi.add_argument("-f", "--force", action="store_true", help="untag even if in use")
    rmi.add_argument("images", nargs="+", metavar="IMAGE")
    rmi.set_defaults(handler=_rmi, error_exit=1)

    starter = commands.add_parser(
        "starter", help="create busybox:latest from the host's static busybox (offline)"
    )
    starter.set_defaults(handler=_starter, error_exit=1)


async def _import(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    image = await engine.images.import_(
        args.file, args.reference, changes=args.change, message=args.message
    )
    print(image.id)
    return 0


async def _commit(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    image = await engine.containers.commit(
        args.container, args.reference, author=args.author, changes=args.change,
        message=args.message, pause=args.pause,
    )  # fmt: skip
    print(image.id)
    return 0


_IMAGE_HEADERS = {
    "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT", "Size": "SIZE", "Digest": "DIGEST", "Containers": "CONTAINERS",
}  # fmt: skip
_IMAGES_DEFAULT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


async def _images(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    summaries = await engine.images.list()
    if args.quiet:
        ids = dict.fromkeys(_short(s.id, args.no_trunc) for s in summaries)
        if ids:
            print("\n".join(ids))
        return 0
    items = [row for summary in summaries for row in _image_rows(summary, args.no_trunc)]
    print(render(args.format or _IMAGES_DEFAULT, items, _IMAGE_HEADERS))
    return 0


def _short(image_id: str, no_trunc: bool) -> str:
    return image_id if no_trunc else image_id.removeprefix("sha256:")[:12]


def _image_rows(summary: ImageSummary, no_trunc: bool) -> list[dict[str, str]]:
    """One row per tag, as Docker lists them; a dangling image shows <none>."""
    created = humanize.duration(time.time() - parse(summary.created)) + " ago"
    names = summary.repo_tags or ["<none>:<none>"]
    return [
        {
            "Repository": name.rpartition(":")[0],
            "Tag": name.rpartition(":")[2],
            "ID": _short(summary.id, no_trunc),
            "CreatedSince": created,
            "CreatedAt": summary.created,
            "Size": humanize.size(summary.size),
            "Digest": "<none>",
            "Containers": str(summary.containers),
        }
        for name in names
    ]


_HISTORY_HEADERS = {
    "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
}  # fmt: skip
_HISTORY_DEFAULT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
_CREATED_BY_WIDTH = 45  # docker history's truncation
_ONE_LINE = str.maketrans("\t\n", "  ")


async def _history(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    steps = await engine.images.history(args.image)
    rows = [_history_row(step, args.no_trunc, args.human) for step in steps]
    if args.quiet:
        print("\n".join(row["ID"] for row in rows))
        return 0
    print(render(args.format or _HISTORY_DEFAULT, rows, _HISTORY_HEADERS))
    return 0


def _history_row(step: dict[str, Any], no_trunc: bool, human: bool) -> dict[str, str]:
    # A tab or newline would split or break a table's row.
    created_by = step["CreatedBy"].translate(_ONE_LINE)
    if not no_trunc and len(created_by) > _CREATED_BY_WIDTH:
        created_by = created_by[: _CREATED_BY_WIDTH - 1] + "…"
    created = step["Created"]
    since = humanize.duration(time.time() - parse(created)) + " ago" if created else "N/A"
    return {
        "ID": step["Id"] if step["Id"] == "<missing>" else _short(step["Id"], no_trunc),
        "CreatedSince": since if human else created,
        "CreatedAt": created,
        "CreatedBy": created_by,
        "Size": humanize.size(step["Size"]) if human else str(step["Size"]),
        "Comment": step["Comment"].translate(_ONE_LINE),
    }


async def _tag(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    await engine.images.tag(args.source, args.target)
    return 0


async def _rmi(args: argparse.Namespace) -> int:
    engine = open_engine(args)

    async def remove(ref: str) -> None:
        for line in await engine.images.remove(ref, force=args.force):
            print(line)

    return await report_each(args.images, remove, echo=False)


async def _starter(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    image = await engine.images.create_starter()
    print(f"{', '.join(image.tags)} {image.id}")
    print("Try: berth run --rm busybox echo hello")
    return 0

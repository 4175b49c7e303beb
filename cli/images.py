"""Image commands: import, images, tag, rmi, starter."""

from __future__ import annotations

import argparse
import time

from cli.engine_access import open_engine, report_each
from cli.output import render
from engine import humanize
from engine.images import ImageSummary
from engine.timestamps import parse


def register(commands: argparse._SubParsersAction) -> None:
    imp = commands.add_parser("import", help="create an image from a root file system tarball")
    imp.add_argument("file", metavar="FILE|-", help="a .tar, .tar.gz or .tar.xz, or - for stdin")
    imp.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    imp.add_argument("-c", "--change", action="append", default=[],
                     help="a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, "
                          "USER, WORKDIR")  # fmt: skip
    imp.add_argument("-m", "--message", help="commit message for the image's history")
    imp.set_defaults(handler=_import, error_exit=1)

    images = commands.add_parser("images", help="list images")
    images.add_argument("-q", "--quiet", action="store_true", help="only ids")
    images.add_argument("--no-trunc", action="store_true", help="full ids")
    images.add_argument("--format", help="Go-template-like format, e.g. '{{.Repository}}'")
    images.set_defaults(handler=_images, error_exit=1)

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

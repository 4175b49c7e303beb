"""Image commands: import, commit, images, history, tag, rmi, image prune, starter."""

from __future__ import annotations

import argparse
import time
from typing import Any

from cli.arguments import boolean
from cli.engine_access import open_engine, report_each
from cli.output import render
from cli.prune_output import confirmed, image_lines, report
from engine.api import ImageSummary, humanize
from engine.api import parse_timestamp as parse
from engine.errors import InvalidArgumentError


def register(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add the image commands; returns the ``image`` group, for other modules' aliases."""
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
    images.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]",
                        help="only images of this name (a glob, as reference=)")  # fmt: skip
    images.add_argument("-q", "--quiet", action="store_true", help="only ids")
    images.add_argument("-a", "--all", action="store_true",
                        help="also a build's intermediate images")  # fmt: skip
    images.add_argument("--no-trunc", action="store_true", help="full ids")
    images.add_argument("--digests", action="store_true", help="show the repository digests")
    images.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                        help="dangling=true|false, reference=PATTERN (repeatable)")  # fmt: skip
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

    image = commands.add_parser("image", help="manage images (image prune, image pull, ...)")
    image_commands = image.add_subparsers(dest="image_command", metavar="COMMAND", required=True)
    prune = image_commands.add_parser("prune", help="remove unused images")
    prune.add_argument("-a", "--all", action="store_true",
                       help="every image no container uses, not only untagged ones")  # fmt: skip
    prune.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    prune.set_defaults(handler=_prune, error_exit=1)
    return image_commands


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
_IMAGES_WITH_DIGESTS = _IMAGES_DEFAULT.replace("{{.Tag}}", "{{.Tag}}\t{{.Digest}}")


async def _images(args: argparse.Namespace) -> int:
    dangling, references = _filters(args.filter)
    if args.repository:
        references.append(args.repository)
    engine = open_engine(args)
    summaries = await engine.images.list(dangling=dangling, references=references,
                                         intermediate=args.all)  # fmt: skip
    if args.quiet:
        ids = dict.fromkeys(_short(s.id, args.no_trunc) for s in summaries)
        if ids:
            print("\n".join(ids))
        return 0
    items = [row for summary in summaries for row in _image_rows(summary, args.no_trunc)]
    default = _IMAGES_WITH_DIGESTS if args.digests else _IMAGES_DEFAULT
    text = render(args.format or default, items, _IMAGE_HEADERS)
    if text:  # a --format of no rows prints nothing, not an empty line
        print(text)
    return 0


def _filters(filters: list[str]) -> tuple[bool | None, list[str]]:
    """Docker's ``--filter`` of images: (dangling or None, reference patterns)."""
    dangling, references = None, []
    for given in filters:
        key, _, value = given.partition("=")
        if key == "reference" and value:
            references.append(value)
        elif key == "dangling" and value.lower() in ("true", "1", "false", "0"):
            dangling = value.lower() in ("true", "1")
        else:
            raise InvalidArgumentError(
                f'invalid filter "{given}" (images takes dangling=true|false, reference=PATTERN)'
            )
    return dangling, references


def _short(image_id: str, no_trunc: bool) -> str:
    return image_id if no_trunc else image_id.removeprefix("sha256:")[:12]


def _image_rows(summary: ImageSummary, no_trunc: bool) -> list[dict[str, str]]:
    """One row per tag, as Docker lists them, with its repository's digest; a repository
    known only by digest gets a row of its own, tag <none>; a dangling image shows <none>."""
    created = humanize.duration(time.time() - parse(summary.created)) + " ago"
    digests = dict(name.split("@", 1) for name in summary.repo_digests)
    names = [tuple(tag.rsplit(":", 1)) for tag in summary.repo_tags]
    names += [(repo, "<none>") for repo in digests if repo not in dict(names)]
    return [
        {
            "Repository": repository,
            "Tag": tag,
            "ID": _short(summary.id, no_trunc),
            "CreatedSince": created,
            "CreatedAt": summary.created,
            "Size": humanize.size(summary.size),
            "Digest": digests.get(repository, "<none>"),
            "Containers": str(summary.containers),
        }
        for repository, tag in names or [("<none>", "<none>")]
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


_PRUNE_WARNINGS = {
    False: "WARNING! This will remove all dangling images.",
    True: "WARNING! This will remove all images without at least one container associated to them.",
}


async def _prune(args: argparse.Namespace) -> int:
    if not args.force and not confirmed(_PRUNE_WARNINGS[args.all]):
        return 0
    engine = open_engine(args)
    lines, reclaimed = await engine.images.prune(all_unused=args.all)
    report([("Images", image_lines(lines))], reclaimed)
    return 0


async def _starter(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    image = await engine.images.create_starter()
    print(f"{', '.join(image.tags)} {image.id}")
    print("Try: berth run --rm busybox echo hello")
    return 0

"""``berth build``: an image from a Dockerfile, with BuildKit's progress on stderr.

Not on a terminal (or ``--progress plain``) the progress is BuildKit's plain format:
``#5 [2/4] RUN make``, the step's output prefixed with its number and seconds, then
``#5 DONE 0.3s`` or ``#5 CACHED``. On a terminal it is a compact view, redrawn.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cli.engine_access import open_engine
from cli.prune_output import confirmed, report
from engine import api

if TYPE_CHECKING:
    from engine.api import BuildEvent

_REDRAW_SECONDS = 0.1
_OUTPUT_LINES = 6


def register(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser("build", help="build an image from a Dockerfile")
    build.add_argument("context", metavar="PATH", help='the build context ("-": none, the '
                       "Dockerfile on stdin)")  # fmt: skip
    build.add_argument("-t", "--tag", action="append", default=[], help="name the image")
    build.add_argument("-f", "--file", help='the Dockerfile (default PATH/Dockerfile; "-": stdin)')
    build.add_argument("--build-arg", action="append", default=[], metavar="KEY[=VALUE]")
    build.add_argument("--target", help="build up to this stage")
    build.add_argument("--no-cache", action="store_true", help="take nothing from the cache")
    build.add_argument("--pull", action="store_true", help="pull every base image again")
    build.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    build.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    build.add_argument("--iidfile", help="write the image id to this file")
    build.add_argument("--progress", choices=("auto", "plain", "tty", "quiet"), default="auto")
    build.add_argument("--network", default="bridge", help="RUN's network: bridge, none, host")
    build.add_argument("--secret", action="append", default=[], metavar="id=ID,src=PATH")
    build.add_argument("--platform", help="target platform (only this host's is built)")
    build.set_defaults(handler=_build)

    builder = commands.add_parser("builder", help="manage the build cache (builder prune)")
    builder_commands = builder.add_subparsers(dest="builder_command", metavar="COMMAND",
                                              required=True)  # fmt: skip
    prune = builder_commands.add_parser("prune", help="remove the build cache")
    prune.add_argument("-a", "--all", action="store_true", help="all of it (berth's default)")
    prune.add_argument("-f", "--force", action="store_true", help="do not ask")
    prune.set_defaults(handler=_builder_prune)


async def _build(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    with contextlib.ExitStack() as stack:
        context, stdin_dockerfile = _context(args, engine, stack)
        return await _run_build(args, engine, context, stdin_dockerfile)


def _context(args: argparse.Namespace, engine: api.Engine,
             stack: contextlib.ExitStack) -> tuple[str | None, str | None]:  # fmt: skip
    """Docker's contexts: a directory; "-" with a Dockerfile or a tar on stdin; a tar's URL."""
    if args.context.startswith(("http://", "https://")):
        return _in_archive(args, stack.enter_context(engine.build.unpacked_context(args.context)))
    if args.context == "-":
        data = sys.stdin.buffer.read()
        if _is_tar(data):
            unpacked = stack.enter_context(engine.build.unpacked_context(io.BytesIO(data)))
            return _in_archive(args, unpacked)
        return None, data.decode()
    if args.file == "-":
        return args.context, sys.stdin.read()
    return args.context, None


def _in_archive(args: argparse.Namespace, context: str) -> tuple[str, None]:
    """-f names a file of the archive's, as Docker reads it there."""
    if args.file:
        args.file = os.path.join(context, args.file.lstrip("/"))
    return context, None


def _is_tar(data: bytes) -> bool:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            return archive.next() is not None
    except (tarfile.TarError, EOFError):
        return False


async def _run_build(args: argparse.Namespace, engine: api.Engine, context: str | None,
                     stdin_dockerfile: str | None) -> int:  # fmt: skip
    labels = dict(label.partition("=")[::2] for label in args.label)
    options = engine.build.definition(
        context, args.file if args.file != "-" else None, stdin_dockerfile=stdin_dockerfile,
        tags=args.tag, build_args=api.parse_build_args(args.build_arg), target=args.target,
        no_cache=args.no_cache, pull=args.pull, labels=labels, network=args.network,
        secrets=api.parse_build_secrets(args.secret), platform=args.platform,
    )  # fmt: skip
    quiet = args.quiet or args.progress == "quiet"
    use_tty = args.progress == "tty" or (args.progress == "auto" and sys.stderr.isatty())
    printer = None if quiet else (TtyProgress(sys.stderr) if use_tty else PlainProgress(sys.stderr))
    running = engine.build.build(options)
    async with running:
        async for event in running:
            if printer is not None:
                printer.show(event)
        image = await running.result()
    if printer is not None:
        printer.close()
    if args.iidfile:
        Path(args.iidfile).write_text(image.id)
    if quiet:
        print(image.id)
    return 0


async def _builder_prune(args: argparse.Namespace) -> int:
    if not args.force and not confirmed("WARNING! This will remove all dangling build cache."):
        return 0
    engine = open_engine(args)
    removed, reclaimed = await engine.system.prune_build_cache()
    report([("build cache objects", [image_id.removeprefix("sha256:") for image_id in removed])],
           reclaimed)  # fmt: skip
    return 0


class PlainProgress:
    """BuildKit's plain progress: a block per step, output lines with their step's number."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._current = 0

    def show(self, event: BuildEvent) -> None:
        if event.kind == "warning":
            self._write(f"\n[Warning] {event.text}\n")
            return
        if event.kind in ("started", "cached") or event.step != self._current:
            self._open(event)
        if event.kind == "output":
            self._write("".join(f"#{event.step} {event.elapsed:.3f} {line}\n"
                                for line in event.text.splitlines()))  # fmt: skip
        elif event.kind == "cached":
            self._write(f"#{event.step} CACHED\n")
        elif event.kind == "done":
            self._write(f"#{event.step} DONE {event.elapsed:.1f}s\n")
        elif event.kind == "error":
            self._write(f"#{event.step} ERROR: {event.text}\n")

    def _open(self, event: BuildEvent) -> None:
        if event.step == self._current:
            return
        self._write(("\n" if self._current else "") + f"#{event.step} {event.name}\n")
        self._current = event.step

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def close(self) -> None:
        pass


class TtyProgress:
    """A compact view, redrawn in place: one line per step, the running step's output."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._started = time.monotonic()
        self._steps: dict[int, dict] = {}
        self._output: list[str] = []
        self._drawn = 0
        self._last_draw = 0.0
        self._warnings: list[str] = []

    def show(self, event: BuildEvent) -> None:
        if event.kind == "warning":
            self._warnings.append(event.text)
            return
        step = self._steps.setdefault(
            event.step,
            {"name": event.name, "state": "running", "start": time.monotonic(), "elapsed": 0.0},
        )
        if event.kind == "output":
            self._output = (self._output + event.text.splitlines())[-_OUTPUT_LINES:]
        elif event.kind in ("cached", "done", "error"):
            step["state"] = {"cached": "CACHED", "done": "DONE", "error": "ERROR"}[event.kind]
            step["elapsed"] = event.elapsed
            if event.kind == "done":
                self._output = []
            if event.kind == "error":
                self._output.append(f"ERROR: {event.text}")
        if event.kind != "output" or time.monotonic() - self._last_draw > _REDRAW_SECONDS:
            self._draw()

    def close(self) -> None:
        self._output = []
        self._draw()
        for warning in self._warnings:
            self._out.write(f"[Warning] {warning}\n")
        self._out.flush()

    def _draw(self) -> None:
        now = time.monotonic()
        done = sum(step["state"] != "running" for step in self._steps.values())
        lines = [f"[+] Building {now - self._started:.1f}s ({done}/{len(self._steps)})"]
        for step in self._steps.values():
            running = step["state"] == "running"
            seconds = now - step["start"] if running else step["elapsed"]
            prefix = " => CACHED " if step["state"] == "CACHED" else " => "
            mark = " ERROR" if step["state"] == "ERROR" else ""
            lines.append(f"{prefix}{step['name']}{mark}  {seconds:.1f}s")
        lines += [f" => => # {line}" for line in self._output]
        # a line wider than the terminal would wrap, and the redraw would climb too little
        width = shutil.get_terminal_size().columns - 1
        lines = [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        self._out.write(up + "".join(f"\x1b[2K{line}\n" for line in lines) + "\x1b[J")
        self._out.flush()
        self._drawn = len(lines)
        self._last_draw = now

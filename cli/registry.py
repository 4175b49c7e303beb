"""Registry and archive commands: pull, push, login, logout, save, load."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path

from cli.arguments import boolean
from cli.engine_access import open_engine
from cli.progress import follow
from engine.errors import InvalidArgumentError

DEFAULT_TAG = "latest"
_HUB = "docker.io"
_HUB_ALIASES = (_HUB, "index.docker.io")
_HUB_LOGIN = "https://index.docker.io/v1/"  # how Docker names Docker Hub's credentials


def register(
    commands: argparse._SubParsersAction, image_commands: argparse._SubParsersAction
) -> None:
    """Add the commands; pull, push, save and load also as ``image pull`` and so on."""
    for group in (commands, image_commands):
        _add_pull(group)
        _add_push(group)
        _add_save(group)
        _add_load(group)

    login = commands.add_parser("login", help="log in to a registry (default: Docker Hub)")
    login.add_argument("-u", "--username")
    login.add_argument("-p", "--password", help="insecure: prefer --password-stdin")
    login.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    _add_transport_flags(login)
    login.add_argument("server", nargs="?", default="", metavar="SERVER")
    login.set_defaults(handler=_login, error_exit=1)

    logout = commands.add_parser("logout", help="forget a registry's credentials")
    logout.add_argument("server", nargs="?", default="", metavar="SERVER")
    logout.set_defaults(handler=_logout, error_exit=1)


def _add_pull(commands: argparse._SubParsersAction) -> None:
    pull = commands.add_parser("pull", help="download an image from a registry")
    pull.add_argument("-q", "--quiet", action="store_true", help="print only the image's name")
    pull.add_argument("-a", "--all-tags", action="store_true", help="every tag of the repository")
    pull.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="e.g. linux/arm64")
    _add_transport_flags(pull)
    pull.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    pull.set_defaults(handler=_pull, error_exit=1)


def _add_push(commands: argparse._SubParsersAction) -> None:
    push = commands.add_parser("push", help="upload an image to a registry")
    push.add_argument("-q", "--quiet", action="store_true", help="print only the image's name")
    _add_transport_flags(push)
    push.add_argument("name", metavar="NAME[:TAG]")
    push.set_defaults(handler=_push, error_exit=1)


def _add_save(commands: argparse._SubParsersAction) -> None:
    save = commands.add_parser("save", help="write images to a tar archive (default: stdout)")
    save.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    save.add_argument("images", nargs="+", metavar="IMAGE")
    save.set_defaults(handler=_save, error_exit=1)


def _add_load(commands: argparse._SubParsersAction) -> None:
    load = commands.add_parser("load", help="load images from a tar archive (default: stdin)")
    load.add_argument("-i", "--input", metavar="FILE", help="read FILE, not stdin")
    load.add_argument("-q", "--quiet", action="store_true", help="no progress")
    load.set_defaults(handler=_load, error_exit=1)


def _add_transport_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tls-verify", type=boolean, metavar="BOOL",
                        help="false: allow plain HTTP and unverified TLS "
                             "(default: /etc/berth/registries.conf)")  # fmt: skip
    parser.add_argument("--cert-dir", metavar="DIR", help="CA and client certificates (*.crt)")


# -- names -------------------------------------------------------------------------------


def _split(name: str) -> tuple[str, str]:
    """``name`` as (repository, ":TAG" or "@DIGEST" or "")."""
    if "@" in name:
        repository, _, digest = name.partition("@")
        return repository, f"@{digest}"
    repository, colon, tag = name.rpartition(":")
    if colon and "/" not in tag:
        return repository, f":{tag}"
    return name, ""


def with_default_tag(name: str) -> str:
    """``busybox`` as Docker says it looks for it: ``busybox:latest``."""
    repository, suffix = _split(name)
    return f"{repository}{suffix or ':' + DEFAULT_TAG}"


def qualified(name: str, *, tagged: bool = True) -> str:
    """Docker's full spelling, which pull prints last: ``docker.io/library/busybox:latest``."""
    repository, suffix = _split(name)
    first, _, rest = repository.partition("/")
    if first in _HUB_ALIASES and rest:
        first, _, rest = rest.partition("/")
    elif rest and ("." in first or ":" in first or first == "localhost"):
        return f"{repository}{suffix or (':' + DEFAULT_TAG if tagged else '')}"
    path = f"{first}/{rest}" if rest else f"library/{first}"
    return f"{_HUB}/{path}{suffix or (':' + DEFAULT_TAG if tagged else '')}"


# -- pull and push -----------------------------------------------------------------------


async def _pull(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    out = None if args.quiet else sys.stdout
    operation = engine.images.pull(
        args.name, platform=args.platform, all_tags=args.all_tags,
        tls_verify=args.tls_verify, cert_dir=args.cert_dir,
    )  # fmt: skip
    if out is not None and not args.all_tags and not _split(args.name)[1]:
        print(f"Using default tag: {DEFAULT_TAG}", flush=True)
    await follow(operation, out)
    print(qualified(args.name, tagged=not args.all_tags))
    return 0


async def _push(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    operation = engine.images.push(args.name, tls_verify=args.tls_verify, cert_dir=args.cert_dir)
    await follow(operation, None if args.quiet else sys.stdout)
    if args.quiet:
        print(qualified(args.name))
    return 0


# -- login and logout --------------------------------------------------------------------


async def _login(args: argparse.Namespace) -> int:
    username, password = _credentials(args)
    engine = open_engine(args)
    stored = await engine.images.login(
        args.server, username, password, tls_verify=args.tls_verify, cert_dir=args.cert_dir
    )
    if stored.name == "config.json":
        print(f"WARNING! Your password will be stored unencrypted in {stored}.", file=sys.stderr)
    print("Login Succeeded")
    return 0


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    """The username and password from the flags, stdin, or a prompt on the terminal."""
    if args.password is not None and args.password_stdin:
        raise InvalidArgumentError("--password and --password-stdin are mutually exclusive")
    if args.password_stdin and not args.username:
        raise InvalidArgumentError("--password-stdin needs --username (-u USER)")
    if args.password is not None:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
              file=sys.stderr)  # fmt: skip
    username = args.username or _prompt(lambda: input("Username: "))
    if args.password_stdin:
        password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    else:
        password = args.password or _prompt(lambda: getpass.getpass("Password: "))
    if not username.strip():
        raise InvalidArgumentError("login needs a username")
    if not password:
        raise InvalidArgumentError("login needs a password")
    return username.strip(), password


def _prompt(ask: Callable[[], str]) -> str:
    if not sys.stdin.isatty():
        raise InvalidArgumentError(
            "cannot ask for credentials without a terminal: "
            "use -u USER --password-stdin (or run it in a terminal)"
        )
    return ask()


async def _logout(args: argparse.Namespace) -> int:
    engine = open_engine(args)
    shown = args.server or _HUB_LOGIN
    if await engine.images.logout(args.server):
        print(f"Removing login credentials for {shown}")
    else:
        print(f"Not logged in to {shown}")
    return 0


# -- save and load -----------------------------------------------------------------------


async def _save(args: argparse.Namespace) -> int:
    if args.output is None and sys.stdout.isatty():
        raise InvalidArgumentError(
            "refusing to write the archive to a terminal (use -o FILE or redirect stdout)"
        )
    engine = open_engine(args)
    sys.stdout.flush()
    await engine.images.save(args.images, Path(args.output) if args.output else sys.stdout.buffer)
    return 0


async def _load(args: argparse.Namespace) -> int:
    if args.input is None and sys.stdin.isatty():
        raise InvalidArgumentError(
            "refusing to read an archive from a terminal (use -i FILE or redirect stdin)"
        )
    engine = open_engine(args)
    operation = engine.images.load(Path(args.input) if args.input else sys.stdin.buffer)
    # As Docker: progress only where it is redrawn in place, never into a log.
    names = await follow(operation, sys.stdout if sys.stdout.isatty() and not args.quiet else None)
    for name in names:
        print(f"Loaded image ID: {name}" if name.startswith("sha256:") else f"Loaded image: {name}")
    return 0

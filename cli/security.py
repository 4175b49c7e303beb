"""run/create's confinement flags, as Docker spells them; the engine checks the values."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.errors import InvalidArgumentError


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--privileged",
        action="store_true",
        help="every capability and host device, no seccomp, no masked paths",
    )
    parser.add_argument(
        "--cap-add",
        action="append",
        default=[],
        metavar="CAP",
        help="add a capability (NET_ADMIN, ..., ALL)",
    )
    parser.add_argument(
        "--cap-drop",
        action="append",
        default=[],
        metavar="CAP",
        help="drop a capability (ALL: every one)",
    )
    parser.add_argument(
        "--security-opt",
        action="append",
        default=[],
        metavar="OPT",
        help="no-new-privileges | seccomp=unconfined | seccomp=PROFILE.json",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="mount the root file system read-only"
    )
    parser.add_argument(
        "--tmpfs",
        action="append",
        default=[],
        metavar="PATH[:OPTIONS]",
        help="mount a tmpfs (nosuid,nodev,noexec unless OPTIONS say otherwise)",
    )
    parser.add_argument(
        "--ulimit",
        action="append",
        default=[],
        metavar="NAME=SOFT[:HARD]",
        help="an rlimit, e.g. nofile=1024:2048",
    )
    parser.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="HOST[:CONTAINER][:rwm]",
        help="give the container a host device",
    )


def given(args: argparse.Namespace) -> dict[str, Any]:
    """The CreateOptions fields the flags set."""
    return {
        "privileged": args.privileged,
        "cap_add": args.cap_add,
        "cap_drop": args.cap_drop,
        "security_opt": [_with_profile(entry) for entry in args.security_opt],
        "read_only": args.read_only,
        "tmpfs": args.tmpfs,
        "ulimits": args.ulimit,
        "devices": args.device,
    }


def _with_profile(entry: str) -> str:
    """seccomp=FILE becomes seccomp=<its JSON>, as Docker's client sends it: the container
    keeps its profile even if the file changes or goes."""
    key, separator, value = entry.partition("=")
    if key != "seccomp" or not separator or value == "unconfined":
        return entry
    try:
        return f"seccomp={Path(value).read_text(encoding='utf-8')}"
    except OSError as error:
        raise InvalidArgumentError(f"cannot read the seccomp profile {value}: "
                                   f"{error.strerror}") from None  # fmt: skip
    except UnicodeDecodeError:
        raise InvalidArgumentError(f"the seccomp profile {value} is not UTF-8 JSON") from None

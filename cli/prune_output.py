"""What every prune says, in Docker's words: its question first, then what went, section
by section, and the space that freed."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from engine.api import humanize


def confirmed(warning: str) -> bool:
    """Docker's question before a prune; no answer (end of input) is no."""
    print(f"{warning}\nAre you sure you want to continue? [y/N] ", end="", flush=True)
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        print()
    return answer.strip().lower() in ("y", "yes")


def image_lines(lines: Sequence[str]) -> list[str]:
    """rmi's "Untagged: ..." / "Deleted: ..." as a prune words them: "untagged: ..."."""
    return [line[0].lower() + line[1:] for line in lines]


def report(sections: Sequence[tuple[str, Sequence[str]]], reclaimed: int) -> None:
    """ "Deleted Containers:" and the ids (and so on: an empty section says nothing), each
    followed by an empty line, then "Total reclaimed space: 12.3MB"."""
    for kind, names in sections:
        if names:
            print(f"Deleted {kind}:", *names, "", sep="\n")
    print(f"Total reclaimed space: {humanize.size(reclaimed)}")

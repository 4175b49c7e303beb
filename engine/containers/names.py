"""Docker-style generated container names: adjective_surname."""

from __future__ import annotations

import re
import secrets

from engine.errors import InvalidArgumentError

# Same shape as Docker's rule, so names that work there work here.
_VALID_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")

_ADJECTIVES = (
    "admiring", "agile", "amazing", "bold", "brave", "bright", "busy", "calm", "careful",
    "charming", "clever", "cool", "crisp", "curious", "daring", "dazzling", "eager",
    "elegant", "epic", "fervent", "festive", "fond", "friendly", "gallant", "gentle",
    "gifted", "happy", "hardy", "honest", "hopeful", "humble", "jolly", "keen", "kind",
    "lively", "loyal", "lucid", "merry", "modest", "nifty", "noble", "patient", "peaceful",
    "plucky", "polite", "proud", "quick", "quiet", "relaxed", "serene", "sharp", "silly",
    "sleepy", "steady", "stoic", "sunny", "swift", "tender", "thirsty", "tidy", "trusting",
    "upbeat", "vibrant", "vigilant", "wizardly", "witty", "youthful", "zealous", "zen",
)  # fmt: skip

# Scientists and engineers whose work computing rests on.
_SURNAMES = (
    "agnesi", "babbage", "backus", "bardeen", "bell", "bohr", "boole", "brattain", "cerf",
    "clarke", "conway", "curie", "darwin", "dijkstra", "easley", "einstein", "euclid",
    "euler", "faraday", "fermat", "fermi", "feynman", "franklin", "gauss", "germain",
    "goldberg", "goodall", "hamilton", "hawking", "heisenberg", "hodgkin", "hopper",
    "hypatia", "jackson", "johnson", "kepler", "knuth", "kowalevski", "lamarr", "lamport",
    "leakey", "liskov", "lovelace", "maxwell", "mcclintock", "meitner", "mirzakhani",
    "morse", "napier", "newton", "noether", "pascal", "pasteur", "perlman", "planck",
    "ritchie", "shannon", "sinoussi", "stallman", "tesla", "thompson", "torvalds",
    "turing", "volta", "wilson", "wing", "wozniak", "yalow", "zuse",
)  # fmt: skip


def generate_name() -> str:
    """A random adjective_surname; the caller retries on a clash."""
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_SURNAMES)}"


def validate_name(name: str) -> str:
    """Return ``name`` without Docker's optional leading slash, or raise if unusable."""
    bare = name.removeprefix("/")
    if not _VALID_NAME.fullmatch(bare):
        raise InvalidArgumentError(
            f'invalid container name "{name}": use letters, digits, "_", "." or "-", '
            "starting with a letter or digit, at least 2 characters"
        )
    return bare

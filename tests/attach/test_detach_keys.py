"""Detach keys: Docker's syntax, and the session filter with its two fixed quirks."""

from __future__ import annotations

import pytest

from engine.attach.detach_keys import DEFAULT_DETACH_KEYS, DetachMatcher, parse_detach_keys
from engine.errors import InvalidArgumentError

P, Q = b"\x10", b"\x11"


@pytest.mark.parametrize(
    ("spec", "keys"),
    [(DEFAULT_DETACH_KEYS, P + Q), ("ctrl-a,x", b"\x01x"), ("ctrl-@", b"\x00"),
     ("ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", b"\x1b\x1c\x1d\x1e\x1f"), ("CTRL-Z", b"\x1a"),
     ("", b"")],
)  # fmt: skip
def test_parse(spec, keys):
    assert parse_detach_keys(spec) == keys


@pytest.mark.parametrize("spec", ["ctrl-1", "ab", "ctrl-", "é", "a,,b"])
def test_parse_rejects(spec):
    with pytest.raises(InvalidArgumentError, match="invalid detach key"):
        parse_detach_keys(spec)


def test_plain_input_passes_through():
    assert DetachMatcher(P + Q).feed(b"ls\r") == (b"ls\r", False)


def test_full_sequence_detaches_delivering_what_came_before():
    assert DetachMatcher(P + Q).feed(b"ab" + P + Q + b"after") == (b"ab", True)


def test_partial_match_is_held_across_reads():
    matcher = DetachMatcher(P + Q)
    assert matcher.feed(b"x" + P) == (b"x", False)
    assert matcher.feed(Q) == (b"", True)


def test_mismatch_releases_held_bytes_in_order():
    assert DetachMatcher(P + Q).feed(P + b"a") == (P + b"a", False)


def test_mismatching_byte_may_start_a_new_match():
    # Ctrl-P Ctrl-P Ctrl-Q: one Ctrl-P goes through, then detach.
    assert DetachMatcher(P + Q).feed(P + P + Q) == (P, True)


def test_held_bytes_are_delivered_when_input_ends():
    matcher = DetachMatcher(P + Q)
    assert matcher.feed(b"a" + P) == (b"a", False)
    assert matcher.flush() == P


def test_disabled_never_detaches():
    assert DetachMatcher(b"").feed(P + Q) == (P + Q, False)


def test_longer_sequences():
    matcher = DetachMatcher(b"abc")
    assert matcher.feed(b"ababc") == (b"ab", True)

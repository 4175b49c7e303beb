"""Image references: Docker's spelling, validation and normalization."""

from __future__ import annotations

import pytest

from engine.errors import InvalidArgumentError
from engine.images.reference import parse_reference


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("busybox", "busybox:latest"),
        ("busybox:1.36", "busybox:1.36"),
        ("ns/app:v1", "ns/app:v1"),
        ("a__b/c-d--e.f_g:T_1.x-y", "a__b/c-d--e.f_g:T_1.x-y"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/ns/app", "localhost:5000/ns/app:latest"),
        ("Registry.Example.com:5000/a/b:c-d.e_f", "Registry.Example.com:5000/a/b:c-d.e_f"),
        ("docker.io/library/busybox:1", "busybox:1"),
        ("library/busybox", "busybox:latest"),
        ("docker.io/someone/app", "someone/app:latest"),
        ("app:" + "t" * 128, "app:" + "t" * 128),
    ],
)
def test_references(text, normalized):
    assert str(parse_reference(text)) == normalized


@pytest.mark.parametrize(
    "text",
    [
        "Busy:Box", "Upper/app", "a:b:c", "bad tag", "-lead", "trail-", "a..b", "x:", ":tag",
        "", "app:.tag", "app:" + "t" * 129, "a/" * 130 + "b", "busybox:\u00e9", "app//x",
        "host:port/app",
    ],
)  # fmt: skip
def test_bad_references(text):
    with pytest.raises(InvalidArgumentError, match=r'^invalid reference format: "'):
        parse_reference(text)


def test_message_quotes_the_reference():
    with pytest.raises(InvalidArgumentError) as caught:
        parse_reference("Busy:Box")
    assert str(caught.value).startswith('invalid reference format: "Busy:Box" (')


def test_digests_are_refused_clearly():
    with pytest.raises(InvalidArgumentError, match="digest references are not supported"):
        parse_reference("busybox@sha256:" + "0" * 64)


def test_an_image_id_is_no_repository_name():
    with pytest.raises(InvalidArgumentError, match="spell an image id"):
        parse_reference("a" * 64)

"""Image references: Docker's spelling, validation and normalization."""

from __future__ import annotations

import pytest

from engine.errors import InvalidArgumentError
from engine.images.reference import matches_reference, parse_reference, parse_tag


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


DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "repository", "tag", "digest"),
    [
        (f"busybox@{DIGEST}", "busybox", None, DIGEST),
        (f"docker.io/library/busybox:1.36@{DIGEST}", "busybox", "1.36", DIGEST),
        (f"localhost:5000/ns/app@{DIGEST}", "localhost:5000/ns/app", None, DIGEST),
    ],
)
def test_digest_references(text, repository, tag, digest):
    reference = parse_reference(text)
    assert (reference.repository, reference.tag, reference.digest) == (repository, tag, digest)
    assert reference.pinned == digest
    assert str(parse_reference(str(reference))) == str(reference)


@pytest.mark.parametrize(
    "text", ["busybox@sha256:abc", "busybox@md5:" + "0" * 32, "busybox@", f"@{DIGEST}"]
)
def test_bad_digests(text):
    with pytest.raises(InvalidArgumentError, match=r'^invalid reference format: "'):
        parse_reference(text)


def test_a_digest_is_no_tag():
    with pytest.raises(InvalidArgumentError, match="a digest cannot be given to an image"):
        parse_tag(f"app@{DIGEST}")


@pytest.mark.parametrize(
    ("text", "domain", "path"),
    [
        ("busybox", "docker.io", "library/busybox"),
        ("someone/app", "docker.io", "someone/app"),
        ("docker.io/library/busybox", "docker.io", "library/busybox"),
        ("ghcr.io/org/tool:v1", "ghcr.io", "org/tool"),
        ("localhost/app", "localhost", "app"),
        ("127.0.0.1:5000/a/b/c", "127.0.0.1:5000", "a/b/c"),
    ],
)
def test_registry_and_remote_name(text, domain, path):
    reference = parse_reference(text)
    assert (reference.domain, reference.path) == (domain, path)


@pytest.mark.parametrize(
    ("names", "pattern", "matched"),
    [
        (["busybox:latest"], "busybox", True),
        (["busybox:latest"], "busy*", True),
        (["busybox:latest"], "busybox:l*", True),
        (["busybox:latest"], "busybox:1*", False),
        (["ns/app:v1"], "*", False),  # * does not cross a /, as Go's path.Match
        (["ns/app:v1"], "*/app", True),
        (["localhost:5000/app:v1"], "localhost:5000/*", True),
    ],
)
def test_reference_filter(names, pattern, matched):
    assert matches_reference(names, [pattern]) is matched


def test_an_image_id_is_no_repository_name():
    with pytest.raises(InvalidArgumentError, match="spell an image id"):
        parse_reference("a" * 64)

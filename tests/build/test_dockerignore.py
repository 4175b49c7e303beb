""".dockerignore as Docker reads it, and the context walks it leaves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.build import dockerignore
from engine.build.dockerignore import Matcher, read_patterns, walk
from engine.errors import InvalidArgumentError

TREE = [
    "Dockerfile",
    ".dockerignore",
    "README.md",
    "main.go",
    "docs/",
    "docs/guide.md",
    "docs/keep.md",
    "docs/img/logo.png",
    "src/",
    "src/app.go",
    "src/app_test.go",
    "src/vendor/",
    "src/vendor/lib.go",
    "build/",
    "build/out.bin",
    "build/cache/",
    "build/cache/x.o",
    ".git/",
    ".git/HEAD",
    "empty/",
]


def make(root: Path, entries: list[str]) -> None:
    """Directories end in "/"; files hold their own name."""
    for entry in entries:
        path = root / entry
        if entry.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(entry)


def walked(root: Path, ignore: str) -> list[str]:
    return list(walk(root, Matcher(read_patterns(ignore))))


def everything_but(*left_out: str) -> list[str]:
    return [path for path in ALL if path not in left_out]


ALL = [
    ".dockerignore",
    ".git",
    ".git/HEAD",
    "Dockerfile",
    "README.md",
    "build",
    "build/cache",
    "build/cache/x.o",
    "build/out.bin",
    "docs",
    "docs/guide.md",
    "docs/img",
    "docs/img/logo.png",
    "docs/keep.md",
    "empty",
    "main.go",
    "src",
    "src/app.go",
    "src/app_test.go",
    "src/vendor",
    "src/vendor/lib.go",
]


@pytest.fixture
def context(tmp_path: Path) -> Path:
    make(tmp_path, TREE)
    return tmp_path


# --- reading the file ---


def test_read_patterns_as_docker() -> None:
    text = (
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! "
    )
    assert read_patterns(text) == [
        "test1",
        "test2",
        "a/file/here",
        "lastfile",
        "!inverted/abs/path",
        "!",
        "!",
    ]


@pytest.mark.parametrize(
    ("text", "patterns"),
    [
        ("./a/../b/", ["b"]),
        ("a//b/./c", ["a/b/c"]),
        ("//a", ["a"]),
        ("/", ["/"]),
        ("!./x/", ["!x"]),
        ("  spaced  \t", ["spaced"]),
        ("a\r\nb\r\n", ["a", "b"]),
        ("\ufeff*.md\n", ["*.md"]),
        ("\ufeff# comment after a byte order mark\n", []),
        (
            "  # not a comment: only in the first column",
            ["# not a comment: only in the first column"],
        ),
        ("../outside", ["../outside"]),
        ("", []),
    ],
)
def test_read_patterns_cleans(text: str, patterns: list[str]) -> None:
    assert read_patterns(text) == patterns


# --- matching ---


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["README.md"], "README.md", True),
        (["README.md"], "docs/README.md", False),
        (["*.md"], "README.md", True),
        (["*.md"], "docs/guide.md", False),  # "*" stays within a component
        (["*/*.md"], "docs/guide.md", True),
        (["**/*.md"], "docs/guide.md", True),
        (["**/*.md"], "README.md", True),
        (["**/guide.md"], "guide.md", True),
        (["**/guide.md"], "docs/guide.md", True),
        (["**/guide.md"], "docs/xguide.md", False),
        (["**uide.md"], "docs/xguide.md", True),  # a leading "**" alone is any suffix
        (["docs"], "docs/img/logo.png", True),  # a directory takes its contents along
        (["docs/**"], "docs", False),  # but "dir/**" only the contents
        (["docs/**"], "docs/img/logo.png", True),
        (["doc**"], "docs/img", True),
        (["docs/**/*.png"], "docs/img/logo.png", True),
        (["docs/**/*.png"], "docs/logo.png", True),
        (["**"], "anything/at/all", True),
        (["?.go"], "a.go", True),
        (["?.go"], "ab.go", False),
        (["a?b"], "a/b", False),
        (["[a-c].txt"], "b.txt", True),
        (["[a-c].txt"], "d.txt", False),
        (["[^a].txt"], "b.txt", True),
        (["\\*.txt"], "*.txt", True),
        (["\\*.txt"], "a.txt", False),
        (["a+b(1).txt"], "a+b(1).txt", True),
        (["a+b(*).txt"], "a+b(2).txt", True),
        (["a+b(*).txt"], "a+b2.txt", False),
        (["{a,b}"], "a", False),  # no braces: literal
        (["{a,b}"], "{a,b}", True),
        (["ä*"], "äpfel", True),
        (["*.md", "!README.md"], "README.md", False),
        (["*.md", "!README.md"], "docs.md", True),
        (["!README.md", "*.md"], "README.md", True),  # the last match wins
        (["*.md", "!*.md", "*.md"], "a.md", True),
        (["docs", "!docs/keep.md"], "docs/keep.md", False),
        (["docs", "!docs/keep.md"], "docs/guide.md", True),
        (["docs", "!docs"], "docs/guide.md", False),
        (["./docs/"], "docs/guide.md", True),
        ([".*"], ".git/HEAD", True),
        ([".*"], "a/.hidden", False),
    ],
)
def test_excluded(patterns: list[str], path: str, excluded: bool) -> None:
    assert Matcher(read_patterns("\n".join(patterns))).excluded(path) is excluded


def test_excluded_takes_paths_loosely() -> None:
    matcher = Matcher(["docs"])
    assert matcher.excluded("./docs/guide.md")
    assert matcher.excluded("docs/")
    assert not matcher.excluded(".")
    assert not matcher.excluded("")


def test_parent_results_carry_down() -> None:
    # BuildKit judges a path from its parent's results pattern by pattern: "!a" is not tried on
    # "a" (nothing is excluded yet there), so it does not re-include what "a/b" excluded below
    matcher = Matcher(["a/b", "!a"])
    assert not matcher.excluded("a")
    assert matcher.excluded("a/b")
    assert matcher.excluded("a/b/c")


# what Go's filepath.Match refuses (a class may not start with "]" or "-"), and a bad range
BAD = ["[", "a[", "[a", "[]]", "[]a]", "[a-]", "[a-]]x", "[-a]", "a\\", "[z-a]", "!", "!["]


@pytest.mark.parametrize("pattern", BAD)
def test_bad_pattern(pattern: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Matcher(["ok", pattern])
    message = str(caught.value)
    assert "\n" not in message
    assert f'"{pattern}"' in message


@pytest.mark.parametrize(
    ("pattern", "path"), [("[\\]]", "]"), ("[[]", "["), ("x]", "x]"), ("[!a]", "!"), ("a^b", "a^b")]
)
def test_odd_but_valid_pattern(pattern: str, path: str) -> None:
    assert Matcher([pattern]).excluded(path)


@pytest.mark.parametrize(
    ("patterns", "directory", "enter"),
    [
        (["docs"], "docs", False),
        (["docs", "!docs/keep.md"], "docs", True),
        (["docs", "!docs/keep.md"], "docs/img", False),
        (["docs", "!docs/keep.md"], "src", False),
        (["docs", "!docs/img/**"], "docs/img", True),
        (["docs", "!docs/img/*"], "docs", True),
        (["docs", "!**/*.md"], "anything", True),  # a wildcard could match anywhere
    ],
)
def test_may_include_below(patterns: list[str], directory: str, enter: bool) -> None:
    assert Matcher(patterns).may_include_below(directory) is enter


# --- walking the context ---


def test_walk_without_patterns(context: Path) -> None:
    assert walked(context, "") == ALL


def test_walk_order_puts_directories_before_their_contents(tmp_path: Path) -> None:
    make(tmp_path, ["a/x", "a.txt", "a-b", "B"])
    assert walked(tmp_path, "") == ["B", "a", "a/x", "a-b", "a.txt"]


def test_walk_plain_names(context: Path) -> None:
    assert walked(context, "main.go\nbuild") == everything_but(
        "main.go", "build", "build/cache", "build/cache/x.o", "build/out.bin"
    )


def test_walk_top_level_wildcard(context: Path) -> None:
    assert walked(context, "*.md") == everything_but("README.md")


def test_walk_wildcard_at_any_depth(context: Path) -> None:
    assert walked(context, "**/*.go") == everything_but(
        "main.go", "src/app.go", "src/app_test.go", "src/vendor/lib.go"
    )


def test_walk_dir_contents_only(context: Path) -> None:
    assert walked(context, "build/**") == everything_but(
        "build/cache", "build/cache/x.o", "build/out.bin"
    )


def test_walk_reincludes_a_file_under_an_excluded_directory(context: Path) -> None:
    assert walked(context, "docs\n!docs/keep.md") == everything_but(
        "docs/guide.md", "docs/img", "docs/img/logo.png"
    )


def test_walk_reincludes_deep_with_its_directories(context: Path) -> None:
    assert walked(context, "docs\n!docs/img/logo.png") == everything_but(
        "docs/guide.md", "docs/keep.md"
    )


def test_walk_reincludes_by_wildcard(context: Path) -> None:
    assert walked(context, "*\n!**/*.md") == [
        "README.md",
        "docs",
        "docs/guide.md",
        "docs/keep.md",
    ]


def test_walk_everything_but_a_whitelist(context: Path) -> None:
    assert walked(context, "**\n!src\n!Dockerfile\nsrc/vendor") == [
        "Dockerfile",
        "src",
        "src/app.go",
        "src/app_test.go",
    ]


def test_walk_last_match_wins(context: Path) -> None:
    assert walked(context, "*.md\n!*.md") == ALL
    assert walked(context, "!*.md\n*.md") == everything_but("README.md")


def test_walk_leading_slash_and_dot(context: Path) -> None:
    assert walked(context, "/main.go\n./src/vendor/\n/./.git") == everything_but(
        "main.go", "src/vendor", "src/vendor/lib.go", ".git", ".git/HEAD"
    )


def test_walk_ignores_comments(context: Path) -> None:
    assert walked(context, "# main.go\n#*\n") == ALL


def test_walk_keeps_dockerfile_and_dockerignore_unless_excluded(context: Path) -> None:
    assert walked(context, ".git")[:2] == [".dockerignore", "Dockerfile"]
    assert walked(context, "Dockerfile\n.dockerignore")[:2] == [".git", ".git/HEAD"]


def test_walk_keeps_an_empty_directory(context: Path) -> None:
    assert "empty" in walked(context, "docs")
    assert "empty" not in walked(context, "empty")


def test_walk_does_not_follow_links(tmp_path: Path) -> None:
    make(tmp_path, ["real/file", "outside/secret"])
    (tmp_path / "real" / "link").symlink_to(tmp_path / "outside")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert walked(tmp_path, "outside") == ["dangling", "real", "real/file", "real/link"]
    assert walked(tmp_path, "") == [
        "dangling",
        "outside",
        "outside/secret",
        "real",
        "real/file",
        "real/link",
    ]


def test_walk_skips_excluded_trees_unread(context: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []
    scandir = os.scandir

    def spy(path: Path):
        read.append(os.path.relpath(path, context))
        return scandir(path)

    monkeypatch.setattr(dockerignore.os, "scandir", spy)
    walked(context, "build\ndocs\n!docs/keep.md\n.git")
    assert sorted(read) == [".", "docs", "empty", "src", "src/vendor"]


def test_walk_names_with_odd_characters(tmp_path: Path) -> None:
    make(tmp_path, ["a b/c d", "äpfel", "x[1].txt", "new\nline"])
    assert walked(tmp_path, "x\\[1\\].txt\n**/c?d") == ["a b", "new\nline", "äpfel"]


def test_walk_refuses_a_bad_pattern(context: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r'"\[": syntax error in pattern'):
        walked(context, "ok\n[\n")

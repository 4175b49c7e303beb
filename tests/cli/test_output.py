"""Docker's output conventions: sizes, durations, tables and --format templates."""

from __future__ import annotations

import pytest

from cli.output import render, table
from engine.errors import InvalidArgumentError
from engine.humanize import duration, size


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "Less than a second"), (1, "1 second"), (45, "45 seconds"), (90, "About a minute"),
     (300, "5 minutes"), (3600, "About an hour"), (3 * 3600, "3 hours"), (3 * 86400, "3 days"),
     (21 * 86400, "3 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years")],
)  # fmt: skip
def test_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0B"), (999, "999B"), (4100, "4.1kB"), (1_240_000, "1.24MB")]
)
def test_size(count, text):
    assert size(count) == text


def test_table_pads_as_dockers_tabwriter_three_spaces_and_ten_at_least():
    assert table(["A", "LONGER"], [["xxxx", "y"]]) == "A         LONGER\nxxxx      y"
    assert table(["REPOSITORY", "TAG"], [["busybox", "x"]]) == ("REPOSITORY   TAG\nbusybox      x")


ITEMS = [{"ID": "abc", "Names": "web"}, {"ID": "def", "Names": "db"}]


def test_plain_template_renders_each_item():
    assert render("{{.ID}}:{{.Names}}", ITEMS, {}) == "abc:web\ndef:db"


def test_table_template_has_a_header():
    out = render("table {{.ID}}\\t{{.Names}}", ITEMS, {"ID": "CONTAINER ID", "Names": "NAMES"})
    assert out.splitlines() == ["CONTAINER ID   NAMES", "abc            web", "def            db"]


def test_json_and_case_functions():
    assert render("{{json .}}", ITEMS[:1], {}) == '{"ID": "abc", "Names": "web"}'
    assert render("{{json .Names}} {{upper .Names}}", ITEMS[:1], {}) == '"web" WEB'


def test_unknown_field_is_a_clear_error():
    with pytest.raises(InvalidArgumentError, match='field "Nope"'):
        render("{{.Nope}}", ITEMS, {})

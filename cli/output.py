"""Tables and ``--format`` templates, the subset of Go templates docker users type.

Supported: field paths ``{{.Field}}`` and ``{{.State.ExitCode}}``, ``{{index .Map "key"}}``
(or a list's ``{{index .List 0}}``), ``{{json .}}``, ``{{json .Path}}``, ``{{upper .Path}}``,
``{{lower .Path}}``. Values print as Go prints them: ``true``, ``[a b]``, ``map[k:v]``,
``<no value>`` for nil. ``render`` is ps and images' (its ``table`` prefix adds a header row
and aligns columns); ``render_object`` is inspect's, over one object's JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from engine.errors import InvalidArgumentError

_KEY = re.compile(r'"[^"\\]*"|\d+')  # index's argument: a map key (no escapes) or a list index
_ACTION = re.compile(
    r"{{\s*(?:(?P<function>json|upper|lower|index)\s+)?"
    r"(?P<path>\.(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?)"  # "." or ".A.B"
    r"(?P<keys>(?:\s+(?:" + _KEY.pattern + r"))*)\s*}}"
)
_ANY_ACTION = re.compile(r"{{.*?}}", re.DOTALL)
_PADDING = 3
_MIN_WIDTH = 10
_GO_TYPES = {dict: "map[string]interface {}", list: "[]interface {}", str: "string",
             bool: "bool", int: "json.Number", float: "json.Number"}  # fmt: skip


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns left-aligned as Docker's tabwriter sets them (minwidth 10, padding 3): a
    column is its widest cell plus three spaces, and never narrower than ten."""
    widths = [max(_MIN_WIDTH, max(len(str(cell)) for cell in column) + _PADDING)
              for column in zip(headers, *rows, strict=True)]  # fmt: skip
    lines = []
    for row in (headers, *rows):
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def render(template: str, items: Sequence[Mapping[str, object]], headers: Mapping[str, str]) -> str:
    """Render ``template`` once per item; ``headers`` maps field names to column titles."""
    body = _prepare(template)
    if not body.startswith("table"):
        return "\n".join(_row(body, item) for item in items)
    body = body.removeprefix("table").strip()
    header = _ACTION.sub(lambda m: headers.get(m["path"][1:], m["path"][1:].upper()), body)
    rows = [_row(body, item).split("\t") for item in items]
    header_cells = header.split("\t")
    width = max([len(header_cells), *(len(row) for row in rows)])
    pad = lambda cells: cells + [""] * (width - len(cells))  # noqa: E731
    return table(pad(header_cells), [pad(row) for row in rows])


def render_object(template: str, item: object) -> str:
    """``template`` over one inspect object, as ``docker inspect --format`` runs it."""
    try:
        return _expand(_prepare(template), item, _go_json)
    except _Failure as failure:
        raise InvalidArgumentError(f"template parsing error: {failure.go_message()}") from None


def check(template: str) -> None:
    """Docker's parse error unless berth can render every action of ``template``."""
    for action in _ANY_ACTION.findall(template):
        match = _ACTION.fullmatch(action)
        if not match or (match["keys"] and match["function"] != "index"):
            raise InvalidArgumentError(
                f"template parsing error: unsupported action {action} (berth supports "
                '{{.Field}}, {{.Field.Key}}, {{index .Field "key"}}, {{json .}}, '
                "{{json .Field}}, {{upper .Field}}, {{lower .Field}})"
            )
    if "{{" in _ANY_ACTION.sub("", template):
        raise InvalidArgumentError("template parsing error: unclosed action (a {{ without }})")


def _prepare(template: str) -> str:
    check(template)
    # Docker's formatter turns the two escapes users type, \t and \n, into characters.
    return template.replace("\\t", "\t").replace("\\n", "\n")


@dataclass
class _Failure(Exception):
    """An action Go would fail to execute on this item; each entry point words it."""

    template: str
    at: int  # where Go's parser puts the failing node: the column its message names
    node: str
    reason: str
    missing: str | None = None  # the key a map lacked, and the keys it has
    fields: Sequence[str] = ()

    def go_message(self) -> str:
        before = self.template[: self.at]
        column = len(before[before.rfind("\n") + 1 :].encode())
        node = self.node if len(self.node) <= 20 else f"{self.node[:20]}..."
        line = before.count("\n") + 1
        return f'template: :{line}:{column}: executing "" at <{node}>: {self.reason}'


def _row(template: str, item: Mapping[str, object]) -> str:
    # ps and images keep what they printed before (tests/cli/test_output.py pins it): spaced
    # JSON, and an error naming the fields there are. Docker's JSON is inspect's compact one.
    try:
        return _expand(template, item, json.dumps)
    except _Failure as failure:
        if failure.missing is None:
            raise InvalidArgumentError(failure.go_message()) from None
        raise InvalidArgumentError(
            f'template: can\'t evaluate field "{failure.missing}" '
            f"(fields: {', '.join(failure.fields)})"
        ) from None


def _expand(template: str, item: object, dump: Callable[[object], str]) -> str:
    def action(match: re.Match[str]) -> str:
        value = _follow(match, item)
        function = match["function"]
        if function == "index":
            value = _index(match, value)
        if function == "json":
            return dump(value)
        # Go's template prints a nil value as <no value>, and fmt's <nil> inside lists.
        text = "<no value>" if value is None else _go_text(value)
        return {"upper": text.upper(), "lower": text.lower()}.get(function or "", text)

    return _ACTION.sub(action, template)


def _follow(match: re.Match[str], item: object) -> object:
    """The value at the action's field path; a missing key fails, as missingkey=error does."""
    path = match["path"]
    names = [name for name in path.split(".") if name]
    # Go places a chained field at its second name: `{{.State.Nope}}` fails at column 8.
    at = match.start("path") + (len(names[0]) + 1 if len(names) > 1 else 0)
    value = item
    for name in names:
        if isinstance(value, Mapping) and name in value:
            value = value[name]
        elif isinstance(value, Mapping):
            reason = f'map has no entry for key "{name}"'
            raise _Failure(match.string, at, path, reason, name, list(value))
        elif value is None:
            raise _Failure(match.string, at, path, f"nil pointer evaluating interface {{}}.{name}")
        else:
            reason = f"can't evaluate field {name} in type {_go_type(value)}"
            raise _Failure(match.string, at, path, reason)
    return value


def _index(match: re.Match[str], value: object) -> object:
    """Go's ``index``: a missing map key is nil, a list index past the end an error."""
    tokens = _KEY.findall(match["keys"])
    for token in tokens:
        key = int(token) if token.isdigit() else token[1:-1]
        reason = _unindexable(value, key)
        if reason:
            node = " ".join(["index", match["path"], *tokens])
            failure = f"error calling index: {reason}"
            raise _Failure(match.string, match.start("function"), node, failure)
        value = value.get(key) if isinstance(value, Mapping) else value[key]
    return value


def _unindexable(value: object, key: str | int) -> str | None:
    if value is None:
        return "index of untyped nil"
    if isinstance(value, Mapping):
        return None if isinstance(key, str) else "value has type int; should be string"
    if not isinstance(value, list):
        return f"can't index item of type {_go_type(value)}"
    if isinstance(key, str):
        return "cannot index slice/array with type string"
    return None if key < len(value) else f"index out of range: {key}"


def _go_type(value: object) -> str:
    return _GO_TYPES.get(type(value), type(value).__name__)


def _go_text(value: object) -> str:
    """``value`` as Go's fmt prints decoded JSON: ``true``, ``[a b]``, ``map[k:v]``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_go_text(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(map(_go_text, value)) + "]"
    return str(value)


def _go_json(value: object) -> str:
    # Docker's json function: compact, and UTF-8 left as it is.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

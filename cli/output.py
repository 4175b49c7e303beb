"""Tables and ``--format`` templates, the subset of Go templates docker users type.

Supported: ``{{.Field}}``, ``{{json .}}``, ``{{json .Field}}``, ``{{upper .F}}``,
``{{lower .F}}``, and the ``table`` prefix which adds a header row and aligns columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from engine.errors import InvalidArgumentError

_ACTION = re.compile(r"{{\s*(?:(json|upper|lower)\s+)?\.([A-Za-z]*)\s*}}")
_ANY_ACTION = re.compile(r"{{.*?}}", re.DOTALL)
_PADDING = 3


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns left-aligned, separated by at least three spaces, like Docker's tabwriter."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = []
    for row in (headers, *rows):
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append((" " * _PADDING).join(cells).rstrip())
    return "\n".join(lines)


def render(template: str, items: Sequence[Mapping[str, object]], headers: Mapping[str, str]) -> str:
    """Render ``template`` once per item; ``headers`` maps field names to column titles."""
    _check(template)
    # Docker's formatter turns the two escapes users type, \t and \n, into characters.
    body = template.replace("\\t", "\t").replace("\\n", "\n")
    if not body.startswith("table"):
        return "\n".join(_expand(body, item) for item in items)
    body = body.removeprefix("table").strip()
    header = _ACTION.sub(lambda m: headers.get(m.group(2), m.group(2).upper()), body)
    rows = [_expand(body, item).split("\t") for item in items]
    header_cells = header.split("\t")
    width = max([len(header_cells), *(len(row) for row in rows)])
    pad = lambda cells: cells + [""] * (width - len(cells))  # noqa: E731
    return table(pad(header_cells), [pad(row) for row in rows])


def _check(template: str) -> None:
    """Docker's parse error unless berth can render every action of ``template``."""
    for action in _ANY_ACTION.findall(template):
        if not _ACTION.fullmatch(action):
            raise InvalidArgumentError(
                f"template parsing error: unsupported action {action} (berth supports "
                "{{.Field}}, {{json .}}, {{json .Field}}, {{upper .Field}}, {{lower .Field}})"
            )
    if "{{" in _ANY_ACTION.sub("", template):
        raise InvalidArgumentError("template parsing error: unclosed action (a {{ without }})")


def _expand(template: str, item: Mapping[str, object]) -> str:
    def action(match: re.Match[str]) -> str:
        function, field = match.groups()
        if field and field not in item:
            raise InvalidArgumentError(
                f'template: can\'t evaluate field "{field}" (fields: {", ".join(item)})'
            )
        value = item[field] if field else item
        if function == "json":
            return json.dumps(value)
        text = str(value)
        return {"upper": text.upper(), "lower": text.lower()}.get(function or "", text)

    return _ACTION.sub(action, template)

"""Dockerfiles read the way BuildKit's dockerfile frontend reads them.

``parse`` does what BuildKit's parser package does: parser directives, comments, line
continuations, JSON (exec) versus shell form, heredocs, and each instruction's arguments
split as BuildKit splits them. ``command`` and ``stages`` then check each instruction and
give it a type, as BuildKit's instructions package does, with its error messages.

Nothing is expanded here: words keep their quotes, escapes and ``$variables``, for the
build to expand with the environment in effect at each step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from engine.errors import InvalidArgumentError

# Go's unicode.IsSpace: what BuildKit trims and splits words on (str.isspace() is wider).
_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    map(chr, range(0x2000, 0x200B))
)
_GAP = "[\t\n\f\r ]"  # RE2's \s, narrower than Python's
_RE_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_RE_DIRECTIVE = re.compile(rf"([a-zA-Z][a-zA-Z0-9]*){_GAP}*={_GAP}*(.+?){_GAP}*\Z")
_RE_HEREDOC = re.compile(rf"([0-9]*)<<(-?){_GAP}*([^<]*)\Z")
_RE_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
_RE_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*\Z")
_RE_ONBUILD = re.compile(rf"\A{_GAP}*ONBUILD{_GAP}*", re.IGNORECASE)

_INSTRUCTIONS = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)  # fmt: skip
_HEREDOC_INSTRUCTIONS = ("RUN", "COPY", "ADD")


class DockerfileError(InvalidArgumentError):
    """A Dockerfile BuildKit would refuse, in BuildKit's words, with the line it is on."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"dockerfile parse error on line {line}: {message}" if line else message)
        self.line = line


class _Invalid(Exception):
    """An error found before its line number is known; the caller adds it."""


# -- the parse tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Heredoc:
    name: str  # the delimiter word, quotes removed
    content: str  # the body, each line with its line ending; with <<- leading tabs stripped
    expand: bool  # False when any part of the delimiter was quoted ('EOF', "EOF", E"O"F)
    chomp: bool  # <<-


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case, e.g. "RUN"
    line: int  # 1-based line where it starts
    end_line: int  # its last line, heredoc bodies included
    original: str  # its text with continuations joined (BuildKit's node.Original)
    flags: tuple[str, ...]  # "--name=value" / "--name" before the arguments, quotes removed
    args: tuple[str, ...]  # see _ARGUMENTS: JSON items, the shell-form text, or words
    json: bool  # exec (JSON) form
    heredocs: tuple[Heredoc, ...]


@dataclass(frozen=True)
class Directives:
    escape: str  # "\\" or "`"
    syntax: str | None
    check: str | None


@dataclass(frozen=True)
class Dockerfile:
    directives: Directives
    instructions: tuple[Instruction, ...]
    warnings: tuple[str, ...]  # "Empty continuation line found in: ..." as BuildKit words it


def parse(text: str) -> Dockerfile:
    """The instructions of Dockerfile ``text``; DockerfileError if BuildKit's parser refuses it.

    Unknown instructions pass here, as in BuildKit; ``command`` refuses them.
    """
    if not text:
        raise DockerfileError("the Dockerfile cannot be empty")
    return _Parser(text).run()


class _Parser:
    """BuildKit's Parse: physical lines into logical ones, each into an instruction."""

    def __init__(self, text: str) -> None:
        # each physical line keeps its ending: heredoc bodies are taken verbatim
        lines = text.removeprefix("\ufeff").split("\n")
        self._lines = [line + "\n" for line in lines[:-1]]
        if lines[-1]:
            self._lines.append(lines[-1])
        self._number = 0
        self._directives = _DirectiveReader()
        self._warnings: list[str] = []

    def run(self) -> Dockerfile:
        instructions = []
        while self._number < len(self._lines):
            token = self._take(first=True)
            start = self._number
            body, ended = self._directives.trim_continuation(token)
            if ended and not body:
                continue
            line = self._continue(body, ended)
            instructions.append(self._instruction(line, start))
        if not instructions:
            raise DockerfileError("file with no instructions")
        return Dockerfile(self._directives.result(), tuple(instructions), tuple(self._warnings))

    def _take(self, first: bool) -> str:
        """The next physical line without its ending, blank if it is a comment."""
        raw = self._lines[self._number]
        self._number += 1
        token = raw.rstrip("\r\n")
        if first:  # continuation lines keep their leading blanks
            token = token.lstrip(_SPACE)
        try:
            self._directives.feed(token)
        except _Invalid as error:
            raise DockerfileError(str(error), self._number) from None
        return "" if _is_comment(token) else token

    def _continue(self, body: str, ended: bool) -> str:
        """The logical line: ``body`` joined with its continuation lines."""
        parts, skipped_blank = [body], False
        while not ended and self._number < len(self._lines):
            is_comment = _is_comment(self._lines[self._number])
            token = self._take(first=False)
            if is_comment:  # comments may sit between continued lines
                continue
            if not token.lstrip(_SPACE):
                skipped_blank = True
                continue
            body, ended = self._directives.trim_continuation(token)
            parts.append(body)
        line = "".join(parts)
        if skipped_blank:
            self._warnings.append(f"Empty continuation line found in: {line}")
        return line

    def _instruction(self, line: str, start: int) -> Instruction:
        try:
            node = _node(line, self._directives.escape)
        except _Invalid as error:
            raise DockerfileError(str(error), start) from None
        heredocs = ()
        if node.takes_heredocs() and "<<" in line:
            heredocs = tuple(self._body(doc, start) for doc in _heredocs_in(line))
        return Instruction(node.word.upper(), start, self._number, line, node.flags, node.args,
                           node.json, heredocs)  # fmt: skip

    def _body(self, doc: Heredoc, start: int) -> Heredoc:
        """``doc`` with its body: the lines up to its delimiter, taken verbatim."""
        lines = []
        while self._number < len(self._lines):
            raw = self._lines[self._number]
            self._number += 1
            end = raw.rstrip("\r\n")
            if (end.lstrip("\t") if doc.chomp else end) == doc.name:
                content = "".join(lines)
                if doc.chomp:
                    content = _RE_LEADING_TABS.sub("", content)
                return replace(doc, content=content)
            lines.append(raw)
        raise DockerfileError("unterminated heredoc", start)


def _is_comment(line: str) -> bool:
    return line.lstrip(_SPACE).startswith("#")


class _DirectiveReader:
    """Parser directives: comment lines at the very top, until any other line."""

    def __init__(self) -> None:
        self.escape = "\\"
        self._values: dict[str, str] = {}
        self._done = False
        self._continuation = _continuation_pattern(self.escape)

    def feed(self, token: str) -> None:
        if self._done:
            return
        match = _RE_DIRECTIVE.match(token[1:].lstrip(_SPACE)) if token.startswith("#") else None
        key = match.group(1).lower() if match else None
        if key not in ("syntax", "escape", "check"):
            self._done = True  # a plain comment or an unknown key ends them too
            return
        if key in self._values:
            raise _Invalid(f"only one {key} parser directive can be used")
        self._values[key] = value = match.group(2)
        if key == "escape":
            if value not in ("\\", "`"):
                raise _Invalid(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
            self._continuation = _continuation_pattern(value)

    def trim_continuation(self, token: str) -> tuple[str, bool]:
        """``token`` less a trailing escape character, and whether the instruction ends here."""
        trimmed, found = self._continuation.subn(r"\1", token, count=1)
        return trimmed, not found

    def result(self) -> Directives:
        return Directives(self.escape, self._values.get("syntax"), self._values.get("check"))


def _continuation_pattern(escape: str) -> re.Pattern[str]:
    # A trailing escape continues the line unless it is itself escaped (BuildKit's regex
    # cannot see an escaped escape before it, "a \\\", and neither does this).
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


# -- one logical line into keyword, flags and arguments --------------------------------------


@dataclass(frozen=True)
class _Node:
    word: str  # the keyword as written
    flags: tuple[str, ...]
    args: tuple[str, ...]
    json: bool
    trigger: _Node | None  # ONBUILD's instruction

    def takes_heredocs(self) -> bool:
        node = self.trigger or self
        return node.word.upper() in _HEREDOC_INSTRUCTIONS and not node.json


def _node(line: str, escape: str) -> _Node:
    word, flags, rest = _split_command(line, escape)
    if word.lower() == "onbuild":
        if not rest:
            return _Node(word, flags, (), False, None)
        trigger = _node(rest, escape)
        return _Node(word, flags, (trigger.word, *trigger.args), False, trigger)
    args, is_json = _ARGUMENTS.get(word.upper(), _ignored)(rest, escape)
    return _Node(word, flags, args, is_json, None)


def _split_command(line: str, escape: str) -> tuple[str, tuple[str, ...], str]:
    parts = _RE_WHITESPACE.split(line.strip(_SPACE), maxsplit=1)
    if len(parts) == 1:
        return parts[0], (), ""
    rest, flags = _leading_flags(parts[1], escape)
    return parts[0], flags, rest.strip(_SPACE)


def _leading_flags(text: str, escape: str) -> tuple[str, tuple[str, ...]]:
    """The words starting with "--" at the front of ``text``, and the text after them."""
    flags: list[str] = []
    position = 0
    while True:
        while position < len(text) and text[position] in _SPACE:
            position += 1
        if not text.startswith("--", position):
            return text[position:], tuple(flags)
        word, quoted, position = _flag_word(text, position, escape)
        if word == "--":  # the end of the flags, as in getopt
            return text[position:], tuple(flags)
        if word or quoted:
            flags.append(word)


def _flag_word(text: str, position: int, escape: str) -> tuple[str, bool, int]:
    """One flag, its quotes and escapes resolved; whether it had quotes; where it ends."""
    chars: list[str] = []
    quote, quoted = "", False
    while position < len(text):
        char = text[position]
        position += 1
        if quote and char == quote:
            quote = ""
        elif not quote and char in _SPACE:
            return "".join(chars), quoted, position - 1
        elif not quote and char in "'\"":
            quote, quoted = char, True
        elif char == escape:
            if position == len(text):  # an escape at the very end is dropped
                quote = ""
            else:
                chars.append(text[position])
                position += 1
        else:
            chars.append(char)
    return "".join(chars), quoted, position


def _maybe_json(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    """JSON form if ``rest`` is a JSON array of strings, else the whole text (shell form)."""
    if not rest:
        return (), False
    items = _json_array(rest)
    return (items, True) if items is not None else ((rest,), False)


def _maybe_json_list(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    """JSON form, else words split on blanks (COPY, ADD, VOLUME)."""
    items = _json_array(rest)
    return (items, True) if items is not None else _blank_separated(rest, escape)


def _json_array(rest: str) -> tuple[str, ...] | None:
    text = rest.lstrip(_SPACE)
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return None  # BuildKit falls back to shell form silently
    if not all(isinstance(item, str) for item in value):
        raise _Invalid("when using JSON array syntax, arrays must be comprised of strings only")
    return tuple(value)


def _not_json(constant: str) -> None:
    raise ValueError(constant)  # NaN and Infinity are Python's, not JSON's


def _blank_separated(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    return (tuple(_RE_WHITESPACE.split(rest)) if rest else ()), False


def _whole(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    return ((rest,) if rest else ()), False


def _ignored(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    return (), False


def _env_words(keyword: str) -> Callable[[str, str], tuple[tuple[str, ...], bool]]:
    """ENV and LABEL: ``k=v ...`` words, or the legacy ``KEY rest of the line`` as two."""

    def split(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
        words = _words(rest, escape)
        if not words:
            return (), False
        if "=" not in words[0]:
            legacy = _RE_WHITESPACE.split(rest, maxsplit=1)
            if len(legacy) < 2:
                raise _Invalid(f"{keyword} must have two arguments")
            return tuple(legacy), False
        for word in words:
            if "=" not in word:
                raise _Invalid(f"Syntax error - can't find = in {_go_quote(word)}. "
                               "Must be of the form: name=value")  # fmt: skip
        return tuple(words), False

    return split


def _arg_words(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    return tuple(_words(rest, escape)), False


def _healthcheck_words(rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    """The type word (CMD, NONE), then the command as RUN would have it."""
    kind = re.match(r"[^\t\n\v\f\r ]*", rest).group()
    if not kind:
        return (), False
    command, is_json = _maybe_json(rest[len(kind) :].lstrip("\t\n\v\f\r "), escape)
    return (kind, *command), is_json


_ARGUMENTS: dict[str, Callable[[str, str], tuple[tuple[str, ...], bool]]] = {
    "ADD": _maybe_json_list, "COPY": _maybe_json_list, "VOLUME": _maybe_json_list,
    "RUN": _maybe_json, "CMD": _maybe_json, "ENTRYPOINT": _maybe_json, "SHELL": _maybe_json,
    "ENV": _env_words("ENV"), "LABEL": _env_words("LABEL"), "ARG": _arg_words,
    "FROM": _blank_separated, "EXPOSE": _blank_separated, "HEALTHCHECK": _healthcheck_words,
    "MAINTAINER": _whole, "STOPSIGNAL": _whole, "USER": _whole, "WORKDIR": _whole,
}  # fmt: skip


def _words(text: str, escape: str) -> list[str]:
    """Words split on unquoted blanks, quotes and escapes kept for the expansion to remove."""
    words: list[str] = []
    chars: list[str] = []
    quote, quoted, in_word = "", False, False
    position = 0
    while position < len(text):
        char = text[position]
        position += 1
        if not in_word and not quote and char in _SPACE:
            continue
        in_word = True
        if not quote and char in _SPACE:
            if chars or quoted:
                words.append("".join(chars))
            chars, quoted, in_word = [], False, False
            continue
        if quote and char == quote:
            quote = ""
        elif not quote and char in "'\"":
            quote, quoted = char, True
        elif char == escape and quote != "'":  # nothing escapes inside single quotes
            if position == len(text):
                quote = ""
                continue
            chars.append(char)
            char = text[position]
            position += 1
        chars.append(char)
    if in_word and (chars or quoted):
        words.append("".join(chars))
    return words


# -- heredocs --------------------------------------------------------------------------------


def _heredocs_in(line: str) -> list[Heredoc]:
    """The heredocs a line opens: its words (as BuildKit's shell lexer splits them, raw) that
    read ``<<NAME``. BuildKit ignores a line its lexer cannot split, and so does this."""
    try:
        words = _Lexer(line, raw=True).words()
    except _Invalid:
        return []
    return [doc for doc in map(_heredoc_word, words) if doc is not None]


def _heredoc_word(word: str) -> Heredoc | None:
    """The heredoc ``word`` opens (``<<EOF``, ``<<-'EOF'``, ``3<<EOF``), content empty."""
    match = _RE_HEREDOC.match(word)
    if not match or not match.group(3):
        return None
    delimiter = match.group(3)
    try:
        plain = _Lexer(delimiter, raw=False).words()
        with_quotes = _Lexer(delimiter, raw=False, raw_quotes=True).words()
    except _Invalid:
        return None
    if len(plain) != 1 or len(with_quotes) != 1:
        return None  # "<<one two" is no heredoc
    # A quote that quoted something shows in one lexing only (an escaped one shows in both).
    expand = _quotes(plain[0]) == _quotes(with_quotes[0])
    return Heredoc(plain[0], "", expand, match.group(2) == "-")


def _quotes(text: str) -> int:
    return text.count("'") + text.count('"')


class _Lexer:
    """Word splitting as BuildKit's shell lexer does it with no variables set and unset
    ones kept as written: a word ends at an unquoted blank; ``<<`` takes the blanks after it.

    ``raw`` keeps quotes and escapes in the words (how BuildKit finds heredocs on a line);
    otherwise they are removed, and ``raw_quotes`` puts the quotes back.
    """

    def __init__(self, text: str, raw: bool, raw_quotes: bool = False) -> None:
        self._text = text
        self._at = 0
        self._raw_escapes = raw
        self._raw_quotes = raw or raw_quotes

    def words(self) -> list[str]:
        return self._until(None)[1]

    def _peek(self) -> str | None:
        return self._text[self._at] if self._at < len(self._text) else None

    def _next(self) -> str | None:
        char = self._peek()
        self._at += char is not None
        return char

    def _until(self, stop: str | None) -> tuple[str, list[str]]:
        """The text up to ``stop`` (None: the end) and the words in it."""
        words = _WordBuffer()
        text: list[str] = []
        while (char := self._peek()) is not None:
            if char == stop:
                self._at += 1
                return "".join(text), words.done()
            if char == "$":
                piece = self._dollar()
                words.add_split(piece)  # what a variable gives is split on blanks
            elif char in "<'\"":
                piece = {"<": self._angle, "'": self._single, '"': self._double}[char]()
                words.add(piece)
            else:
                piece = self._plain(words)
            text.append(piece)
        if stop is not None:
            raise _Invalid(f"unexpected end of statement while looking for matching {stop}")
        return "".join(text), words.done()

    def _plain(self, words: _WordBuffer) -> str:
        char = self._next()
        if char != "\\":
            words.add_split(char)
            return char
        escaped = self._next() or ""
        piece = ("\\" if self._raw_escapes else "") + escaped
        words.add(piece)
        return piece

    def _single(self) -> str:
        self._at += 1
        end = self._text.find("'", self._at)
        if end < 0:
            raise _Invalid("unexpected end of statement while looking for matching single-quote")
        body, self._at = self._text[self._at : end], end + 1
        return f"'{body}'" if self._raw_quotes else body

    def _double(self) -> str:
        self._at += 1
        body: list[str] = []
        while (char := self._peek()) != '"':
            if char is None:
                raise _Invalid("unexpected end of statement while looking for matching "
                               "double-quote")  # fmt: skip
            if char == "$":
                body.append(self._dollar())
                continue
            self._at += 1
            if char == "\\" and self._peek() in ('"', "$", "\\"):
                body.append(("\\" if self._raw_escapes else "") + self._next())
            else:
                body.append(char)
        self._at += 1
        return f'"{"".join(body)}"' if self._raw_quotes else "".join(body)

    def _angle(self) -> str:
        self._at += 1
        if self._peek() != "<":
            return "<"
        self._at += 1
        start = self._at
        while self._peek() in (" ", "\t", "\r"):
            self._at += 1
        return "<<" + self._text[start : self._at]

    def _dollar(self) -> str:
        """A $-reference, kept as written (no variable is set)."""
        self._at += 1
        if self._peek() != "{":
            return "$" + self._name()
        self._at += 1
        if self._peek() is None:
            raise _Invalid("syntax error: missing '}'")
        if self._peek() in "{}:":
            raise _Invalid("syntax error: bad substitution")
        name = self._name()
        modifier = self._next()
        if modifier == "}":
            return "${" + name + "}"
        if modifier == ":":
            modifier += self._next() or ""
        if modifier and modifier[-1] in "+-?#%" and modifier not in (":#", ":%"):
            return "${" + name + modifier + self._until("}")[0] + "}"
        if modifier and modifier[-1] == "/":
            pattern = self._until("/")[0]
            return "${" + name + modifier + pattern + "/" + self._until("}")[0] + "}"
        raise _Invalid(f"unsupported modifier ({modifier or ''}) in substitution")

    def _name(self) -> str:
        start = self._at
        char = self._peek()
        if char is not None and char.isdigit():
            while (char := self._peek()) is not None and char.isdigit():
                self._at += 1
        elif char is not None and char in "@*#?-$!0":
            self._at += 1
        else:
            while (char := self._peek()) is not None and (char.isalnum() or char == "_"):
                self._at += 1
        return self._text[start : self._at]


class _WordBuffer:
    def __init__(self) -> None:
        self._words: list[str] = []
        self._word = ""

    def add(self, text: str) -> None:
        self._word += text

    def add_split(self, text: str) -> None:
        for char in text:
            if char not in _SPACE:
                self._word += char
            elif self._word:
                self._words.append(self._word)
                self._word = ""

    def done(self) -> list[str]:
        if self._word:
            self._words.append(self._word)
            self._word = ""
        return self._words


# -- typed commands ------------------------------------------------------------------------


@dataclass(frozen=True)
class FromCommand:
    instruction: Instruction
    base: str  # the image word, unexpanded
    name: str | None  # lower-cased "AS name"
    platform: str | None


@dataclass(frozen=True)
class RunCommand:
    instruction: Instruction
    cmd: tuple[str, ...]  # JSON items, or the shell-form text as one string
    json: bool
    mounts: tuple[str, ...]  # raw --mount values
    network: str | None  # "default", "none" or "host"
    security: str | None  # "sandbox" or "insecure"
    heredocs: tuple[Heredoc, ...]

    def shell_command(self) -> str:
        """What BuildKit hands the shell, for shell form: a lone ``RUN <<EOF`` gives its body
        (or the path of executable_heredoc()); any other line with heredocs gets each body and
        delimiter appended, for the shell to read as it would in a script."""
        line = self.cmd[0] if self.cmd else ""
        if not self.heredocs:
            return line
        if _heredoc_word(line) is None:
            return line + "".join(f"\n{doc.content}{doc.name}" for doc in self.heredocs)
        doc = self.heredocs[0]
        return f"/dev/pipes/{doc.name}" if self.executable_heredoc() else doc.content

    def executable_heredoc(self) -> Heredoc | None:
        """The heredoc BuildKit writes to /dev/pipes/NAME (mode 0755, mounted read-only) and
        runs by that path: the body of a lone ``RUN <<EOF`` that starts with ``#!``."""
        if not self.heredocs or _heredoc_word(self.cmd[0]) is None:
            return None
        return self.heredocs[0] if self.heredocs[0].content.startswith("#!") else None


@dataclass(frozen=True)
class CmdCommand:
    instruction: Instruction
    cmd: tuple[str, ...]
    json: bool


@dataclass(frozen=True)
class EntrypointCommand:
    instruction: Instruction
    cmd: tuple[str, ...]
    json: bool


@dataclass(frozen=True)
class ShellCommand:
    instruction: Instruction
    shell: tuple[str, ...]


@dataclass(frozen=True)
class EnvCommand:
    instruction: Instruction
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LabelCommand:
    instruction: Instruction
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MaintainerCommand:
    instruction: Instruction
    name: str


@dataclass(frozen=True)
class ArgCommand:
    instruction: Instruction
    pairs: tuple[tuple[str, str | None], ...]  # None: no default


@dataclass(frozen=True)
class ExposeCommand:
    instruction: Instruction
    ports: tuple[str, ...]  # sorted, as BuildKit sorts them


@dataclass(frozen=True)
class VolumeCommand:
    instruction: Instruction
    paths: tuple[str, ...]


@dataclass(frozen=True)
class WorkdirCommand:
    instruction: Instruction
    path: str


@dataclass(frozen=True)
class UserCommand:
    instruction: Instruction
    user: str


@dataclass(frozen=True)
class StopsignalCommand:
    instruction: Instruction
    signal: str


@dataclass(frozen=True)
class CopyCommand:
    instruction: Instruction
    sources: tuple[str, ...]  # paths; heredoc sources are in ``heredocs``
    dest: str
    from_: str | None
    chown: str | None
    chmod: str | None
    link: bool
    parents: bool
    excludes: tuple[str, ...]
    heredocs: tuple[Heredoc, ...]  # inline files, each named after its delimiter


@dataclass(frozen=True)
class AddCommand:
    instruction: Instruction
    sources: tuple[str, ...]
    dest: str
    chown: str | None
    chmod: str | None
    link: bool
    excludes: tuple[str, ...]
    heredocs: tuple[Heredoc, ...]
    checksum: str | None
    keep_git_dir: bool


@dataclass(frozen=True)
class HealthcheckCommand:
    instruction: Instruction
    test: tuple[str, ...]  # ("NONE",), ("CMD", *argv) or ("CMD-SHELL", text)
    interval: int  # nanoseconds; 0 when not given (the runtime's default applies)
    timeout: int
    start_period: int
    start_interval: int
    retries: int


@dataclass(frozen=True)
class OnbuildCommand:
    instruction: Instruction
    expression: str  # the trigger's text, heredocs appended as BuildKit stores them


Command = (
    FromCommand | RunCommand | CmdCommand | EntrypointCommand | ShellCommand | EnvCommand
    | LabelCommand | MaintainerCommand | ArgCommand | ExposeCommand | VolumeCommand
    | WorkdirCommand | UserCommand | StopsignalCommand | CopyCommand | AddCommand
    | HealthcheckCommand | OnbuildCommand
)  # fmt: skip


@dataclass(frozen=True)
class Stage:
    base: str  # the image word after FROM, unexpanded
    name: str | None  # lower-cased "AS name"
    platform: str | None  # --platform, unexpanded
    index: int
    commands: tuple[Command, ...]
    instruction: Instruction  # the FROM itself


def command(instruction: Instruction) -> Command:
    """``instruction`` checked and typed; DockerfileError in BuildKit's words if it is wrong."""
    build = _COMMANDS.get(instruction.keyword)
    try:
        if build is None:
            raise _Invalid(_unknown_instruction(instruction))
        return build(instruction)
    except _Invalid as error:
        raise DockerfileError(str(error), instruction.line) from None


def stages(dockerfile: Dockerfile) -> tuple[list[ArgCommand], list[Stage]]:
    """The ARGs before the first FROM, and the stages with their commands."""
    meta_args: list[ArgCommand] = []
    opened: list[tuple[FromCommand, list[Command]]] = []
    for instruction in dockerfile.instructions:
        typed = command(instruction)
        if isinstance(typed, FromCommand):
            _check_stage_name(typed, [start for start, _ in opened])
            opened.append((typed, []))
        elif opened:
            opened[-1][1].append(typed)
        elif isinstance(typed, ArgCommand):
            meta_args.append(typed)
        else:
            raise DockerfileError("no build stage in current context", instruction.line)
    return meta_args, [
        Stage(start.base, start.name, start.platform, index, tuple(commands), start.instruction)
        for index, (start, commands) in enumerate(opened)
    ]


def _check_stage_name(start: FromCommand, earlier: list[FromCommand]) -> None:
    # Current BuildKit only warns (DuplicateStageName); refusing spares the user the ambiguity.
    if start.name and any(other.name == start.name for other in earlier):
        raise DockerfileError(f"duplicate stage name {_go_quote(start.name)}",
                              start.instruction.line)  # fmt: skip


def _unknown_instruction(instruction: Instruction) -> str:
    written = _RE_WHITESPACE.split(instruction.original.strip(_SPACE), maxsplit=1)[0]
    message = f"unknown instruction: {written}"
    suggestion = _closest(written.lower(), [name.lower() for name in _INSTRUCTIONS])
    if suggestion is None:
        return message
    if written == written.upper() != written.lower():  # the suggestion follows the typo's case
        suggestion = suggestion.upper()
    return f"{message} (did you mean {suggestion}?)"


def _closest(value: str, options: list[str]) -> str | None:
    """The option within edit distance 2 of ``value``, nearest first (BuildKit's suggest)."""
    best, best_distance = None, 3
    for option in options:
        distance = _distance(value, option)
        if distance < best_distance:
            best, best_distance = option, distance
    return best


def _distance(a: str, b: str) -> int:
    """Levenshtein's edit distance."""
    row = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, char_b in enumerate(b, 1):
            cost = diagonal + (char_a != char_b)
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, cost)
    return row[-1]


# -- flags ---------------------------------------------------------------------------------

_BOOL, _STRING, _STRINGS = "bool", "string", "strings"


def _flags(instruction: Instruction, spec: dict[str, str]) -> dict[str, Any]:
    """The flags ``spec`` allows, by name: a bool, a str, or a list[str] for repeatable ones."""
    values: dict[str, Any] = {}
    for flag in instruction.flags:
        written, has_value, value = flag.partition("=")
        name = written[2:]
        kind = spec.get(name)
        if kind is None:
            suggestion = _closest(name, list(spec))
            hint = f" (did you mean {suggestion}?)" if suggestion else ""
            raise _Invalid(f"unknown flag: {written}{hint}")
        if name in values and kind != _STRINGS:
            raise _Invalid(f"duplicate flag specified: {written}")
        if kind == _BOOL:
            values[name] = _boolean(written, value if has_value else None)
        elif not has_value:
            raise _Invalid(f"missing a value on flag: {written}")
        elif kind == _STRING:
            values[name] = value
        else:
            values.setdefault(name, []).append(value)
    return values


def _boolean(written: str, value: str | None) -> bool:
    """A bool flag: bare "--link" is true; "--link=" lacks its value."""
    if value is None:
        return True
    if not value:
        raise _Invalid(f"missing a value on flag: {written}")
    if value.lower() not in ("true", "false"):
        raise _Invalid(f"expecting boolean value for flag {written}, not: {value}")
    return value.lower() == "true"


def _value(values: dict[str, Any], name: str) -> str | None:
    return values.get(name) or None  # an empty value is no value, as in BuildKit


# -- one builder per instruction -----------------------------------------------------------


def _exactly_one(instruction: Instruction) -> str:
    if len(instruction.args) != 1:
        raise _Invalid(f"{instruction.keyword} requires exactly one argument")
    return instruction.args[0]


def _at_least_one(instruction: Instruction) -> None:
    if not instruction.args:
        raise _Invalid(f"{instruction.keyword} requires at least one argument")


def _from(instruction: Instruction) -> FromCommand:
    args = instruction.args
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _RE_STAGE_NAME.match(name):
            raise _Invalid(f"invalid name for build stage: {_go_quote(args[2])}, "
                           "name can't start with a number or contain symbols")  # fmt: skip
    elif len(args) != 1:
        raise _Invalid("FROM requires either one or three arguments")
    flags = _flags(instruction, {"platform": _STRING})
    return FromCommand(instruction, args[0], name, _value(flags, "platform"))


def _run(instruction: Instruction) -> RunCommand:
    flags = _flags(instruction, {"mount": _STRINGS, "network": _STRING, "security": _STRING})
    network, security = _value(flags, "network"), _value(flags, "security")
    if network is not None and network not in ("default", "none", "host"):
        raise _Invalid(f"invalid network mode {_go_quote(network)}")
    if security is not None and security not in ("sandbox", "insecure"):
        raise _Invalid(f"security {_go_quote(security)} is not valid")
    return RunCommand(instruction, _command_line(instruction), instruction.json,
                      tuple(flags.get("mount", ())), network, security,
                      instruction.heredocs)  # fmt: skip


def _command_line(instruction: Instruction) -> tuple[str, ...]:
    if instruction.json or not instruction.args:
        return instruction.args
    return (" ".join(instruction.args),)


def _cmd(instruction: Instruction) -> CmdCommand:
    _flags(instruction, {})
    return CmdCommand(instruction, _command_line(instruction), instruction.json)


def _entrypoint(instruction: Instruction) -> EntrypointCommand:
    _flags(instruction, {})
    return EntrypointCommand(instruction, _command_line(instruction), instruction.json)


def _shell(instruction: Instruction) -> ShellCommand:
    _flags(instruction, {})
    _at_least_one(instruction)
    if not instruction.json:
        raise _Invalid("SHELL requires the arguments to be in JSON form")
    return ShellCommand(instruction, instruction.args)


def _key_values(instruction: Instruction) -> tuple[tuple[str, str], ...]:
    _flags(instruction, {})
    _at_least_one(instruction)
    args = instruction.args
    if "=" in args[0]:
        pairs = tuple((word.partition("=")[0], word.partition("=")[2]) for word in args)
    else:  # the legacy form: the key, then the rest of the line
        pairs = ((args[0], args[1]),)
    if any(not key for key, _ in pairs):
        raise _Invalid(f"{instruction.keyword} names can not be blank")
    return pairs


def _env(instruction: Instruction) -> EnvCommand:
    return EnvCommand(instruction, _key_values(instruction))


def _label(instruction: Instruction) -> LabelCommand:
    return LabelCommand(instruction, _key_values(instruction))


def _maintainer(instruction: Instruction) -> MaintainerCommand:
    name = _exactly_one(instruction)
    _flags(instruction, {})
    return MaintainerCommand(instruction, name)


def _arg(instruction: Instruction) -> ArgCommand:
    _at_least_one(instruction)  # BuildKit reads no flags on ARG: it ignores them
    pairs = []
    for word in instruction.args:
        key, has_value, value = word.partition("=")
        if has_value and not key:
            raise _Invalid("ARG names can not be blank")
        pairs.append((key, value if has_value else None))
    return ArgCommand(instruction, tuple(pairs))


def _expose(instruction: Instruction) -> ExposeCommand:
    _at_least_one(instruction)
    _flags(instruction, {})
    return ExposeCommand(instruction, tuple(sorted(instruction.args)))


def _volume(instruction: Instruction) -> VolumeCommand:
    _at_least_one(instruction)
    _flags(instruction, {})
    paths = tuple(path.strip(_SPACE) for path in instruction.args)
    if not all(paths):
        raise _Invalid("VOLUME specified can not be an empty string")
    return VolumeCommand(instruction, paths)


def _workdir(instruction: Instruction) -> WorkdirCommand:
    path = _exactly_one(instruction)
    _flags(instruction, {})
    return WorkdirCommand(instruction, path)


def _user(instruction: Instruction) -> UserCommand:
    user = _exactly_one(instruction)
    _flags(instruction, {})
    return UserCommand(instruction, user)


def _stopsignal(instruction: Instruction) -> StopsignalCommand:
    return StopsignalCommand(instruction, _exactly_one(instruction))  # flags ignored, as there


def _need_destination(instruction: Instruction) -> None:
    if len(instruction.args) < 2:
        raise _Invalid(f"{instruction.keyword} requires at least two arguments, but only one "
                       "was provided. Destination could not be determined")  # fmt: skip


def _sources_and_dest(instruction: Instruction) -> tuple[tuple[str, ...], str, tuple[Heredoc, ...]]:
    *sources, dest = instruction.args
    if _heredoc_word(dest):
        raise _Invalid(f"{instruction.keyword} cannot accept a heredoc as a destination")
    by_name = {doc.name: doc for doc in instruction.heredocs}
    paths, inline = [], []
    for source in sources:
        doc = _heredoc_word(source)
        if doc is None:
            paths.append(source)
        else:  # a "<<NAME" with no body (JSON form) is an empty file, as in BuildKit
            inline.append(replace(doc, content=by_name.get(doc.name, doc).content))
    return tuple(paths), dest, tuple(inline)


def _copy(instruction: Instruction) -> CopyCommand:
    _need_destination(instruction)  # before the flags, as in BuildKit
    flags = _flags(instruction, {"from": _STRING, "chown": _STRING, "chmod": _STRING,
                                 "link": _BOOL, "parents": _BOOL, "exclude": _STRINGS})  # fmt: skip
    sources, dest, heredocs = _sources_and_dest(instruction)
    return CopyCommand(instruction, sources, dest, _value(flags, "from"), _value(flags, "chown"),
                       _value(flags, "chmod"), bool(flags.get("link")), bool(flags.get("parents")),
                       tuple(flags.get("exclude", ())), heredocs)  # fmt: skip


def _add(instruction: Instruction) -> AddCommand:
    _need_destination(instruction)
    flags = _flags(instruction, {"chown": _STRING, "chmod": _STRING, "link": _BOOL,
                                 "keep-git-dir": _BOOL, "checksum": _STRING,
                                 "exclude": _STRINGS})  # fmt: skip
    sources, dest, heredocs = _sources_and_dest(instruction)
    return AddCommand(instruction, sources, dest, _value(flags, "chown"), _value(flags, "chmod"),
                      bool(flags.get("link")), tuple(flags.get("exclude", ())), heredocs,
                      _value(flags, "checksum"), bool(flags.get("keep-git-dir")))  # fmt: skip


def _healthcheck(instruction: Instruction) -> HealthcheckCommand:
    _at_least_one(instruction)
    kind, *args = instruction.args
    if kind.upper() == "NONE":  # its flags are not even read
        if args:
            raise _Invalid("HEALTHCHECK NONE takes no arguments")
        return HealthcheckCommand(instruction, ("NONE",), 0, 0, 0, 0, 0)
    names = ("interval", "timeout", "start-period", "start-interval", "retries")
    flags = _flags(instruction, dict.fromkeys(names, _STRING))
    if kind.upper() != "CMD":
        raise _Invalid(f"Unknown type {_go_quote(kind.upper())} in HEALTHCHECK (try CMD)")
    if not args:
        raise _Invalid("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *args) if instruction.json else ("CMD-SHELL", " ".join(args))
    periods = [_interval(name, str(flags.get(name, ""))) for name in names[:4]]
    return HealthcheckCommand(instruction, test, *periods, _retries(str(flags.get("retries", ""))))


def _interval(name: str, value: str) -> int:
    duration = _go_duration(value) if value else 0
    if 0 < duration < 1_000_000 or duration < 0:
        raise _Invalid(f"Interval {_go_quote(name)} cannot be less than 1ms")
    return duration


def _retries(value: str) -> int:
    if not value:
        return 0
    if not re.fullmatch(r"[+-]?[0-9]+", value):
        raise _Invalid(f"strconv.ParseInt: parsing {_go_quote(value)}: invalid syntax")
    retries = int(value)
    if not -(2**31) <= retries < 2**31:
        raise _Invalid(f"strconv.ParseInt: parsing {_go_quote(value)}: value out of range")
    if retries < 0:
        raise _Invalid(f"--retries cannot be negative ({retries})")
    return retries


_GO_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9,
             "m": 60 * 10**9, "h": 3600 * 10**9}  # fmt: skip
_RE_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def _go_duration(text: str) -> int:
    """Nanoseconds in a Go duration ("1m30s", "1.5h", "500ms"), as time.ParseDuration reads it."""
    rest = text[1:] if text[:1] in ("-", "+") else text
    sign = -1 if text.startswith("-") else 1
    if rest == "0":
        return 0
    if not rest:
        raise _Invalid(f"time: invalid duration {_go_quote(text)}")
    total = 0
    while rest:
        part = _RE_DURATION_PART.match(rest)
        whole, fraction, unit = part.group(1), part.group(2) or "", part.group(3)
        if not whole and not fraction:
            raise _Invalid(f"time: invalid duration {_go_quote(text)}")
        if not unit:
            raise _Invalid(f"time: missing unit in duration {_go_quote(text)}")
        if unit not in _GO_UNITS:
            raise _Invalid(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(text)}")
        scale = _GO_UNITS[unit]
        total += int(whole or 0) * scale + int(fraction or 0) * scale // 10 ** len(fraction)
        rest = rest[part.end() :]
    if total >= 2**63:
        raise _Invalid(f"time: invalid duration {_go_quote(text)}")
    return sign * total


def _onbuild(instruction: Instruction) -> OnbuildCommand:
    _at_least_one(instruction)
    _flags(instruction, {})
    trigger = instruction.args[0].strip(_SPACE).upper()
    if trigger == "ONBUILD":
        raise _Invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise _Invalid(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _RE_ONBUILD.sub("", instruction.original, count=1)
    expression += "".join(f"\n{doc.content}{doc.name}" for doc in instruction.heredocs)
    return OnbuildCommand(instruction, expression)


_COMMANDS: dict[str, Callable[[Instruction], Command]] = {
    "FROM": _from, "RUN": _run, "CMD": _cmd, "ENTRYPOINT": _entrypoint, "SHELL": _shell,
    "ENV": _env, "LABEL": _label, "MAINTAINER": _maintainer, "ARG": _arg, "EXPOSE": _expose,
    "VOLUME": _volume, "WORKDIR": _workdir, "USER": _user, "STOPSIGNAL": _stopsignal,
    "COPY": _copy, "ADD": _add, "HEALTHCHECK": _healthcheck, "ONBUILD": _onbuild,
}  # fmt: skip


def _go_quote(text: str) -> str:
    """``text`` as Go's %q writes it, which BuildKit's messages use."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + '"'

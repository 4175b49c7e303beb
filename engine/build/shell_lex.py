"""Variable expansion in Dockerfile instructions, as BuildKit's shell lexer does it.

This follows moby/buildkit's frontend/dockerfile/shell/lex.go rule for rule, its quirks
included, so that a word expands here exactly as ``docker build`` expands it: quotes are
removed, the escape character (``\\`` or the ``escape`` directive's backtick) is processed,
and ``$v``, ``${v}`` and ``${v<modifier>word}`` are expanded (``-`` ``+`` ``?`` with or without
``:``, ``#`` ``##`` ``%`` ``%%`` and ``/`` ``//`` with shell wildcards). Nothing is executed and
there is no globbing or tilde expansion: this is not a shell, only what BuildKit does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from engine.errors import InvalidArgumentError

#: what may follow ``$`` as a one-character name (POSIX's special parameters); BuildKit looks
#: them up like any variable, so they expand to nothing unless the environment names them
_SPECIAL = "@*#?-$!"

#: Go's strconv.Quote escapes, for the word BuildKit quotes with %q in its messages
_GO_ESCAPES = {
    char: "\\" + name for char, name in zip('\a\b\f\n\r\t\v"\\', 'abfnrtv"\\', strict=True)
}


class ExpansionError(InvalidArgumentError):
    """A word BuildKit would not expand: bad syntax, or ``${v?message}`` with ``v`` unset."""


class _Failure(Exception):
    """What went wrong inside a word; ShellLex names the word, as BuildKit does."""


class ShellLex:
    """The lexer for one Dockerfile: its escape character is ``\\`` or a backtick."""

    def __init__(self, escape: str = "\\") -> None:
        self.escape = escape

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """``word`` expanded as one word: whitespace, even unquoted, is kept."""
        return self._process(word, env)[0]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """``word`` expanded, then split on whitespace that neither quotes nor the escape
        character protect; values of variables split too, and empty words vanish."""
        return self._process(word, env)[1]

    def process_word_with_matches(self, word: str, env: Mapping[str, str]) -> tuple[str, set[str]]:
        """``process_word``, and the names in ``env`` the word looked up (BuildKit keys a
        step's cache on the build args it used, not on every one in scope)."""
        result, _, matched = self._process(word, env)
        return result, matched

    def _process(self, word: str, env: Mapping[str, str]) -> tuple[str, list[str], set[str]]:
        expansion = _Expansion(word, env, self.escape)
        try:
            result, words = expansion.until("", raw=False)
        except _Failure as failure:
            raise ExpansionError(f"failed to process {_go_quote(word)}: {failure}") from None
        return result, words, expansion.matched


class _Words:
    """The fields of a word, split as BuildKit splits them while it expands."""

    def __init__(self) -> None:
        self.fields: list[str] = []
        self.current = ""

    def add_text(self, text: str) -> None:
        """Unquoted text: whitespace ends a field."""
        for char in text:
            if not _is_space(char):
                self.current += char
            elif self.current:
                self.fields.append(self.current)
                self.current = ""

    def add_raw(self, text: str) -> None:
        """Quoted or escaped text: part of the field, whitespace and all."""
        self.current += text

    def done(self) -> list[str]:
        if self.current:
            self.fields.append(self.current)
            self.current = ""
        return self.fields


class _Expansion:
    """One word being expanded: a cursor over its text, and the names it found."""

    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        self.matched: set[str] = set()

    def peek(self) -> str:
        """The next character, "" at the end."""
        return self.text[self.pos : self.pos + 1]

    def next(self) -> str:
        char = self.peek()
        self.pos += len(char)
        return char

    def until(self, stop: str, raw: bool) -> tuple[str, list[str]]:
        """The text up to ``stop`` (consumed; "" reads to the end), expanded, and its fields.

        ``raw`` keeps the escape character before what it escapes: a ``#``, ``%`` or ``/``
        pattern needs it to tell ``\\*`` from ``*``.
        """
        out: list[str] = []
        words = _Words()
        while char := self.peek():
            if char == stop:
                self.next()
                return "".join(out), words.done()
            if char == "$":
                value = self.dollar()
                words.add_text(value)
            elif char in "'\"":
                value = self.single_quoted() if char == "'" else self.double_quoted(raw)
                words.add_raw(value)
            else:
                value = self.plain(raw, words)
            out.append(value)
        if stop:
            raise _Failure(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.done()

    def plain(self, raw: bool, words: _Words) -> str:
        """One unquoted character, or the one the escape character escapes (none at the
        end: a trailing escape character is dropped)."""
        char = self.next()
        if char != self.escape:
            words.add_text(char)
            return char
        value = (char if raw else "") + self.next()
        words.add_raw(value)
        return value

    def single_quoted(self) -> str:
        """Everything up to the next ``'``, as it is."""
        self.next()
        end = self.text.find("'", self.pos)
        if end < 0:
            self.pos = len(self.text)
            raise _Failure("unexpected end of statement while looking for matching single-quote")
        value, self.pos = self.text[self.pos : end], end + 1
        return value

    def double_quoted(self, raw: bool) -> str:
        """Up to the next ``"``: variables expand; the escape character escapes only
        ``"``, ``$`` and itself, and is kept before anything else."""
        self.next()
        out: list[str] = []
        while (char := self.peek()) != '"':
            if not char:
                raise _Failure(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if char == "$":
                out.append(self.dollar())
                continue
            self.next()
            if char == self.escape:
                if raw:
                    out.append(char)
                if self.peek() in ('"', "$", self.escape):
                    char = self.next()
                elif not self.peek():
                    continue
            out.append(char)
        self.next()
        return "".join(out)

    def dollar(self) -> str:
        """``$name``, ``${name}`` or ``${name<modifier>...}``; a lone ``$`` stays."""
        self.next()
        if self.peek() != "{":
            name = self.name()
            return self.lookup(name)[0] if name else "$"
        self.next()
        if not self.peek():
            raise _Failure("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise _Failure("syntax error: bad substitution")
        name = self.name()
        char = self.next()
        if not char:
            # BuildKit says "unsupported modifier (\ufffd)": its scanner's EOF as a rune
            raise _Failure("syntax error: missing '}'")
        if char == "}":
            return self.lookup(name)[0]
        if char == "/":
            return self.substitution(name)
        if char in ":+-?#%":
            return self.modified(name, char)
        raise _Failure(f"unsupported modifier ({char}) in substitution")

    def name(self) -> str:
        """A variable's name: letters, digits and ``_``, all digits, or one special."""
        start = self.pos
        char = self.peek()
        if char.isdecimal():
            while self.peek().isdecimal():
                self.pos += 1
        elif char and char in _SPECIAL:
            self.pos += 1
        else:
            while (char := self.peek()) and (char.isalpha() or char.isdecimal() or char == "_"):
                self.pos += 1
        return self.text[start : self.pos]

    def lookup(self, name: str) -> tuple[str, bool]:
        """The variable's value ("" when unset) and whether it is set."""
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        return "", False

    def modified(self, name: str, modifier: str) -> str:
        """``${name-word}`` and its kin; after ``:``, an empty value counts as unset."""
        null_is_unset = modifier == ":"
        operator = self.next() if null_is_unset else modifier
        word = self.closed("}", operator in ("#", "%"), "syntax error: missing '}'")
        value, is_set = self.lookup(name)
        unset = not is_set or (null_is_unset and not value)
        if operator == "-":
            return word if unset else value
        if operator == "+":
            return "" if unset else word
        if operator == "?":
            if unset:
                default = "is not allowed to be empty" if is_set else "is not allowed to be unset"
                raise _Failure(f"{name}: {word or default}")
            return value
        if operator in ("#", "%"):
            # a doubled operator (the word's own first character) asks for the longest match
            greedy = word[:1] == operator
            pattern = word[1:] if greedy else word
            if operator == "#":
                return _trim_prefix(pattern, value, greedy)
            return _trim_suffix(pattern, value, greedy)
        raise _Failure(f"unsupported modifier (:{operator}) in substitution")  # only after ":"

    def substitution(self, name: str) -> str:
        """``${name/pattern/replacement}``, or every match with ``//``."""
        every = self.peek() == "/"
        if every:
            self.next()
        pattern = self.closed("/", True, "syntax error: missing '/' in ${}")
        replacement = self.closed("}", True, "syntax error: missing '}'")
        value, _ = self.lookup(name)
        regex = _compile_pattern(pattern, greedy=True)
        if every:
            return _go_replace_all(regex, value, replacement)
        found = regex.search(value)
        if found is None:
            return value
        return value[: found.start()] + replacement + value[found.end() :]

    def closed(self, stop: str, raw: bool, missing: str) -> str:
        """``until(stop)``; running out of text first is a missing ``stop``."""
        try:
            return self.until(stop, raw)[0]
        except _Failure:
            if self.peek():
                raise
            raise _Failure(missing) from None


def _compile_pattern(pattern: str, greedy: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (``*`` ``?``, ``\\`` escaping ``*`` ``?`` ``\\``; no
    brackets) as a regex; ``\\}`` and ``\\/`` stand for ``}`` and ``/``."""
    parts: list[str] = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        pos += 1
        if char == "*":
            parts.append(".*" if greedy else ".*?")
        elif char == "?":
            parts.append(".")
        elif char != "\\":
            parts.append(re.escape(char))
        elif pattern[pos : pos + 1] not in ("}", "/"):
            escaped = pattern[pos : pos + 1]
            if escaped not in ("*", "?", "\\"):
                raise _Failure(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{escaped}'"
                )
            parts.append(re.escape(escaped))
            pos += 1
    return re.compile("".join(parts))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    found = _compile_pattern(pattern, greedy).match(value)
    return value if found is None else value[found.end() :]


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    """A regex finds the leftmost shortest match, not the rightmost: so BuildKit reverses
    both the value and the pattern (keeping each escape before what it escapes)."""
    tokens: list[str] = []
    pos = 0
    while pos < len(pattern):
        size = 2 if pattern[pos] == "\\" and pos < len(pattern) - 1 else 1
        tokens.append(pattern[pos : pos + size])
        pos += size
    return _trim_prefix("".join(reversed(tokens)), value[::-1], greedy)[::-1]


def _go_replace_all(regex: re.Pattern[str], value: str, template: str) -> str:
    """Go's Regexp.ReplaceAllString: an empty match right after a match is not replaced,
    and the replacement is a template (``$0`` the match, ``$$`` a ``$``)."""
    out: list[str] = []
    pos = 0
    for found in regex.finditer(value):
        if found.start() == found.end() == pos != 0:
            continue
        out += [value[pos : found.start()], _go_expand(template, found.group())]
        pos = found.end()
    return "".join(out) + value[pos:]


def _go_expand(template: str, match: str) -> str:
    """Go's Regexp.Expand for a pattern without groups: ``$0``/``${0}`` is the match, other
    names are empty, ``$$`` is ``$``, and a ``$`` naming nothing stays."""
    out: list[str] = []
    pos = 0
    while (dollar := template.find("$", pos)) >= 0:
        out.append(template[pos:dollar])
        after = template[dollar + 1 :]
        named = re.match(r"\$|\{(\w+)\}|(\w+)", after)
        if named is None:
            out.append("$")
            pos = dollar + 1
            continue
        name = named.group(1) or named.group(2)
        out.append("$" if name is None else match if name == "0" else "")
        pos = dollar + 1 + named.end()
    return "".join(out) + template[pos:]


def _is_space(char: str) -> bool:
    """Go's unicode.IsSpace: Python's isspace() less the ASCII separators 0x1c-0x1f."""
    return char.isspace() and not "\x1c" <= char <= "\x1f"


def _go_quote(text: str) -> str:
    """``text`` as Go's %q writes it."""
    return '"' + "".join(map(_go_quote_char, text)) + '"'


def _go_quote_char(char: str) -> str:
    if char in _GO_ESCAPES:
        return _GO_ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

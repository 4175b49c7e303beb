"""BuildKit's variable expansion: the cases of its lexer's own tables, and its messages."""

from __future__ import annotations

import pytest

from engine.build.shell_lex import ExpansionError, ShellLex
from engine.errors import InvalidArgumentError

ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": "", "FILE": "archive.tar.gz"}

ERROR = None  # the expected result of a word BuildKit refuses

# (word, what process_word makes of it with ENV)
WORDS = [
    # quotes and the escape character
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ("he'llo", ERROR),
    ("he\\'llo", "he'llo"),
    ("he\\\\'llo", ERROR),
    ("abc\\tdef", "abctdef"),
    ('"abc\\tdef"', "abc\\tdef"),
    ('"abc\\\\tdef"', "abc\\tdef"),
    ("'abc\\tdef'", "abc\\tdef"),
    ("hello\\", "hello"),
    ("hello\\\\", "hello\\"),
    ('"hello', ERROR),
    ('"hello\\"', ERROR),
    ('"hel\'lo"', "hel'lo"),
    ("'hello", ERROR),
    ("'hello\\'", "hello\\"),
    ("'hello\\there'", "hello\\there"),
    ("'hello\\\\there'", "hello\\\\there"),
    ("\"''\"", "''"),
    ("'\"hello\"'", '"hello"'),
    # $ with no name after it, positional and special parameters
    ("$.", "$."),
    ("$", "$"),
    ("he$.x", "he$.x"),
    ("$1", ""),
    ("he$1x", "hex"),
    ("he$12x", "hex"),
    ("a$?b", "ab"),
    ("a$$b", "ab"),
    ("a${#}b", "ab"),
    # plain variables
    ("he$pwd.", "he."),
    ("he$PWD", "he/home"),
    ("he$PWDx", "he"),
    ("he\\$PWD", "he$PWD"),
    ("he\\\\$PWD", "he\\/home"),
    ('"he\\$PWD"', "he$PWD"),
    ('"he\\\\$PWD"', "he\\/home"),
    ("'he\\$PWD'", "he\\$PWD"),
    ('"$PWD"', "/home"),
    ("'$PWD'", "$PWD"),
    ("\"he'$PWD'\"", "he'/home'"),
    ("he${hi}xx", "hexx"),
    ("he${PWD}", "he/home"),
    ("'he${XX}'", "he${XX}"),
    ('"he${PWD}"', "he/home"),
    # braces
    ("\\${}", "${}"),
    ("he\\${}xx", "he${}xx"),
    ("${}", ERROR),
    ("he${}xx", ERROR),
    ("he${.}", ERROR),
    ("${{aaa}", ERROR),
    ("${aaa}}", "}"),
    ("${aaa", ERROR),
    ("he${PWD", ERROR),
    ("${:}", ERROR),
    ("${:-bbb}", ERROR),
    ("${:+bbb}", ERROR),
    # defaults and alternatives, nested
    ("he${XXX:-000}xx", "he000xx"),
    ("he${PWD:-000}xx", "he/homexx"),
    ("he${XXX:-$PWD}xx", "he/homexx"),
    ("he${XXX:-${PWD:-yyy}}xx", "he/homexx"),
    ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
    ("he${XXX:YYY}", ERROR),
    ("he${XXX:+${PWD}}xx", "hexx"),
    ("he${PWD:+${XXX}}xx", "hexx"),
    ("he${PWD:+${SHELL}}xx", "hebashxx"),
    ("he${XXX:+000}xx", "hexx"),
    ("he${PWD:+000}xx", "he000xx"),
    ("he${PWD:=000}xx", ERROR),
    ("he${PWD=000}xx", ERROR),
    ("he${PWD:+${PWD}:}xx", "he/home:xx"),
    ("he${XXX:-\\$PWD:}xx", "he$PWD:xx"),
    ("he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"),
    ("${aaa:-bbb}}", "bbb}"),
    ("${aaa:-bbb", ERROR),
    ("${aaa:-bbb ${foo}", ERROR),
    ("${aaa:-bbb {foo}", "bbb {foo"),
    ("${aaa:-'}'}", "}"),
    ('${aaa:-"a}b"}', "a}b"),
    # set but empty is not unset, except after ":"
    ("${NULL-x}", ""),
    ("${NULL:-x}", "x"),
    ("${XXX-x}", "x"),
    ("${NULL+x}", "x"),
    ("${NULL:+x}", ""),
    ("${XXX+x}", ""),
    ("${PWD?oops}", "/home"),
    ("${PWD:?oops}", "/home"),
    ("${NULL?oops}", ""),
    ("${NULL:?oops}", ERROR),
    ("${XXX?oops}", ERROR),
    ("${XXX:?}", ERROR),
    # prefixes and suffixes removed: shortest, or longest with the operator doubled
    ("${FILE#*.}", "tar.gz"),
    ("${FILE##*.}", "gz"),
    ("${FILE%.*}", "archive.tar"),
    ("${FILE%%.*}", "archive"),
    ("${FILE#arch}", "ive.tar.gz"),
    ("${FILE#nope}", "archive.tar.gz"),
    ("${FILE%?z}", "archive.tar."),
    ("${FILE#}", "archive.tar.gz"),
    ("${FILE%%}", "archive.tar.gz"),
    ("${FILE:#*.}", "tar.gz"),
    ("${PWD#$XXX}", "/home"),
    ("${PWD#/$SHELL}", "/home"),
    ("${XXX#*}", ""),
    ("${PWD#\\q}", ERROR),
    # substitution: the first match, or every one with "//"; patterns greedy
    ("${FILE/a/A}", "Archive.tar.gz"),
    ("${FILE//a/A}", "Archive.tAr.gz"),
    ("${FILE/.*/}", "archive"),
    ("${FILE//?/x}", "x" * 14),
    ("${FILE/nope/x}", "archive.tar.gz"),
    ("${FILE///}", "archive.tar.gz"),
    ("${PWD//\\//:}", ":home"),
    ("${PWD//o/\\/}", "/h\\/me"),
    ("${XXX/a/b}", ""),
    ("${FILE//}", ERROR),
    ("${FILE//a}", ERROR),
    ("${FILE/a/b", ERROR),
    # Unicode: in words, in values, in names
    ("안녕하세요", "안녕하세요"),
    ("안'녕'하세요", "안녕하세요"),
    ("안'녕하세요", ERROR),
    ("안녕\\'하세요", "안녕'하세요"),
    ("안\\\\'녕하세요", ERROR),
    ('"안녕\\t하세요"', "안녕\\t하세요"),
    ("안녕하세요\\", "안녕하세요"),
    ("안녕$1x", "안녕x"),
    ("안녕${XXX:-${YYY:-yyy}}xx", "안녕yyyxx"),
    ("$KOREAN", "한국어"),
    ("안녕$KOREAN", "안녕한국어"),
    ("$PWD안녕", ""),
    ("${KOREAN#한}", "국어"),
]


@pytest.mark.parametrize(("word", "expected"), WORDS)
def test_process_word(word: str, expected: str | None) -> None:
    lex = ShellLex()
    if expected is ERROR:
        with pytest.raises(ExpansionError):
            lex.process_word(word, ENV)
    else:
        assert lex.process_word(word, ENV) == expected


WORDS_ENV = {"hi": "hi", "space": "abc  def", "leading": "  ab c", "trailing": "ab c   "}

# (word, what process_words makes of it with WORDS_ENV)
FIELDS = [
    ("hello", ["hello"]),
    ("hello${hi}bye", ["hellohibye"]),
    ("hello${none}bye", ["hellobye"]),
    ("hello${space}bye", ["helloabc", "defbye"]),
    ('hello"${space}"bye', ["helloabc  defbye"]),
    ('hello "${space}"bye', ["hello", "abc  defbye"]),
    ("hello${leading}def", ["hello", "ab", "cdef"]),
    ('hello"${leading}" def', ["hello  ab c", "def"]),
    ('hello"${leading}"', ["hello  ab c"]),
    ("hello${leading}", ["hello", "ab", "c"]),
    ("hello${trailing}", ["helloab", "c"]),
    ("hello${trailing}d", ["helloab", "c", "d"]),
    ('hello"${trailing}"d', ["helloab c   d"]),
    ('hel"lo${trailing}"', ["helloab c   "]),
    ('hello" there  "', ["hello there  "]),
    ("hello there     ", ["hello", "there"]),
    ("  hello \t there ", ["hello", "there"]),
    ("hello\\ there", ["hello there"]),
    ('hello\\" there', ['hello"', "there"]),
    ('hello"\\\\there"', ["hello\\there"]),
    ('hello"\\there"', ["hello\\there"]),
    ("hello'\\\\there'", ["hello\\\\there"]),
    ("hello'$there'", ["hello$there"]),
    ('a "" b', ["a", "b"]),
    ("''", []),
    ("   ", []),
    ("a\\ ", ["a "]),
    ("${x:-a b}", ["a", "b"]),
    ('${x:-"a b"}', ["a", "b"]),  # the default's quotes are gone before it splits
    ('"${x:-a b}"', ["a b"]),
    ("a\u00a0b", ["a", "b"]),  # Go's IsSpace: no-break space separates...
    ("a\x1cb", ["a\x1cb"]),  # ...the ASCII separators do not
    ("80/tcp 443", ["80/tcp", "443"]),
]


@pytest.mark.parametrize(("word", "expected"), FIELDS)
def test_process_words(word: str, expected: list[str]) -> None:
    assert ShellLex().process_words(word, WORDS_ENV) == expected


def test_process_words_refuses_what_process_word_refuses() -> None:
    with pytest.raises(ExpansionError, match="double-quote"):
        ShellLex().process_words('hello" there', WORDS_ENV)


def test_process_word_keeps_whitespace() -> None:
    assert ShellLex().process_word("a  ${space} b", WORDS_ENV) == "a  abc  def b"


# (word, env, result, the names of env it used)
MATCHES = [
    ("x", {"DUMMY": "dummy"}, "x", set()),
    ("x ${UNUSED}", {"DUMMY": "dummy"}, "x ", set()),
    ("x ${FOO}", {"FOO": "y"}, "x y", {"FOO"}),
    ("x $FOO", {"FOO": "y"}, "x y", {"FOO"}),
    ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx  ccc", {"FOO", "BAR"}),
    (
        "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}",
        {"FOO": "xxx", "BAR": ""},
        "xxx bbb ccc",
        {"FOO", "BAR"},
    ),
    ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa bbb ", {"FOO", "BAR"}),
    ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa  ", {"FOO", "BAR"}),
    ("${FOO:-}", {"FOO": "xxx", "BAR": ""}, "xxx", {"FOO"}),
    ("${FOO:-}", {}, "", set()),
    ("${BAR?bbb}", {"FOO": "xxx", "BAR": ""}, "", {"BAR"}),
    ("${A:-$B}", {"B": "b"}, "b", {"B"}),
    ("${A:-$B}", {"A": "a", "B": "b"}, "a", {"A", "B"}),  # the default expands all the same
    ("'$A' \\$A", {"A": "a"}, "$A $A", set()),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy", {"FOO", "BAR"}),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy", {"FOO", "BAR"}),
    ("${FOO#*x*y}", {"FOO": "xxyy"}, "y", {"FOO"}),
    ("${FOO#*}", {"FOO": "xxyy"}, "xxyy", {"FOO"}),
    ("${FOO##*x}", {"FOO": "xxyy"}, "yy", {"FOO"}),
    ("${FOO#?\\?}", {"FOO": "???y"}, "?y", {"FOO"}),
    ("${FOO%%\\**}", {"FOO": "xx**"}, "xx", {"FOO"}),
    ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a", {"FOO"}),
    ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x", {"FOO"}),
    ("${ABC:-.}${FOO%x}${ABC:-.}", {"FOO": "xxyy"}, ".xxyy.", {"FOO"}),
    ("${FOO%%$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy", {"FOO", "BAR"}),
    (
        "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
        {"FOO": "/foo*/*/*.txt", "NEEDLE": "\\*/"},
        "/foo.*/*.txt - /foo..*.txt",
        {"FOO", "NEEDLE"},
    ),
    (
        "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
        {"FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"},
        "/tmp/bar.txt - /bar.txt",
        {"FOO", "NEEDLE"},
    ),
    (
        "${FOO/$NEEDLE/$TO} - ${FOO//$NEEDLE/$TO}",
        {"FOO": "/a/foo/b/c.txt", "NEEDLE": "/?/", "TO": "/"},
        "/foo/b/c.txt - /foo/c.txt",
        {"FOO", "NEEDLE", "TO"},
    ),
    (
        "${FOO/$N/$TO}",
        {"FOO": "http://x.de", "N": "http://", "TO": "https://"},
        "https://x.de",
        {"FOO", "N", "TO"},
    ),
    ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt", {"FOO"}),
    ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy", {"FOO", "BAR"}),
    ("${FOO///}", {"FOO": "xxyy"}, "xxyy", {"FOO"}),
    ("${FOO///}", {}, "", set()),
]


@pytest.mark.parametrize(("word", "env", "result", "used"), MATCHES)
def test_process_word_with_matches(word: str, env: dict, result: str, used: set[str]) -> None:
    assert ShellLex().process_word_with_matches(word, env) == (result, used)


@pytest.mark.parametrize(
    ("variant", "result"),
    [("v7", "something-v1.2.3.linux-arm-v7.tar.gz"), ("", "something-v1.2.3.linux-arm.tar.gz")],
)
def test_optional_part_of_a_release_name(variant: str, result: str) -> None:
    word = "something-${VERSION}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tar.gz"
    env = {"VERSION": "v1.2.3", "OS": "linux", "ARCH": "arm", "VARIANT": variant}
    assert ShellLex().process_word(word, env) == result
    del env["VARIANT"]
    assert ShellLex().process_word(word, env) == "something-v1.2.3.linux-arm.tar.gz"


# (word, BuildKit's message)
MESSAGES = [
    ("${XXX:?is required}", 'failed to process "${XXX:?is required}": XXX: is required'),
    ("${XXX?}", 'failed to process "${XXX?}": XXX: is not allowed to be unset'),
    ("${NULL:?}", 'failed to process "${NULL:?}": NULL: is not allowed to be empty'),
    ("${XXX:?need $SHELL}", 'failed to process "${XXX:?need $SHELL}": XXX: need bash'),
    ("${a", "failed to process \"${a\": syntax error: missing '}'"),
    ("${", "failed to process \"${\": syntax error: missing '}'"),
    ("${a:-b", "failed to process \"${a:-b\": syntax error: missing '}'"),
    ("${a:-'b}", "failed to process \"${a:-'b}\": syntax error: missing '}'"),
    ("${}", 'failed to process "${}": syntax error: bad substitution'),
    ("${a:=b}", 'failed to process "${a:=b}": unsupported modifier (:=) in substitution'),
    ("${a=b}", 'failed to process "${a=b}": unsupported modifier (=) in substitution'),
    ("${a/b}", "failed to process \"${a/b}\": syntax error: missing '/' in ${}"),
    (
        "'abc",
        'failed to process "\'abc": '
        "unexpected end of statement while looking for matching single-quote",
    ),
    (
        '"abc',
        'failed to process "\\"abc": '
        "unexpected end of statement while looking for matching double-quote",
    ),
    (
        "${PWD#\\q}",
        'failed to process "${PWD#\\\\q}": invalid pattern (\\q) in substitution: '
        "invalid escape '\\q'",
    ),
    (
        "${PWD%ab\\q}",  # the suffix's pattern is shown reversed, as BuildKit matches it
        'failed to process "${PWD%ab\\\\q}": invalid pattern (\\qba) in substitution: '
        "invalid escape '\\q'",
    ),
    ("${a\t", 'failed to process "${a\\t": unsupported modifier (\t) in substitution'),
]


@pytest.mark.parametrize(("word", "message"), MESSAGES)
def test_error_messages(word: str, message: str) -> None:
    with pytest.raises(ExpansionError) as caught:
        ShellLex().process_word(word, ENV)
    assert str(caught.value) == message
    assert isinstance(caught.value, InvalidArgumentError)


def test_an_error_inside_a_default_is_not_masked() -> None:
    with pytest.raises(ExpansionError, match=r"B: is not allowed to be unset$"):
        ShellLex().process_word("${A:-${B?}}", {})


def test_backtick_escape() -> None:
    lex = ShellLex("`")
    assert lex.process_word("he`$PWD", ENV) == "he$PWD"
    assert lex.process_word("he\\$PWD", ENV) == "he\\/home"
    assert lex.process_word('"a`"b"', ENV) == 'a"b'
    assert lex.process_word('"C:\\dir\\$PWD"', ENV) == "C:\\dir\\/home"
    assert lex.process_words("C:\\a` b c", ENV) == ["C:\\a b", "c"]
    assert lex.process_word("end`", ENV) == "end"


def test_names_are_unicode_letters_and_digits() -> None:
    # Go's unicode.IsLetter and IsDigit, not just ASCII
    assert ShellLex().process_word("$안녕_1!", {"안녕_1": "hi"}) == "hi!"
    assert (
        ShellLex().process_word("$\u0661\u0662x", {"\u0661\u0662": "arabic digits"})
        == "arabic digitsx"
    )


def test_special_parameters_are_looked_up_like_variables() -> None:
    assert ShellLex().process_word_with_matches("$? ${#}", {"?": "0", "#": "2"}) == (
        "0 2",
        {"?", "#"},
    )


def test_replace_all_follows_go() -> None:
    lex = ShellLex()
    # no empty match right after a match, as Go's ReplaceAllString
    assert lex.process_word("${A//*/r}", {"A": "abc"}) == "r"
    assert lex.process_word("${A//*/r}", {"A": ""}) == "r"
    # "//" expands the replacement as a Go template ($0: the match); "/" does not
    assert lex.process_word("${A//b/'$0$0'}", {"A": "abc"}) == "abbc"
    assert lex.process_word("${A//b/'$$x${1}'}", {"A": "abc"}) == "a$xc"
    assert lex.process_word("${A//b/'$ ${'}", {"A": "abc"}) == "a$ ${c"
    assert lex.process_word("${A/b/'$0'}", {"A": "abc"}) == "a$0c"


def test_quotes_do_not_make_a_pattern_literal() -> None:
    # BuildKit removes them before it reads the pattern, unlike a shell
    assert ShellLex().process_word('${A#"*"}', {"A": "abc"}) == "abc"
    assert ShellLex().process_word('${A##"*"}', {"A": "abc"}) == ""


def test_go_quoting_in_messages() -> None:
    with pytest.raises(ExpansionError) as caught:
        ShellLex().process_word("é\n\x00${", {})
    assert str(caught.value) == "failed to process \"é\\n\\x00${\": syntax error: missing '}'"

"""The Dockerfile parser: BuildKit's reading of lines, forms, heredocs, and its error messages."""

import pytest

from engine.build import dockerfile as df
from engine.errors import InvalidArgumentError


def instructions(text: str) -> tuple[df.Instruction, ...]:
    return df.parse(text).instructions


def only(text: str) -> df.Instruction:
    (instruction,) = instructions(text)
    return instruction


def typed(text: str) -> df.Command:
    return df.command(only(text))


def parse_error(text: str) -> df.DockerfileError:
    with pytest.raises(df.DockerfileError) as caught:
        df.stages(df.parse(text))
    return caught.value


# -- lines, comments and continuations -----------------------------------------------------


def test_keywords_are_case_insensitive_and_may_be_indented() -> None:
    first, second = instructions("from alpine\n   Run echo hi\n")
    assert (first.keyword, first.args) == ("FROM", ("alpine",))
    assert (second.keyword, second.args, second.line) == ("RUN", ("echo hi",), 2)
    assert second.original == "Run echo hi"


def test_continuations_join_lines_and_keep_later_lines_leading_blanks() -> None:
    run = only("RUN echo a \\\n    b \\\n  c\n")
    assert run.args == ("echo a     b   c",)
    assert (run.line, run.end_line) == (1, 3)
    assert run.original == "RUN echo a     b   c"


def test_a_comment_inside_a_continuation_is_dropped() -> None:
    assert only("RUN echo c\\\n# note\n  # indented note\nd\n").args == ("echo cd",)


def test_a_blank_line_inside_a_continuation_is_skipped_with_buildkits_warning() -> None:
    parsed = df.parse("FROM a\nRUN apk add \\\n\n    curl\n")
    assert parsed.instructions[1].args == ("apk add     curl",)
    assert parsed.warnings == ("Empty continuation line found in: RUN apk add     curl",)


def test_blanks_after_the_escape_still_continue_but_an_escaped_escape_does_not() -> None:
    first, second, third = instructions("ENV A x \\  \t\n  y\nENV C trail\\\\\nENV D z\n")
    assert first.args == ("A", "x   y")
    assert second.args == ("C", "trail\\\\")
    assert (second.line, third.line) == (3, 4)


def test_a_continuation_at_the_end_of_the_file_ends_the_instruction() -> None:
    assert only("RUN echo \\").args == ("echo",)


def test_crlf_line_endings_and_a_byte_order_mark() -> None:
    first, second = instructions("\ufeffFROM a\r\nRUN echo \\\r\n  hi\r\n")
    assert first.args == ("a",)
    assert second.args == ("echo   hi",)


def test_a_hash_after_the_keyword_is_part_of_the_arguments() -> None:
    assert only("RUN echo hi # not a comment\n").args == ("echo hi # not a comment",)


def test_an_unknown_keyword_parses_and_fails_as_a_command_with_a_suggestion() -> None:
    runn = instructions("FROM a\n\nRUNN make\n")[1]
    assert (runn.keyword, runn.args, runn.line) == ("RUNN", (), 3)
    with pytest.raises(df.DockerfileError) as caught:
        df.command(runn)
    assert str(caught.value) == (
        "dockerfile parse error on line 3: unknown instruction: RUNN (did you mean RUN?)"
    )
    assert caught.value.line == 3
    assert isinstance(caught.value, InvalidArgumentError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("copyy a b", "unknown instruction: copyy (did you mean copy?)"),
        ("Workdirr /x", "unknown instruction: Workdirr (did you mean workdir?)"),
        ("FOOBAR x", "unknown instruction: FOOBAR"),
    ],
)
def test_unknown_instruction_suggestions_follow_the_case_written(text: str, message: str) -> None:
    assert str(parse_error(f"FROM a\n{text}\n")) == f"dockerfile parse error on line 2: {message}"


def test_an_empty_file_and_a_file_of_comments_are_refused() -> None:
    with pytest.raises(df.DockerfileError, match=r"^the Dockerfile cannot be empty$"):
        df.parse("")
    with pytest.raises(df.DockerfileError) as caught:
        df.parse("# just a comment\n\n   # another\n")
    assert (str(caught.value), caught.value.line) == ("file with no instructions", None)


# -- parser directives ---------------------------------------------------------------------


def test_directives_at_the_top_are_recorded_with_case_insensitive_names() -> None:
    parsed = df.parse("# SYNTAX = docker/dockerfile:1.7 \n#check=skip=all\nFROM a\n")
    assert parsed.directives == df.Directives("\\", "docker/dockerfile:1.7", "skip=all")


def test_escape_backtick_for_windows_paths() -> None:
    text = "# escape=`\nFROM windows\nCOPY test.txt c:\\\nRUN dir c:\\ `\n    /b\nENV P C:\\x\n"
    parsed = df.parse(text)
    assert parsed.directives.escape == "`"
    _, copy, run, env = parsed.instructions
    assert copy.args == ("test.txt", "c:\\")
    assert (run.args, run.line, run.end_line) == (("dir c:\\     /b",), 4, 5)
    assert env.args == ("P", "C:\\x")


@pytest.mark.parametrize(
    "text",
    [
        "# a comment first\n# escape=`\nFROM a\nRUN x `\n",
        "\n# escape=`\nFROM a\nRUN x `\n",
        "# unknown=1\n# escape=`\nFROM a\nRUN x `\n",
    ],
)
def test_a_directive_after_any_other_line_is_a_comment(text: str) -> None:
    parsed = df.parse(text)
    assert parsed.directives == df.Directives("\\", None, None)
    assert parsed.instructions[1].args == ("x `",)


def test_an_indented_directive_still_counts() -> None:
    assert df.parse("   # escape=`\nFROM a\n").directives.escape == "`"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# escape=\\\n# Escape=`\nFROM a\n", "only one escape parser directive can be used"),
        ("# syntax=a\n# syntax=b\nFROM a\n", "only one syntax parser directive can be used"),
        ("# escape=x\nFROM a\n", "invalid escape token 'x' does not match ` or \\"),
    ],
)
def test_directive_errors(text: str, message: str) -> None:
    with pytest.raises(df.DockerfileError) as caught:
        df.parse(text)
    assert str(caught.value).endswith(f": {message}")
    assert caught.value.line == text.count("\n", 0, text.index("FROM"))


# -- exec (JSON) form and shell form -------------------------------------------------------


def test_json_form_gives_the_array_items() -> None:
    run = only('RUN ["/bin/sh", "-c", "echo \\"hi\\""]\n')
    assert (run.args, run.json) == (("/bin/sh", "-c", 'echo "hi"'), True)
    assert typed("CMD []\n") == df.CmdCommand(only("CMD []\n"), (), True)


@pytest.mark.parametrize(
    "text",
    ['CMD ["echo","hi"] # c', "ENTRYPOINT ['a','b']", 'RUN ["c:\\x"]', "RUN [NaN]", "RUN [1,"],
)
def test_invalid_json_falls_back_to_shell_form(text: str) -> None:
    instruction = only(text + "\n")
    assert (instruction.args, instruction.json) == ((text.split(" ", 1)[1],), False)


def test_a_json_array_of_non_strings_is_an_error() -> None:
    with pytest.raises(df.DockerfileError) as caught:
        df.parse('FROM a\nRUN ["a", 1]\n')
    assert str(caught.value) == (
        "dockerfile parse error on line 2: "
        "when using JSON array syntax, arrays must be comprised of strings only"
    )


def test_copy_and_volume_take_json_or_blank_separated_words() -> None:
    assert only('COPY ["a b", "/c d/"]\n').args == ("a b", "/c d/")
    assert only("COPY  a\tb   /c/\n").args == ("a", "b", "/c/")
    assert typed("VOLUME /a /b\n").paths == ("/a", "/b")
    assert typed('VOLUME ["/data"]\n').paths == ("/data",)


# -- flags ---------------------------------------------------------------------------------


def test_flags_are_taken_from_the_front_with_quotes_resolved() -> None:
    run = only('RUN --mount=type=bind,source="a b" --network=none echo --not-a-flag\n')
    assert run.flags == ("--mount=type=bind,source=a b", "--network=none")
    assert run.args == ("echo --not-a-flag",)


def test_a_double_dash_ends_the_flags() -> None:
    copy = typed("COPY --chown=1 -- --odd-name /dst\n")
    assert (copy.chown, copy.sources, copy.dest) == ("1", ("--odd-name",), "/dst")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("COPY --form=x a b", "unknown flag: --form (did you mean from?)"),
        ("RUN --foo=bar make", "unknown flag: --foo"),
        ("ADD --from=x a b", "unknown flag: --from"),
        ("ADD --parents a b", "unknown flag: --parents"),
        ("COPY --from=a --from=b x y", "duplicate flag specified: --from"),
        ("COPY --from x y", "missing a value on flag: --from"),
        ("COPY --link= x y", "missing a value on flag: --link"),
        ("COPY --link=maybe x y", "expecting boolean value for flag --link, not: maybe"),
        ("ENV --x=1 a=b", "unknown flag: --x"),
    ],
)
def test_flag_errors(text: str, message: str) -> None:
    assert str(parse_error(f"FROM a\n{text}\n")) == f"dockerfile parse error on line 2: {message}"


def test_bool_flags() -> None:
    assert typed("COPY --link a b\n").link is True
    assert typed("COPY --link=FALSE a b\n").link is False
    assert typed("COPY --link=true a b\n").link is True


def test_arg_and_stopsignal_ignore_flags_as_buildkit_does() -> None:
    assert typed("ARG --anything x\n").pairs == (("x", None),)
    assert typed("STOPSIGNAL --x SIGKILL\n").signal == "SIGKILL"


# -- ENV, LABEL, ARG -----------------------------------------------------------------------


def test_env_pairs_keep_quotes_and_escapes_for_the_expansion() -> None:
    env = typed("ENV a=b c=\"d e\" f='g h' i=j\\ k\n")
    assert env.pairs == (("a", "b"), ("c", '"d e"'), ("f", "'g h'"), ("i", "j\\ k"))


def test_env_legacy_form_takes_the_rest_of_the_line() -> None:
    env = typed('ENV GREETING hello "big" world\n')
    assert env.pairs == (("GREETING", 'hello "big" world'),)


def test_env_with_an_escaped_quote_inside_double_quotes() -> None:
    assert typed('ENV a="x \\" y" b=1\n').pairs == (("a", '"x \\" y"'), ("b", "1"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ENV a", "ENV must have two arguments"),
        ("LABEL a", "LABEL must have two arguments"),
        (
            "ENV a=b c",
            'Syntax error - can\'t find = in "c". Must be of the form: name=value',
        ),
        ("ENV =x", "ENV names can not be blank"),
        ("ENV", "ENV requires at least one argument"),
        ("ARG", "ARG requires at least one argument"),
        ("ARG =x", "ARG names can not be blank"),
    ],
)
def test_key_value_errors(text: str, message: str) -> None:
    assert str(parse_error(f"FROM a\n{text}\n")) == f"dockerfile parse error on line 2: {message}"


def test_label_both_forms() -> None:
    assert typed('LABEL a.b="c d" e=f\n').pairs == (("a.b", '"c d"'), ("e", "f"))
    assert typed("LABEL maintainer me@example.com\n").pairs == (("maintainer", "me@example.com"),)


def test_arg_takes_several_names_with_or_without_defaults() -> None:
    arg = typed('ARG A B=2 C="x y" D=\n')
    assert arg.pairs == (("A", None), ("B", "2"), ("C", '"x y"'), ("D", ""))


# -- the other instructions ----------------------------------------------------------------


def test_from_with_platform_and_a_lower_cased_stage_name() -> None:
    start = typed("FROM --platform=$BUILDPLATFORM ${IMAGE}:1 AS Builder\n")
    assert (start.base, start.name, start.platform) == ("${IMAGE}:1", "builder", "$BUILDPLATFORM")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "FROM a AS 1st",
            'invalid name for build stage: "1st", name can\'t start with a '
            "number or contain symbols",
        ),
        ("FROM a AS", "FROM requires either one or three arguments"),
        ("FROM", "FROM requires either one or three arguments"),
        ("FROM a b c", "FROM requires either one or three arguments"),
        ("FROM --platfrom=x a", "unknown flag: --platfrom (did you mean platform?)"),
        ("FROM --plat=x a", "unknown flag: --plat"),
    ],
)
def test_from_errors(text: str, message: str) -> None:
    assert str(parse_error(text + "\n")) == f"dockerfile parse error on line 1: {message}"


def test_run_shell_form_with_mounts_network_and_security() -> None:
    run = typed(
        "RUN --mount=type=cache,target=/c --mount=type=secret,id=s --network=host "
        "--security=insecure make all\n"
    )
    assert run.cmd == ("make all",)
    assert run.json is False
    assert run.mounts == ("type=cache,target=/c", "type=secret,id=s")
    assert (run.network, run.security) == ("host", "insecure")
    assert (typed("RUN x\n").network, typed("RUN x\n").security) == (None, None)


def test_run_exec_form() -> None:
    run = typed('RUN ["echo", "$HOME"]\n')
    assert (run.cmd, run.json) == (("echo", "$HOME"), True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RUN --network=bridge x", 'invalid network mode "bridge"'),
        ("RUN --security=root x", 'security "root" is not valid'),
    ],
)
def test_run_flag_values_are_checked(text: str, message: str) -> None:
    assert str(parse_error(f"FROM a\n{text}\n")) == f"dockerfile parse error on line 2: {message}"


def test_cmd_and_entrypoint_shell_form() -> None:
    assert typed("CMD echo $HOME\n") == df.CmdCommand(
        only("CMD echo $HOME\n"), ("echo $HOME",), False
    )
    entrypoint = typed('ENTRYPOINT ["/init", "--"]\n')
    assert (entrypoint.cmd, entrypoint.json) == (("/init", "--"), True)


def test_shell_requires_json_form() -> None:
    assert typed('SHELL ["pwsh", "-c"]\n').shell == ("pwsh", "-c")
    assert str(parse_error("FROM a\nSHELL /bin/bash -c\n")).endswith(
        "line 2: SHELL requires the arguments to be in JSON form"
    )
    assert str(parse_error("FROM a\nSHELL []\n")).endswith("SHELL requires at least one argument")


def test_expose_sorts_its_ports_as_buildkit_does() -> None:
    assert typed("EXPOSE 8080 443/tcp 53/udp\n").ports == ("443/tcp", "53/udp", "8080")
    assert str(parse_error("FROM a\nEXPOSE\n")).endswith("EXPOSE requires at least one argument")


def test_volume_refuses_an_empty_path() -> None:
    assert str(parse_error('FROM a\nVOLUME ["/a", " "]\n')).endswith(
        "line 2: VOLUME specified can not be an empty string"
    )


def test_single_argument_instructions_take_the_rest_of_the_line() -> None:
    assert typed("WORKDIR /my app\n").path == "/my app"
    assert typed("USER app:staff\n").user == "app:staff"
    assert typed("STOPSIGNAL SIGQUIT\n").signal == "SIGQUIT"
    assert typed("MAINTAINER Jane Doe <jane@example.com>\n").name == "Jane Doe <jane@example.com>"


@pytest.mark.parametrize("keyword", ["WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"])
def test_single_argument_instructions_need_their_argument(keyword: str) -> None:
    assert str(parse_error(f"FROM a\n{keyword}\n")) == (
        f"dockerfile parse error on line 2: {keyword} requires exactly one argument"
    )


def test_copy_with_every_flag() -> None:
    copy = typed(
        "COPY --from=build --chown=app:app --chmod=644 --link --parents "
        "--exclude=*.md --exclude=tests a/./b c /dst/\n"
    )
    assert copy.sources == ("a/./b", "c")
    assert copy.dest == "/dst/"
    assert (copy.from_, copy.chown, copy.chmod) == ("build", "app:app", "644")
    assert (copy.link, copy.parents, copy.excludes, copy.heredocs) == (
        True, True, ("*.md", "tests"), ()
    )  # fmt: skip


def test_copy_without_flags_has_none_set() -> None:
    copy = typed("COPY a /b\n")
    assert (copy.from_, copy.chown, copy.chmod, copy.link, copy.parents) == (
        None, None, None, False, False
    )  # fmt: skip


def test_add_with_its_flags() -> None:
    add = typed(
        "ADD --checksum=sha256:abc --keep-git-dir=true --chown=1 --exclude=x "
        "https://example.com/a.tgz /a/\n"
    )
    assert (add.sources, add.dest) == (("https://example.com/a.tgz",), "/a/")
    assert (add.checksum, add.keep_git_dir, add.chown, add.excludes) == (
        "sha256:abc", True, "1", ("x",)
    )  # fmt: skip


@pytest.mark.parametrize("keyword", ["COPY", "ADD"])
def test_copy_and_add_need_a_destination(keyword: str) -> None:
    assert str(parse_error(f"FROM a\n{keyword} --bogus=1 onlyone\n")) == (
        f"dockerfile parse error on line 2: {keyword} requires at least two arguments, "
        "but only one was provided. Destination could not be determined"
    )


def test_healthcheck_none() -> None:
    check = typed("HEALTHCHECK --interval=1s NONE\n")
    assert check == df.HealthcheckCommand(check.instruction, ("NONE",), 0, 0, 0, 0, 0)
    assert str(parse_error("FROM a\nHEALTHCHECK NONE x\n")).endswith(
        "HEALTHCHECK NONE takes no arguments"
    )


def test_healthcheck_cmd_with_its_options_in_nanoseconds() -> None:
    check = typed(
        "HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=1.5s "
        "--start-interval=2s --retries=3 CMD curl -f http://localhost/ || exit 1\n"
    )
    assert check.test == ("CMD-SHELL", "curl -f http://localhost/ || exit 1")
    assert (check.interval, check.timeout, check.start_period) == (
        90 * 10**9,
        5 * 10**8,
        15 * 10**8,
    )
    assert (check.start_interval, check.retries) == (2 * 10**9, 3)
    assert typed('HEALTHCHECK cmd ["curl", "-f", "x"]\n').test == ("CMD", "curl", "-f", "x")


@pytest.mark.parametrize(
    ("value", "nanoseconds"),
    [
        ("0", 0),
        ("1h", 3600 * 10**9),
        ("1.5m", 90 * 10**9),
        ("1500us", 15 * 10**5),
        ("2h45m", 9900 * 10**9),
        ("+.5s", 5 * 10**8),
    ],
)
def test_go_durations(value: str, nanoseconds: int) -> None:
    assert typed(f"HEALTHCHECK --timeout={value} CMD x\n").timeout == nanoseconds


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--interval=30", 'time: missing unit in duration "30"'),
        ("--interval=5x", 'time: unknown unit "x" in duration "5x"'),
        ("--interval=abc", 'time: invalid duration "abc"'),
        ("--timeout=500us", 'Interval "timeout" cannot be less than 1ms'),
        ("--timeout=-1s", 'Interval "timeout" cannot be less than 1ms'),
        ("--retries=-1", "--retries cannot be negative (-1)"),
        ("--retries=three", 'strconv.ParseInt: parsing "three": invalid syntax'),
        ("--retries=9999999999", 'strconv.ParseInt: parsing "9999999999": value out of range'),
    ],
)
def test_healthcheck_option_errors(flag: str, message: str) -> None:
    assert str(parse_error(f"FROM a\nHEALTHCHECK {flag} CMD x\n")) == (
        f"dockerfile parse error on line 2: {message}"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK foo x", 'Unknown type "FOO" in HEALTHCHECK (try CMD)'),
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ],
)
def test_healthcheck_errors(text: str, message: str) -> None:
    assert str(parse_error(f"FROM a\n{text}\n")) == f"dockerfile parse error on line 2: {message}"


def test_onbuild_keeps_its_trigger_text() -> None:
    onbuild = typed("  onbuild  COPY --from=x . /app\n")
    assert onbuild.instruction.args == ("COPY", ".", "/app")
    assert onbuild.expression == "COPY --from=x . /app"


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ("ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("maintainer me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("", "ONBUILD requires at least one argument"),
    ],
)
def test_onbuild_refuses_some_triggers(trigger: str, message: str) -> None:
    assert str(parse_error(f"FROM a\nONBUILD {trigger}\n")) == (
        f"dockerfile parse error on line 2: {message}"
    )


# -- heredocs ------------------------------------------------------------------------------


def test_a_run_heredoc_is_the_script() -> None:
    _, run, last = instructions("FROM a\nRUN <<EOF\nset -e\n  echo $HOME\nEOF\nUSER x\n")
    assert run.args == ("<<EOF",)
    assert (run.line, run.end_line, last.line) == (2, 5, 6)
    assert run.heredocs == (df.Heredoc("EOF", "set -e\n  echo $HOME\n", True, False),)
    command = df.command(run)
    assert command.shell_command() == "set -e\n  echo $HOME\n"
    assert command.executable_heredoc() is None


def test_a_heredoc_starting_with_a_shebang_runs_as_a_file() -> None:
    run = typed("RUN <<PY\n#!/usr/bin/env python3\nprint(1)\nPY\n")
    assert run.executable_heredoc() == run.heredocs[0]
    assert run.shell_command() == "/dev/pipes/PY"


def test_a_heredoc_fed_to_a_command_is_left_for_the_shell() -> None:
    run = typed("RUN python3 <<EOF > /out\nprint(1)\nEOF\n")
    assert run.cmd == ("python3 <<EOF > /out",)
    assert run.shell_command() == "python3 <<EOF > /out\nprint(1)\nEOF"
    assert run.executable_heredoc() is None


def test_several_heredocs_on_one_line_are_read_in_order() -> None:
    copy = typed("COPY <<X <<Y /dest/\nY\nX\nX\nY\n")
    assert copy.sources == ()
    assert copy.heredocs == (
        df.Heredoc("X", "Y\n", True, False),
        df.Heredoc("Y", "X\n", True, False),
    )
    assert copy.instruction.end_line == 5


def test_copy_mixes_files_and_heredocs() -> None:
    copy = typed("COPY a.txt <<conf /etc/app/\nkey=$VALUE\nconf\n")
    assert (copy.sources, copy.dest) == (("a.txt",), "/etc/app/")
    assert copy.heredocs == (df.Heredoc("conf", "key=$VALUE\n", True, False),)


def test_chomped_heredoc_strips_leading_tabs_from_body_and_delimiter() -> None:
    run = only("RUN <<-EOT\n\t\tif x; then\n\t  y\n\tfi\n\t\tEOT\n")
    assert run.heredocs == (df.Heredoc("EOT", "if x; then\n  y\nfi\n", True, True),)


@pytest.mark.parametrize(
    ("marker", "name", "expand"),
    [
        ("<<eof", "eof", True),
        ("<<'eof'", "eof", False),
        ('<<"eof"', "eof", False),
        ("<<eo'f'", "eof", False),
        ("<<eo\\'f", "eo'f", True),
        ("<<'e'o\\'f", "eo'f", False),
        ("<<  eof", "eof", True),
        ("<<-'eof'", "eof", False),
        ("3<<eof", "eof", True),
    ],
)
def test_heredoc_delimiters_and_whether_they_expand(marker: str, name: str, expand: bool) -> None:
    (doc,) = only(f"RUN cat {marker}\nbody\n{name}\n").heredocs
    assert (doc.name, doc.expand, doc.content) == (name, expand, "body\n")


def test_crlf_heredoc_bodies_are_kept_verbatim() -> None:
    (doc,) = only("RUN <<EOF\r\necho hi\r\nEOF\r\n").heredocs
    assert doc.content == "echo hi\r\n"


@pytest.mark.parametrize(
    "text",
    [
        'RUN ["cat", "<<EOF"]\nEOF\n',  # JSON form
        'RUN echo "<<EOF"\nEOF\n',  # a quoted marker
        "RUN echo '<<EOF'\nEOF\n",
        "ENV A <<EOF\nEOF\n",  # only RUN, COPY and ADD have heredocs
        "RUN cat<<EOF\nEOF\n",  # << must start a word
        'RUN echo "unclosed <<EOF\nEOF\n',  # a line the lexer cannot split
    ],
)
def test_no_heredoc_where_buildkit_finds_none(text: str) -> None:
    first, second = instructions(text)
    assert first.heredocs == ()
    assert (second.keyword, second.line) == ("EOF", 2)


def test_a_variable_before_a_heredoc_does_not_hide_it() -> None:
    (doc,) = only("RUN echo ${X:-a b} $Y <<EOF\nz\nEOF\n").heredocs
    assert (doc.name, doc.content) == ("EOF", "z\n")


def test_an_unterminated_heredoc_is_an_error_at_its_instruction() -> None:
    with pytest.raises(df.DockerfileError) as caught:
        df.parse("FROM a\nRUN <<EOF\necho hi\n")
    assert str(caught.value) == "dockerfile parse error on line 2: unterminated heredoc"


def test_a_heredoc_as_destination_is_refused() -> None:
    assert str(parse_error("FROM a\nCOPY a <<EOF\nx\nEOF\n")).endswith(
        "line 2: COPY cannot accept a heredoc as a destination"
    )


def test_a_json_heredoc_source_is_an_empty_inline_file_as_in_buildkit() -> None:
    copy = typed('COPY ["<<EOF", "/f"]\n')
    assert (copy.sources, copy.heredocs) == ((), (df.Heredoc("EOF", "", True, False),))


def test_onbuild_heredocs_go_into_the_trigger_text() -> None:
    onbuild = typed("ONBUILD RUN <<EOF\necho hi\nEOF\n")
    assert onbuild.instruction.heredocs == (df.Heredoc("EOF", "echo hi\n", True, False),)
    assert onbuild.expression == "RUN <<EOF\necho hi\nEOF"


# -- stages --------------------------------------------------------------------------------


def test_stages_group_commands_after_meta_args() -> None:
    parsed = df.parse(
        "ARG V=1\nARG BASE\nFROM alpine:$V AS build\nARG V\nRUN make\n"
        "FROM scratch\nCOPY --from=build /out /\n"
    )
    meta_args, (build, final) = df.stages(parsed)
    assert [arg.pairs for arg in meta_args] == [(("V", "1"),), (("BASE", None),)]
    assert (build.index, build.name, build.base, build.instruction.line) == (
        0,
        "build",
        "alpine:$V",
        3,
    )
    assert [type(c) for c in build.commands] == [df.ArgCommand, df.RunCommand]
    assert (final.index, final.name, final.base) == (1, None, "scratch")
    assert final.commands[0].from_ == "build"


def test_an_instruction_before_the_first_from_must_be_arg() -> None:
    error = parse_error("ARG X\nENV A=b\nFROM a\n")
    assert (str(error), error.line) == (
        "dockerfile parse error on line 2: no build stage in current context",
        2,
    )


def test_a_duplicate_stage_name_is_refused() -> None:
    assert str(parse_error("FROM a AS one\nFROM b AS One\n")) == (
        'dockerfile parse error on line 2: duplicate stage name "one"'
    )


def test_a_heredoc_body_is_never_read_as_instructions() -> None:
    parsed = df.parse("FROM a\nCOPY <<EOF /x\nFROM evil\nRUNN\nEOF\nRUN ok\n")
    _, stages = df.stages(parsed)
    assert len(stages) == 1
    assert [c.instruction.keyword for c in stages[0].commands] == ["COPY", "RUN"]

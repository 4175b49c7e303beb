"""``berth inspect -f``: Docker's Go-template subset over each object's inspect JSON."""

from __future__ import annotations

import json

import pytest

from cli.output import render_object
from engine.errors import InvalidArgumentError

MISSING = (
    'berth: template parsing error: template: :1:8: executing "" at <.State.Nope>: '
    'map has no entry for key "Nope"\n'
)


@pytest.fixture
def exited(berth):
    """A container that ran and exited 3, with one variable of its own."""
    result = berth("run", "--name", "web", "-e", "A=1", "busybox", "sh", "-c", "exit 3")
    assert result.returncode == 3
    return berth


def _lines(berth, template: str, *refs: str) -> list[str]:
    result = berth("inspect", "-f", template, *refs)
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout.splitlines()


def test_container_fields_print_as_go_prints_them(exited):
    path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert _lines(exited, "{{.State.ExitCode}}", "web") == ["3"]
    assert _lines(exited, "{{.Config.Env}}", "web") == [f"[{path} A=1]"]
    assert _lines(exited, "{{index .Config.Env 1}} {{.State.Running}}", "web") == ["A=1 false"]
    assert _lines(exited, "{{.Config.Entrypoint}}|{{.Config.Labels}}", "web") == [
        "<no value>|map[]"
    ]
    assert _lines(exited, "{{.HostConfig.RestartPolicy}}", "web") == [
        "map[MaximumRetryCount:0 Name:no]"
    ]
    assert _lines(exited, "ip={{.NetworkSettings.IPAddress}}\\t{{.Name}}", "web") == ["ip=\t/web"]


def test_json_is_docker_compact(exited):
    (state,) = _lines(exited, "{{json .State}}", "web")
    assert '"ExitCode":3,' in state and json.loads(state)["Status"] == "exited"
    (whole,) = _lines(exited, "{{json .}}", "web")
    assert json.loads(whole) == json.loads(exited("inspect", "web").stdout)[0]
    (array,) = _lines(exited, "json", "web", "busybox")
    container_id = json.loads(whole)["Id"]
    assert [item["Id"][:7] for item in json.loads(array)] == [container_id[:7], "sha256:"]


def test_image_fields(berth):
    template = '{{index .RepoTags 0}} {{.Config.Cmd}} {{index .GraphDriver.Data "Nope"}}'
    assert _lines(berth, template, "busybox") == ["busybox:latest [sh] <no value>"]
    assert _lines(berth, "{{.Size}}", "busybox")[0].isdigit()


def test_one_line_per_object_and_long_name(exited):
    lines = exited("inspect", "--format", "{{.Id}}", "web", "busybox").stdout.splitlines()
    assert len(lines) == 2 and lines[1].startswith("sha256:") and len(lines[0]) == 64
    assert _lines(exited, "{{.Id}}", "--type", "image", "busybox") == [lines[1]]


def test_missing_field_is_dockers_error(exited):
    result = exited("inspect", "-f", "{{.State.Nope}}", "web")
    # Docker prints an empty line when no object could be shown.
    assert (result.returncode, result.stdout, result.stderr) == (1, "\n", MISSING)


def test_others_still_print_when_one_fails(exited):
    result = exited("inspect", "-f", "{{.State.ExitCode}}", "nope", "web")
    assert (result.returncode, result.stdout) == (1, "3\n")
    assert result.stderr == (
        'berth: no such object: "nope" (see berth ps -a, images, volume ls, network ls)\n'
    )


def test_volumes_and_networks_are_found_too(berth):
    assert berth("volume", "create", "keep").returncode == 0
    assert berth("network", "create", "--subnet", "10.251.30.0/24", "lan").returncode == 0
    try:
        result = berth("inspect", "-f", "{{.Name}} {{.Driver}}", "keep", "lan")
        assert (result.returncode, result.stdout) == (0, "keep local\nlan bridge\n")
        only = berth("inspect", "--type", "volume", "lan")
        assert only.returncode == 1 and 'no such volume: "lan"' in only.stderr
    finally:
        berth("network", "rm", "lan")


@pytest.mark.parametrize(
    ("template", "message"),
    [("{{.Id", "unclosed action"), ("{{len .Id}}", "unsupported action {{len .Id}}"),
     ('{{.Config "x"}}', 'unsupported action {{.Config "x"}}')],
)  # fmt: skip
def test_bad_template_exits_64_before_any_lookup(berth, template, message):
    result = berth("inspect", "-f", template, "nothing-here")
    assert (result.returncode, result.stdout) == (64, "")
    assert result.stderr.startswith(f"berth: template parsing error: {message}")
    assert len(result.stderr.splitlines()) == 1


OBJECT = {"A": {"B": [1, None, True, "x"], "M": {"z": 1, "a": 2.5}}, "N": None, "L": ["a", "b"]}


@pytest.mark.parametrize(
    ("template", "text"),
    [("{{.A.B}}", "[1 <nil> true x]"), ("{{.A.M}}", "map[a:2.5 z:1]"), ("{{.N}}", "<no value>"),
     ("{{index .A.B 3}}-{{index .A.M \"z\"}}", "x-1"), ("{{upper (.L)}}", None),
     ("{{json .A.M}}", '{"z":1,"a":2.5}'), ("{{index . \"L\" 1}}", "b")],
)  # fmt: skip
def test_go_printing(template, text):
    if text is None:
        with pytest.raises(InvalidArgumentError, match="unsupported action"):
            render_object(template, OBJECT)
    else:
        assert render_object(template, OBJECT) == text


@pytest.mark.parametrize(
    ("template", "error"),
    [("{{.L.X}}", ':1:4: executing "" at <.L.X>: can\'t evaluate field X in type []interface {}'),
     ("{{index .N 0}}", ':1:2: executing "" at <index .N 0>: error calling index: index of'),
     ("x\n {{.A.Nope.More}}", ':2:5: executing "" at <.A.Nope.More>: map has no entry for key'),
     ("{{index .L \"k\"}}", "cannot index slice/array with type string")],
)  # fmt: skip
def test_execution_errors_say_where_as_go_does(template, error):
    with pytest.raises(InvalidArgumentError) as raised:
        render_object(template, OBJECT)
    assert error in str(raised.value)

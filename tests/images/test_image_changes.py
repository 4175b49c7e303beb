"""Image configs and docker import's --change instructions."""

from __future__ import annotations

import hashlib
import json

import pytest

from engine.errors import InvalidArgumentError
from engine.images.config import apply_changes, architecture, image_config, image_id, serialize


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ('CMD ["echo", "hi"]', {"Cmd": ["echo", "hi"]}),
        ("CMD echo $HOME", {"Cmd": ["/bin/sh", "-c", "echo $HOME"]}),
        ("CMD [not json", {"Cmd": ["/bin/sh", "-c", "[not json"]}),
        ("CMD [1, 2]", {"Cmd": ["/bin/sh", "-c", "[1, 2]"]}),
        ('ENTRYPOINT ["/app", "-v"]', {"Entrypoint": ["/app", "-v"]}),
        ("ENTRYPOINT /bin/app --flag", {"Entrypoint": ["/bin/sh", "-c", "/bin/app --flag"]}),
        ('ENV A=1 B="two words"', {"Env": ["A=1", "B=two words"]}),
        ("ENV LEGACY some  value", {"Env": ["LEGACY=some  value"]}),
        ('ENV QUOTED "a b"', {"Env": ["QUOTED=a b"]}),
        ("env\tLOWER=case", {"Env": ["LOWER=case"]}),
        ("WORKDIR /srv", {"WorkingDir": "/srv"}),
        ("WORKDIR app", {"WorkingDir": "/app"}),
        ("USER nobody:nogroup", {"User": "nobody:nogroup"}),
        ("EXPOSE 80", {"ExposedPorts": {"80/tcp": {}}}),
        (
            "EXPOSE 80/tcp 53/udp 9/SCTP",
            {"ExposedPorts": {"80/tcp": {}, "53/udp": {}, "9/sctp": {}}},
        ),
        ("EXPOSE 8000-8002", {"ExposedPorts": {f"{p}/tcp": {} for p in (8000, 8001, 8002)}}),
        ('LABEL org.example="x y" v=1', {"Labels": {"org.example": "x y", "v": "1"}}),
        ("STOPSIGNAL SIGQUIT", {"StopSignal": "SIGQUIT"}),
        ("VOLUME /data /logs", {"Volumes": {"/data": {}, "/logs": {}}}),
        ('VOLUME ["/var/lib/db"]', {"Volumes": {"/var/lib/db": {}}}),
    ],
)
def test_each_instruction(change, expected):
    assert apply_changes({}, [change]) == expected


def test_changes_accumulate_in_order():
    base = {"Env": ["A=1", "B=2"], "WorkingDir": "/srv"}
    config = apply_changes(base, ["ENV A=3 C=4", "WORKDIR app", "LABEL a=1", "LABEL b=2"])
    assert config == {"Env": ["A=3", "B=2", "C=4"], "WorkingDir": "/srv/app",
                      "Labels": {"a": "1", "b": "2"}}  # fmt: skip
    assert base == {"Env": ["A=1", "B=2"], "WorkingDir": "/srv"}  # not modified


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("RUN make", r'^unsupported --change instruction: "RUN" \(import supports CMD, '
                     r"ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR\)$"),
        ("FROM scratch", 'unsupported --change instruction: "FROM"'),
        ("", 'unsupported --change instruction: ""'),
        ("CMD", "--change CMD needs an argument"),
        ("ENV  ", "--change ENV needs an argument"),
        ("ENV ALONE", "give KEY=VALUE"),
        ('ENV A="open', "No closing quotation"),
        ("LABEL novalue", '"novalue" is not KEY=VALUE'),
        ("LABEL =x", '"=x" is not KEY=VALUE'),
        ("EXPOSE http", 'invalid port "http"'),
        ("EXPOSE 0", 'invalid port "0"'),
        ("EXPOSE 70000", 'invalid port "70000"'),
        ("EXPOSE 90-80", 'invalid port "90-80"'),
        ("EXPOSE 80/icmp", 'invalid port "80/icmp"'),
        ("STOPSIGNAL NOPE", 'invalid signal: "NOPE"'),
        ("VOLUME data", '"data" must be an absolute path'),
    ],
)  # fmt: skip
def test_bad_changes(change, message):
    with pytest.raises(InvalidArgumentError, match=message):
        apply_changes({}, [change])


def test_image_config_shape_and_id():
    created = "2026-11-23T05:30:00.123456789Z"
    history = [{"created": created, "created_by": "", "comment": "Imported from -"}]
    config = image_config({"Cmd": ["sh"]}, ["sha256:" + "a" * 64], history, created)
    assert config == {
        "architecture": architecture(),
        "os": "linux",
        "created": created,
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64]},
        "history": history,
    }
    raw = serialize(config)
    assert b'": ' not in raw and b'", "' not in raw  # compact: stored once, hashed as is
    assert json.loads(raw) == config
    assert image_id(raw) == "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(("machine", "expected"), [("x86_64", "amd64"), ("aarch64", "arm64")])
def test_architecture_in_oci_words(monkeypatch, machine, expected):
    monkeypatch.setattr("platform.machine", lambda: machine)
    assert architecture() == expected

"""``rm -v``: berth has no volumes yet, so it refuses the flag in one line, removing nothing."""

from __future__ import annotations

import pytest

from cli.main import build_parser


@pytest.mark.parametrize("argv", [["rm", "-v", "web"], ["rm", "-fv", "web"], ["rm", "--volumes"]])
def test_rm_v_is_refused_before_anything_is_removed(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 125
    assert capsys.readouterr().err == (
        "berth: rm -v: volumes are not supported yet (berth rm without -v removes the container)\n"
    )


def test_rm_without_v_parses() -> None:
    args = build_parser().parse_args(["rm", "-f", "web"])
    assert args.force and args.containers == ["web"]

"""A build's events, and a cancelled build, through the engine API the TUI uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import BuildError, Engine


def _mounts_under(root: Path) -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(root) in line]  # fmt: skip


async def test_events_arrive_in_order_and_a_cancel_leaves_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN echo quick > /q\nRUN echo started && sleep 60\n"
    )
    options = engine.build.definition(str(tmp_path), tags=["never:1"])
    running = engine.build.build(options)
    seen = []
    async with running:
        async for event in running:
            seen.append((event.step, event.kind))
            if event.kind == "output" and "started" in event.text:
                break  # leaving the block cancels the build and waits for it
    kinds = [kind for _, kind in seen]
    assert kinds[:2] == ["started", "done"]  # the definition is read first
    steps = [step for step, _ in seen]
    assert steps == sorted(steps)
    assert "done" in kinds and kinds[-1] == "output"
    assert await engine.containers.list(all=True) == []
    assert _mounts_under(engine.paths.root) == []
    assert [image for image in await engine.images.list() if image.repo_tags == ["never:1"]] == []
    assert list(engine.paths.tmp.iterdir()) == []


async def test_a_failed_step_raises_buildkits_words(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 3\n")
    running = engine.build.build(engine.build.definition(str(tmp_path)))
    with pytest.raises(BuildError) as raised:
        await running.result()
    assert str(raised.value) == (
        'failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
    )
    assert await engine.containers.list(all=True) == []

"""system df's arithmetic and prune's filters, on made-up rows (no engine needed)."""

from __future__ import annotations

import pytest

from engine.containers.model import Container, CreateOptions
from engine.errors import InvalidArgumentError
from engine.images.model import ImageSummary
from engine.system import ContainerUsage, PruneFilter, VolumeSpace
from engine.system.usage import container_category, image_usage, volume_category

T0 = "2026-01-01T00:00:00.000000000Z"


def _image(name: str, containers: int) -> ImageSummary:
    return ImageSummary(f"sha256:{name}", [f"{name}:latest"], T0, 0, containers)


def test_shared_layers_count_once_and_only_unused_ones_are_reclaimable() -> None:
    sizes = {"base": 100, "mid": 20, "app": 5, "other": 7}
    layers = {"sha256:app": ["base", "mid", "app"], "sha256:tool": ["base", "mid"],
              "sha256:solo": ["other"]}  # fmt: skip
    rows, category = image_usage(
        [_image("app", 2), _image("tool", 0), _image("solo", 0)], layers, sizes
    )
    by_name = {row.summary.id: row for row in rows}
    assert (by_name["sha256:app"].size, by_name["sha256:app"].shared_size) == (125, 120)
    assert by_name["sha256:app"].unique_size == 5
    assert (by_name["sha256:tool"].size, by_name["sha256:tool"].unique_size) == (120, 0)
    assert (by_name["sha256:solo"].size, by_name["sha256:solo"].shared_size) == (7, 0)
    # tool's layers are all app's, which a container uses: only solo's would go
    assert (category.total, category.active, category.size) == (3, 1, 132)
    assert category.reclaimable == 7


def _container(state: str) -> Container:
    return Container(id=state * 8, name=state, image_id="sha256:x", image_ref="x", created=T0,
                     options=CreateOptions(image="x"), args=[], state=state, monitor_pid=None,
                     monitor_start=None, exit_code=None, restart_count=0, stop_requested=False,
                     started_at=None, finished_at=None, error=None)  # fmt: skip


def test_running_and_paused_containers_are_active_and_keep_their_bytes() -> None:
    rows = [ContainerUsage(_container(state), size, 0)
            for state, size in (("running", 10), ("paused", 20), ("exited", 300),
                                ("created", 4000))]  # fmt: skip
    category = container_category(rows)
    assert (category.total, category.active, category.size, category.reclaimable) == (
        4, 2, 4330, 4300,
    )  # fmt: skip


def test_volumes_in_use_are_active_and_unmeasurable_ones_add_nothing() -> None:
    rows = [VolumeSpace("used", 2, 50), VolumeSpace("idle", 0, 600), VolumeSpace("bind", 0, -1)]
    category = volume_category(rows)
    assert (category.total, category.active, category.size, category.reclaimable) == (
        3, 1, 650, 600,
    )  # fmt: skip


def test_until_keeps_what_is_newer_and_labels_select() -> None:
    now = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    an_hour_later = now + 3600
    assert PruneFilter.parse(["until=10m"], now=an_hour_later).matches(T0, {})
    assert not PruneFilter.parse(["until=2h"], now=an_hour_later).matches(T0, {})
    labelled = PruneFilter.parse(["label=tier", "label=env=test"])
    assert labelled.matches(T0, {"tier": "db", "env": "test"})
    assert not labelled.matches(T0, {"tier": "db", "env": "prod"})
    assert not labelled.matches(T0, {"env": "test"})
    # label!= drops what has all of its terms, as Docker's daemon reads it
    unless = PruneFilter.parse(["label!=keep", "label!=pin=yes"])
    assert unless.matches(T0, {"keep": ""}) and not unless.matches(T0, {"keep": "", "pin": "yes"})
    assert PruneFilter.parse([]).matches(T0, {"any": "thing"})


@pytest.mark.parametrize(
    ("filters", "volumes", "message"),
    [
        (["color=red"], False, 'invalid filter "color=red" (prune takes until='),
        (["label="], False, 'invalid filter "label="'),
        (["until=soon"], False, 'invalid time "soon"'),
        (["until=1h", "until=2h"], False, "more than one until filter"),
        (["until=1h"], True, 'the "until" filter is not supported with --volumes'),
    ],
)
def test_bad_filters_are_refused_naming_them(
    filters: list[str], volumes: bool, message: str
) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        PruneFilter.parse(filters, volumes=volumes)
    assert message in str(raised.value)

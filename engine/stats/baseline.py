"""What a single reading (``stats --no-stream``) computes its CPU % against.

As podman does: the sample the last such reading kept in the container's run dir, if
it was of this run; else the run's start, so the first figure is the run's average
(less the runtime's own set-up, which the monitor recorded). No second reading a
second later is waited for.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from engine.linux.files import write_atomically
from engine.monitor import status
from engine.stats.reading import Host, Previous, since_start
from engine.timestamps import parse as parse_timestamp

_KEPT = "stats-sample.json"


def load(run_dir: Path, host: Host, now: float) -> Previous | None:
    """The baseline for a reading of the run in ``run_dir`` now (None: no run recorded)."""
    record = status.read(run_dir)
    if record is None or record.started_at is None:
        return None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        kept = json.loads((run_dir / _KEPT).read_text())
        if kept["started_at"] == record.started_at:
            return Previous(int(kept["cpu_ns"]), int(kept["host_cpu_ns"]))
    return since_start(parse_timestamp(record.started_at), record.start_cpu_ns or 0, host, now)


def keep(run_dir: Path, sample: Previous) -> None:
    """Keep ``sample`` for the next single reading of this run (if it still runs)."""
    record = status.read(run_dir)
    if record is None or record.started_at is None:
        return
    kept = {"started_at": record.started_at, "cpu_ns": sample.cpu_ns,
            "host_cpu_ns": sample.host_cpu_ns}  # fmt: skip
    with contextlib.suppress(OSError):  # a run dir removed meanwhile (rm) is not re-made
        write_atomically(run_dir / _KEPT, json.dumps(kept))

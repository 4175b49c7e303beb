"""system df, system prune and container prune as a user meets them: the installed
``berth``, a fresh process per step; the engines fixture checks nothing leaked."""

from __future__ import annotations

import json
import re

from tests.e2e.berth_cli import Berth, describe

SYSTEM_PROMPT = """WARNING! This will remove:
  - all stopped containers
  - all networks not used by at least one container
  - all dangling images
  - unused build cache

Are you sure you want to continue? [y/N] """
CONTAINER_PROMPT = (
    "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
)
RECLAIMED = re.compile(r"Total reclaimed space: \d+(\.\d+)?[kMG]?B\n")


def _df(berth: Berth) -> dict[str, list[str]]:
    """``system df``'s rows by TYPE; the header checked on the way."""
    lines = berth.ok("system", "df").stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    return {row[0]: row[1:] for row in rows}


def test_df_shows_a_stopped_containers_megabyte_as_reclaimable(berth: Berth) -> None:
    berth.ok("run", "--name", "writer", "busybox", "sh", "-c", "head -c 1000000 /dev/zero > /b")
    rows = _df(berth)
    assert list(rows) == ["Images", "Containers", "Local Volumes", "Build Cache"]
    assert rows["Containers"] == ["1", "0", "1MB", "1MB (100%)"]
    assert rows["Images"][:2] == ["1", "1"] and rows["Images"][3] == "0B (0%)"  # in use
    assert rows["Local Volumes"] == ["0", "0", "0B", "0B"]
    assert rows["Build Cache"] == ["0", "0", "0B", "0B"]

    verbose = berth.ok("system", "df", "-v").stdout
    titles = [line for line in verbose.splitlines() if line.endswith(":") or "usage:" in line]
    assert titles == ["Images space usage:", "Containers space usage:",
                      "Local Volumes space usage:", "Build cache usage: 0B"]  # fmt: skip
    writer = next(line for line in verbose.splitlines() if line.endswith("writer"))
    assert re.search(r'"sh -c head -c 10000…"\s+0\s+1MB\s+.* ago\s+Exited \(0\)', writer), writer

    objects = [json.loads(line) for line in berth.ok("system", "df", "--format", "json").stdout
               .splitlines()]  # fmt: skip
    assert objects[1] == {"Active": "0", "Reclaimable": "1MB (100%)", "Size": "1MB",
                          "TotalCount": "1", "Type": "Containers"}  # fmt: skip
    template = berth.ok("system", "df", "--format", "{{.Type}}={{.TotalCount}}").stdout
    assert template == "Images=1\nContainers=1\nLocal Volumes=0\nBuild Cache=0\n"


def test_system_prune_asks_first_and_no_keeps_everything(berth: Berth) -> None:
    berth.ok("run", "--name", "done", "busybox", "true")
    done = berth.inspect("done")[0]["Id"]
    berth.ok("network", "create", "spare")

    declined = berth("system", "prune", input="n\n")
    assert (declined.returncode, declined.stdout) == (0, SYSTEM_PROMPT), describe(declined)
    assert "done" in berth.ps()
    assert "spare" in berth.ok("network", "ls").stdout

    accepted = berth("system", "prune", input="y\n")
    assert accepted.returncode == 0, describe(accepted)
    sections = f"Deleted Containers:\n{done}\n\nDeleted Networks:\nspare\n\n"
    assert accepted.stdout.startswith(SYSTEM_PROMPT + sections), describe(accepted)
    assert RECLAIMED.fullmatch(accepted.stdout.removeprefix(SYSTEM_PROMPT + sections))
    assert berth.ps() == {}
    assert "spare" not in berth.ok("network", "ls").stdout


def test_container_prune_and_forced_prunes_keep_what_runs(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "keeper", "busybox", "sleep", "100")
    berth.ok("run", "--name", "done", "busybox", "sh", "-c", "head -c 2000000 /dev/zero > /b")
    done = berth.inspect("done")[0]["Id"]

    declined = berth("container", "prune", input="n\n")
    assert (declined.returncode, declined.stdout) == (0, CONTAINER_PROMPT), describe(declined)
    assert set(berth.ps()) == {"keeper", "done"}
    pruned = berth.ok("container", "prune", "-f")
    assert pruned.stdout == f"Deleted Containers:\n{done}\n\nTotal reclaimed space: 2MB\n"
    assert list(berth.ps()) == ["keeper"]

    # -a with a container running: busybox is in use and stays; nothing asked
    everything = berth.ok("system", "prune", "-a", "-f", "--volumes")
    assert everything.stdout == "Total reclaimed space: 0B\n", describe(everything)
    assert "busybox" in berth.ok("images").stdout
    assert berth.state("keeper")["Running"]


def test_bad_prune_filters_say_so_in_one_line_and_remove_nothing(berth: Berth) -> None:
    berth.ok("run", "--name", "stays", "busybox", "true")
    for args, message in (
        (["system", "prune", "-f", "--filter", "color=red"], 'invalid filter "color=red"'),
        (["system", "prune", "--volumes", "--filter", "until=1h"],
         'the "until" filter is not supported with --volumes'),
        (["container", "prune", "-f", "--filter", "until=whenever"], 'invalid time "whenever"'),
    ):  # fmt: skip
        result = berth(*args, input="y\n")
        assert result.returncode == 1 and result.stdout == "", describe(result)
        assert result.stderr.startswith(f"berth: {message}"), describe(result)
        assert result.stderr.count("\n") == 1, describe(result)
    assert list(berth.ps()) == ["stays"]
    df_verbose_template = berth("system", "df", "-v", "--format", "{{.Type}}")
    assert df_verbose_template.returncode == 1 and "with -v" in df_verbose_template.stderr

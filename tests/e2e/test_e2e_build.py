"""``berth build`` as a user runs it: a Dockerfile and a context, each step a fresh process."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import subprocess
import tarfile
import textwrap
import threading
from pathlib import Path

import pytest

from tests.e2e.berth_cli import Berth, describe
from tests.e2e.conftest import settled_leaks


def context(tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None,
            name: str = "ctx") -> Path:  # fmt: skip
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    (directory / "Dockerfile").write_text(textwrap.dedent(dockerfile).lstrip())
    for relative, text in (files or {}).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def build(berth: Berth, directory: Path | str, *args: str, ok: bool = True):
    result = berth("build", "--progress", "plain", *args, str(directory), timeout=180)
    if ok:
        assert result.returncode == 0, describe(result)
    return result


def steps(result) -> dict[str, str]:
    """What each step ended as, by its name: DONE, CACHED or ERROR."""
    names = dict(re.findall(r"^#(\d+) (\[(?!internal).*)$", result.stderr, re.M))
    ends = {}
    for number, end in re.findall(r"^#(\d+) (DONE|CACHED|ERROR)", result.stderr, re.M):
        if number in names:
            ends[names[number]] = end
    return ends


def history(berth: Berth, image: str) -> list[str]:
    result = berth.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
    return result.stdout.splitlines()


def test_a_web_app_image_is_built_tagged_and_runs_with_its_config(
    berth: Berth, tmp_path: Path
) -> None:
    directory = context(
        tmp_path,
        """
        FROM busybox
        ENV GREETING=hello APP_HOME=/srv/app
        WORKDIR $APP_HOME
        COPY index.html static/ ./
        RUN echo "web:x:1234:1234::/srv/app:/bin/sh" >> /etc/passwd && chown -R web /srv/app
        USER web
        EXPOSE 8080
        LABEL org.example.app="shop front"
        CMD ["sh", "-c", "echo $GREETING from $(whoami) in $(pwd); ls"]
    """,
        {"index.html": "<h1>shop</h1>\n", "static/app.css": "body{}\n"},
    )
    result = build(berth, directory, "-t", "shop:1")
    assert re.search(r"^#\d+ \[1/4\] FROM busybox$", result.stderr, re.M), result.stderr
    assert re.search(r"^#\d+ \[4/4\] RUN echo \"web:", result.stderr, re.M), result.stderr
    assert steps(result)["[3/4] COPY index.html static/ ./"] == "DONE"
    run = berth.ok("run", "--rm", "shop:1")
    assert run.stdout == "hello from web in /srv/app\napp.css\nindex.html\n"
    [image] = berth.inspect("shop:1")
    config = image["Config"]
    assert config["User"] == "web" and config["WorkingDir"] == "/srv/app"
    assert config["ExposedPorts"] == {"8080/tcp": {}}
    assert config["Labels"] == {"org.example.app": "shop front"}
    assert "GREETING=hello" in config["Env"]
    made = history(berth, "shop:1")
    assert made[0] == 'CMD ["sh" "-c" "echo $GREETING from $(whoami) in $(pwd); ls"]'
    assert (
        'RUN /bin/sh -c echo "web:x:1234:1234::/srv/app:/bin/sh" >> /etc/passwd && chown -R web'
        " /srv/app # buildkit"
    ) in made
    assert "COPY index.html static/ ./ # buildkit" in made


def test_an_unchanged_rebuild_is_all_cached_and_a_change_misses_from_its_step_on(
    berth: Berth, tmp_path: Path
) -> None:
    directory = context(
        tmp_path,
        """
        FROM busybox
        COPY base.txt /base.txt
        RUN cat /base.txt > /first
        COPY app.txt /app.txt
        RUN cat /app.txt > /second
    """,
        {"base.txt": "base\n", "app.txt": "v1\n"},
    )
    first = build(berth, directory, "-t", "app", "--iidfile", str(tmp_path / "id1"))
    assert set(steps(first).values()) == {"DONE"}
    again = build(berth, directory, "-t", "app", "--iidfile", str(tmp_path / "id2"))
    assert [end for name, end in steps(again).items() if "FROM" not in name] == ["CACHED"] * 4
    assert (tmp_path / "id1").read_text() == (tmp_path / "id2").read_text()
    (directory / "app.txt").write_text("v2\n")
    changed = build(berth, directory, "-t", "app")
    assert steps(changed) == {
        "[1/5] FROM busybox": "DONE",
        "[2/5] COPY base.txt /base.txt": "CACHED",
        "[3/5] RUN cat /base.txt > /first": "CACHED",
        "[4/5] COPY app.txt /app.txt": "DONE",
        "[5/5] RUN cat /app.txt > /second": "DONE",
    }
    assert berth.ok("run", "--rm", "app", "cat", "/second").stdout == "v2\n"
    no_cache = build(berth, directory, "--no-cache", "-t", "app")
    assert "CACHED" not in steps(no_cache).values()


def test_multi_stage_copy_from_and_target(berth: Berth, tmp_path: Path) -> None:
    directory = context(
        tmp_path,
        """
        FROM busybox AS build
        RUN mkdir -p /out && echo compiled > /out/app && chmod 755 /out/app

        FROM busybox AS unused
        RUN exit 1

        FROM scratch
        COPY --from=build /out/app /app
        COPY --from=busybox /bin/busybox /bin/busybox
        CMD ["/bin/busybox", "cat", "/app"]
    """,
    )
    result = build(berth, directory, "-t", "small")
    assert "[unused" not in result.stderr  # only the stages the target needs are built
    assert berth.ok("run", "--rm", "small").stdout == "compiled\n"
    [image] = berth.inspect("small")
    assert len(image["RootFS"]["Layers"]) == 2
    build(berth, directory, "--target", "build", "-t", "stage1")
    assert berth.ok("run", "--rm", "stage1", "cat", "/out/app").stdout == "compiled\n"
    missing = build(berth, directory, "--target", "nope", ok=False)
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[-1] == (
        'berth: failed to solve: target stage "nope" could not be found'
    )


@pytest.mark.parametrize(
    ("entrypoint", "cmd", "expected"),
    [
        ("", 'CMD ["echo", "exec cmd"]', "exec cmd"),
        ("", "CMD echo shell cmd", "shell cmd"),
        ('ENTRYPOINT ["echo", "entry"]', 'CMD ["exec", "cmd"]', "entry exec cmd"),
        ('ENTRYPOINT ["echo", "entry"]', "CMD shell cmd", "entry /bin/sh -c shell cmd"),
        ("ENTRYPOINT echo shell entry", 'CMD ["ignored"]', "shell entry"),
    ],
)
def test_entrypoint_and_cmd_combine_as_dockers_table_says(
    berth: Berth, tmp_path: Path, entrypoint: str, cmd: str, expected: str
) -> None:
    directory = context(tmp_path, f"FROM busybox\n{entrypoint}\n{cmd}\n")
    build(berth, directory, "-t", "table")
    assert berth.ok("run", "--rm", "table").stdout == expected + "\n"


def test_dockerignore_args_heredocs_and_a_named_dockerfile(berth: Berth, tmp_path: Path) -> None:
    directory = context(tmp_path, "", {
        "Dockerfile.other": "\n".join([
            "ARG BASE=busybox", "FROM $BASE", "ARG FLAVOUR=plain", "COPY . /ctx/",
            "RUN <<EOF", "set -e", 'echo "flavour $FLAVOUR" > /flavour', "EOF",
            "COPY <<-EOT /etc/motd", "\twelcome", "EOT",
            "RUN ls -a /ctx | sort > /listing", "",
        ]),
        ".dockerignore": "secret.txt\n*.log\n!keep.log\n",
        "secret.txt": "no\n", "debug.log": "no\n", "keep.log": "yes\n", "main.c": "int\n",
    })  # fmt: skip
    dockerfile = str(directory / "Dockerfile.other")
    result = build(berth, directory, "-f", dockerfile, "--build-arg", "FLAVOUR=spicy",
                   "--build-arg", "UNUSED=1", "-t", "named")  # fmt: skip
    assert "[Warning] One or more build-args ['UNUSED'] were not consumed" in result.stderr
    listing = berth.ok("run", "--rm", "named", "cat", "/listing").stdout.split()
    assert listing == [".", "..", ".dockerignore", "Dockerfile", "Dockerfile.other",
                       "keep.log", "main.c"]  # fmt: skip
    assert berth.ok("run", "--rm", "named", "cat", "/flavour", "/etc/motd").stdout == (
        "flavour spicy\nwelcome\n"
    )


def test_stdin_dockerfile_quiet_and_label(berth: Berth, tmp_path: Path) -> None:
    result = berth("build", "-q", "--label", "team=ops", "-t", "piped", "-",
                   input="FROM busybox\nRUN echo piped > /p\n")  # fmt: skip
    assert result.returncode == 0, describe(result)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", result.stdout)
    assert result.stderr == ""
    [image] = berth.inspect("piped")
    assert image["Config"]["Labels"] == {"team": "ops"}
    assert berth.ok("run", "--rm", "piped", "cat", "/p").stdout == "piped\n"


def test_onbuild_triggers_run_when_the_image_is_a_base(berth: Berth, tmp_path: Path) -> None:
    parent = context(
        tmp_path,
        """
        FROM busybox
        ONBUILD COPY hello.txt /hello.txt
        ONBUILD RUN echo triggered >> /hello.txt
    """,
        name="parent",
    )
    build(berth, parent, "-t", "parent")
    assert berth("run", "--rm", "parent", "cat", "/hello.txt").returncode != 0
    child = context(tmp_path, "FROM parent\n", {"hello.txt": "hi\n"}, name="child")
    build(berth, child, "-t", "child")
    assert berth.ok("run", "--rm", "child", "cat", "/hello.txt").stdout == "hi\ntriggered\n"
    [image] = berth.inspect("child")
    assert not image["Config"].get("OnBuild")  # triggers fire once, in the first child


def test_cache_mount_is_kept_and_a_secret_never_reaches_a_layer(
    berth: Berth, tmp_path: Path
) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-value")
    directory = context(
        tmp_path,
        """
        FROM busybox
        ARG RUN_ID
        RUN --mount=type=cache,target=/cache echo $RUN_ID >> /cache/runs && cat /cache/runs > /seen
        RUN --mount=type=secret,id=token cat /run/secrets/token > /dev/null && \\
            wc -c < /run/secrets/token > /secret-size
    """,
    )
    build(berth, directory, "--build-arg", "RUN_ID=one", "--secret", f"id=token,src={secret}",
          "-t", "cached")  # fmt: skip
    build(berth, directory, "--build-arg", "RUN_ID=two", "--secret", f"id=token,src={secret}",
          "-t", "cached")  # fmt: skip
    assert berth.ok("run", "--rm", "cached", "cat", "/seen").stdout == "one\ntwo\n"
    assert berth.ok("run", "--rm", "cached", "cat", "/secret-size").stdout.strip() == "12"
    saved = tmp_path / "cached.tar"
    berth.ok("save", "-o", str(saved), "cached")
    with tarfile.open(saved) as archive:
        for member in archive.getmembers():
            if member.isfile():
                data = archive.extractfile(member).read()
                if member.name.endswith((".tar", "layer.tar")) or "blobs" in member.name:
                    assert b"s3cr3t-value" not in data, member.name


def test_errors_are_buildkits_one_line_and_leave_nothing(berth: Berth, tmp_path: Path) -> None:
    cases = {
        "FROM busybox\nRUNN echo\n":
            "berth: failed to solve: dockerfile parse error on line 2: unknown instruction: RUNN "
            "(did you mean RUN?)",
        "RUN echo\n":
            "berth: failed to solve: dockerfile parse error on line 1: no build stage in current "
            "context",
        "FROM busybox\nCOPY <<EOF /x\nhello\n":
            "berth: failed to solve: dockerfile parse error on line 2: unterminated heredoc",
        'FROM busybox\nCMD ["a", 1]\n':
            "berth: failed to solve: dockerfile parse error on line 2: when using JSON array "
            "syntax, arrays must be comprised of strings only",
        "FROM busybox\nCOPY missing.txt /\n": 'berth: failed to solve: "/missing.txt": not found',
        "FROM busybox\nCOPY ../outside /\n":
            "berth: failed to solve: COPY failed: forbidden path outside the build context: "
            "../outside",
        "FROM busybox\nCOPY --from=nostage /x /\n": None,
        "FROM busybox\nCOPY --exclude=*.md . /\n":
            "berth: failed to solve: COPY --exclude is not supported by berth build yet",
        "FROM busybox\nRUN --security=insecure true\n":
            "berth: failed to solve: RUN --security=insecure is not supported: berth runs every "
            "step confined",
        "FROM busybox\nRUN echo before && false\n":
            'berth: failed to solve: process "/bin/sh -c echo before && false" did not complete '
            "successfully: exit code: 1",
    }  # fmt: skip
    for dockerfile, expected in cases.items():
        directory = context(tmp_path, dockerfile)
        result = build(berth, directory, "-t", "broken", ok=False)
        assert result.returncode == 1, describe(result)
        last = result.stderr.splitlines()[-1]
        assert last.startswith("berth: ") and "\n" not in last
        if expected:
            assert last == expected, describe(result)
    failed = build(berth, context(tmp_path, "FROM busybox\nRUN echo before && false\n"), ok=False)
    assert re.search(r"^#\d+ \d+\.\d{3} before$", failed.stderr, re.M), failed.stderr
    assert berth.ok("images", "-q", "broken").stdout == ""
    assert berth.ids() == []
    assert settled_leaks(berth) == []


def test_add_unpacks_a_local_tar_and_the_context_is_read_in_place(
    berth: Berth, tmp_path: Path
) -> None:
    directory = context(tmp_path, "FROM busybox\nADD bundle.tar.gz /opt/\nADD plain.txt /opt/\n",
                        {"plain.txt": "plain\n"})  # fmt: skip
    payload = tmp_path / "payload"
    (payload / "lib").mkdir(parents=True)
    (payload / "lib" / "tool").write_text("tool\n")
    with tarfile.open(directory / "bundle.tar.gz", "w:gz") as archive:
        archive.add(payload / "lib", arcname="lib")
    build(berth, directory, "-t", "added")
    out = berth.ok("run", "--rm", "added", "cat", "/opt/lib/tool", "/opt/plain.txt").stdout
    assert out == "tool\nplain\n"
    assert json.loads(berth.ok("inspect", "--format", "{{json .RootFS.Layers}}", "added").stdout)


def test_copy_owners_modes_wildcards_and_more_metadata(berth: Berth, tmp_path: Path) -> None:
    directory = context(tmp_path, """
        FROM busybox
        RUN echo "app:x:2000:3000::/home/app:/bin/sh" >> /etc/passwd && \\
            echo "appgroup:x:3000:" >> /etc/group
        COPY --chown=app:appgroup --chmod=640 conf/*.ini /etc/app/
        COPY --chown=4242 bin/tool /usr/local/bin/tool
        SHELL ["/bin/sh", "-e", "-c"]
        RUN stat -c '%n %u:%g %a' /etc/app/*.ini /usr/local/bin/tool > /owners
        VOLUME /data
        STOPSIGNAL SIGINT
        HEALTHCHECK --interval=5s --retries=2 CMD ["true"]
        ARG TARGETARCH
        RUN echo "$TARGETARCH" > /arch
    """, {"conf/a.ini": "a\n", "conf/b.ini": "b\n", "conf/skip.txt": "no\n",
          "bin/tool": "#!/bin/sh\n"})  # fmt: skip
    (directory / "bin" / "tool").chmod(0o755)
    build(berth, directory, "-t", "meta")
    owners = berth.ok("run", "--rm", "meta", "cat", "/owners").stdout.splitlines()
    assert owners == [
        "/etc/app/a.ini 2000:3000 640",
        "/etc/app/b.ini 2000:3000 640",
        "/usr/local/bin/tool 4242:4242 755",
    ]
    assert berth("run", "--rm", "meta", "ls", "/etc/app/skip.txt").returncode != 0
    arch = berth.ok("run", "--rm", "meta", "cat", "/arch").stdout.strip()
    assert arch in ("amd64", "arm64")
    [image] = berth.inspect("meta")
    config = image["Config"]
    assert config["Shell"] == ["/bin/sh", "-e", "-c"]
    assert config["Volumes"] == {"/data": {}} and config["StopSignal"] == "SIGINT"
    assert config["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 5_000_000_000,
                                     "Retries": 2}  # fmt: skip


def test_same_inputs_give_the_same_layers(berth: Berth, tmp_path: Path) -> None:
    directory = context(tmp_path, "FROM busybox\nCOPY a.txt src /app/\nWORKDIR /app/work\n",
                        {"a.txt": "a\n", "src/b.txt": "b\n"})  # fmt: skip
    build(berth, directory, "-t", "first")
    build(berth, directory, "--no-cache", "-t", "second")
    [first, second] = berth.inspect("first", "second")
    assert len(first["RootFS"]["Layers"]) == 3
    assert first["RootFS"]["Layers"] == second["RootFS"]["Layers"]
    assert first["Id"] != second["Id"]  # the history's times differ (a RUN's files' too)


@pytest.fixture
def web(tmp_path: Path):
    """A loopback HTTP server of the directory it returns, and its base URL."""
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_add_fetches_a_url_and_checks_its_checksum(berth: Berth, tmp_path: Path, web) -> None:
    served, base = web
    (served / "tool.txt").write_text("fetched\n")
    digest = "sha256:" + hashlib.sha256(b"fetched\n").hexdigest()
    url = f"{base}/tool.txt"
    good = context(tmp_path, f"FROM busybox\nADD --checksum={digest} {url} /opt/\n", name="good")
    build(berth, good, "-t", "fetched")
    out = berth.ok("run", "--rm", "fetched", "stat", "-c", "%a", "/opt/tool.txt")
    assert out.stdout == "600\n"
    bad = context(tmp_path, f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {url} /t\n",
                  name="bad")  # fmt: skip
    refused = build(berth, bad, ok=False)
    assert refused.returncode == 1
    assert "digest mismatch" in refused.stderr.splitlines()[-1]


def test_a_context_as_a_tar_on_stdin_or_at_a_url(berth: Berth, tmp_path: Path, web) -> None:
    served, base = web
    directory = context(tmp_path, "FROM busybox\nCOPY app.txt /\n", {"app.txt": "in a tar\n",
                        "alt/Dockerfile": "FROM busybox\nCOPY app.txt /alt.txt\n"})  # fmt: skip
    archive = served / "ctx.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname=".")
    with archive.open("rb") as stdin:
        piped = subprocess.run(
            berth.argv("build", "-q", "-t", "piped", "-"),
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert piped.returncode == 0, describe(piped)
    assert berth.ok("run", "--rm", "piped", "cat", "/app.txt").stdout == "in a tar\n"
    build(berth, f"{base}/ctx.tar.gz", "-f", "alt/Dockerfile", "-t", "fetched-ctx")
    assert berth.ok("run", "--rm", "fetched-ctx", "cat", "/alt.txt").stdout == "in a tar\n"
    assert list((berth.root / "tmp").iterdir()) == []


def test_run_network_none_and_a_foreign_platform_is_refused(berth: Berth, tmp_path: Path) -> None:
    directory = context(tmp_path, "FROM busybox\nRUN --network=none ip -o link | wc -l > /links\n")
    build(berth, directory, "-t", "isolated")
    assert berth.ok("run", "--rm", "isolated", "cat", "/links").stdout.strip() == "1"
    foreign = build(berth, directory, "--platform", "linux/s390x", ok=False)
    assert foreign.returncode == 1
    assert "linux/s390x" in foreign.stderr.splitlines()[-1]


def test_builder_prune_and_system_df_count_the_cache(berth: Berth, tmp_path: Path) -> None:
    directory = context(tmp_path, "FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n")
    build(berth, directory, "-t", "pruned")
    df = berth.ok("system", "df", "--format", "{{.Type}} {{.TotalCount}}").stdout
    assert "Build Cache 2" in df
    assert len(berth.ok("images", "-a", "-q").stdout.split()) > len(
        berth.ok("images", "-q").stdout.split()
    )
    pruned = berth.ok("builder", "prune", "-f")
    assert pruned.stdout.startswith("Deleted build cache objects:\n")
    assert "Build Cache 0" in berth.ok("system", "df", "--format",
                                      "{{.Type}} {{.TotalCount}}").stdout  # fmt: skip
    assert berth.ok("run", "--rm", "pruned", "cat", "/one", "/two").stdout == "one\ntwo\n"
    rebuilt = build(berth, directory, "-t", "pruned")
    assert "CACHED" not in steps(rebuilt).values()


def test_independent_stages_build_at_the_same_time(berth: Berth, tmp_path: Path) -> None:
    directory = context(
        tmp_path,
        """
        FROM busybox AS left
        RUN sleep 1 && echo left > /left
        FROM busybox AS right
        RUN sleep 1 && echo right > /right
        FROM busybox
        COPY --from=left /left /left
        COPY --from=right /right /right
    """,
    )
    result = build(berth, directory, "-t", "joined")
    lines = result.stderr.splitlines()
    started = {side: next(i for i, line in enumerate(lines) if f"[{side} 2/2] RUN" in line)
               for side in ("left", "right")}  # fmt: skip
    runs = {re.match(r"#(\d+)", lines[index])[1] for index in started.values()}
    ends = [i for i, line in enumerate(lines) if line.endswith("s") and " DONE " in line]
    first_done = next(i for i in ends if lines[i].split()[0][1:] in runs)
    assert max(started.values()) < first_done, result.stderr  # both ran before either ended
    assert berth.ok("run", "--rm", "joined", "cat", "/left", "/right").stdout == "left\nright\n"


def test_env_pairs_see_the_values_from_before_and_an_arg_in_a_destination_misses(
    berth: Berth, tmp_path: Path
) -> None:
    directory = context(tmp_path, """
        FROM busybox
        ENV abc=hello
        ENV abc=bye def=$abc
        ARG DEST=/one
        COPY a.txt $DEST
    """, {"a.txt": "a\n"})  # fmt: skip
    build(berth, directory, "-t", "envs")
    [image] = berth.inspect("envs")
    assert {"abc=bye", "def=hello"} <= set(image["Config"]["Env"])
    build(berth, directory, "--build-arg", "DEST=/two", "-t", "envs")
    assert berth.ok("run", "--rm", "envs", "cat", "/two").stdout == "a\n"

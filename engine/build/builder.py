"""A Dockerfile built step by step with the engine's own images and containers.

Each step makes an image (untagged, in the build cache) on top of the one before: a
metadata step (ENV, CMD...) only a new config and history entry; COPY, ADD and WORKDIR a
layer written into the stage's overlay mounted for the step; RUN a layer of what a real
container of the engine did. Stages build as tasks, so independent ones run at once; a
stage waits only for the stages it names. Tags are applied once everything succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.build import copying, fetch
from engine.build import dockerfile as df
from engine.build.cache import BuildCache, step_key
from engine.build.dockerignore import Matcher
from engine.build.events import CACHED, DONE, ERROR, OUTPUT, STARTED, WARNING, BuildEvent, Emit
from engine.build.run_mounts import Prepared
from engine.build.shell_lex import ShellLex
from engine.build.sources import Selected, Tree, outside
from engine.build.steps import StepRunner
from engine.errors import BerthError, InvalidArgumentError, NotFoundError
from engine.images import Image
from engine.images.config import architecture
from engine.timestamps import parse as parse_timestamp

DEFAULT_SHELL = ("/bin/sh", "-c")
# Build args every Dockerfile may use without declaring them (Docker's list).
PROXY_ARGS = frozenset(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)


class BuildError(BerthError):
    """A build failed; the message is BuildKit's (``failed to solve: ...``)."""


@dataclass(frozen=True)
class BuildOptions:
    dockerfile: str  # its text
    context: Path | None  # None: no context (a Dockerfile read from stdin)
    ignore: Matcher | None = None  # .dockerignore of the context
    dockerfile_name: str = "Dockerfile"  # as messages name it
    tags: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str = "bridge"
    secrets: Mapping[str, Path] = field(default_factory=dict)
    platform: str | None = None


@dataclass(frozen=True)
class _Step:
    number: int  # "#5"
    started: float  # time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started


@dataclass
class StageState:
    """Where a stage stands: its latest image, the config steps have changed since, and
    what the next step expands with."""

    image: Image
    config: dict[str, Any]  # the image config's "config", with the steps since applied
    pending: list[str]  # created_by of metadata steps since ``image`` (empty_layer history)
    args: dict[str, str]  # ARGs declared in this stage, with their values
    stamp: int  # ns: the time of what steps make (the base image's), for repeatable layers
    cmd_set: bool = False  # a CMD in this stage: ENTRYPOINT no longer clears it

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)


class Build:
    """One ``berth build``: run by :meth:`run`, reporting through ``emit``."""

    def __init__(
        self,
        steps: StepRunner,
        cache: BuildCache,
        find_image: Callable[[str, bool], Awaitable[Image]],
        tag: Callable[[str, str], Awaitable[Image]],
        options: BuildOptions,
        emit: Emit,
    ) -> None:
        self._steps = steps
        self._cache = cache
        self._find_image = find_image
        self._tag = tag
        self._options = options
        self._emit = emit
        self._numbers = 0
        self._tasks: dict[int, asyncio.Task[StageState]] = {}
        self._used_args: set[str] = set()

    async def run(self) -> Image:
        name = f"[internal] load build definition from {self._options.dockerfile_name}"
        with self._reported(name):
            parsed, (meta_args, stages) = self._parse()
        self._lex = ShellLex(parsed.directives.escape)
        self._stages = stages
        self._global = self._meta_args(meta_args)
        target = self._target_index(stages)
        try:
            for index in sorted(self._needed(target)):  # independent stages run at once
                self._stage(index)
            state = await self._stage(target)
        finally:  # a failed or cancelled build stops its other stages, and waits for them
            pending = [task for task in self._tasks.values() if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        image = await self._finish(state.image)
        unused = sorted(set(self._options.build_args) - self._used_args - PROXY_ARGS)
        if unused:
            self._emit(
                BuildEvent(0, "", WARNING, f"One or more build-args {unused} were not consumed")
            )
        return image

    # -- the definition ------------------------------------------------------------------

    def _parse(self) -> tuple[df.Dockerfile, tuple[list[df.ArgCommand], list[df.Stage]]]:
        parsed = df.parse(self._options.dockerfile)
        return parsed, df.stages(parsed)

    def _meta_args(self, meta_args: list[df.ArgCommand]) -> dict[str, str]:
        """The ARGs before the first FROM, and the platform ones BuildKit defines there:
        what FROM lines expand with, and what a stage's ARG without a value takes."""
        values = platform_args(self._options.platform)
        for command in meta_args:
            for name, default in command.pairs:
                value = self._arg_value(name, default, values)
                if value is not None:
                    values[name] = value
        return values

    def _arg_value(self, name: str, default: str | None, env: Mapping[str, str]) -> str | None:
        if name in self._options.build_args:
            self._used_args.add(name)
            return self._options.build_args[name]
        return None if default is None else self._lex.process_word(default, env)

    def _target_index(self, stages: list[df.Stage]) -> int:
        if not stages:
            raise BuildError("failed to solve: the Dockerfile has no FROM")
        if self._options.target is None:
            return len(stages) - 1
        for stage in stages:
            if stage.name == self._options.target.lower():
                return stage.index
        raise BuildError(
            f'failed to solve: target stage "{self._options.target}" could not be found'
        )

    # -- stages --------------------------------------------------------------------------

    def _needed(self, target: int) -> set[int]:
        """The stages ``target`` builds on (FROM, COPY --from, RUN --mount from=), itself
        included: only these are built."""
        needed, todo = set(), [target]
        while todo:
            index = todo.pop()
            if index not in needed:
                needed.add(index)
                todo += self._dependencies(self._stages[index])
        return needed

    def _dependencies(self, stage: df.Stage) -> list[int]:
        names = [stage.base]
        for command in stage.commands:
            if isinstance(command, df.CopyCommand) and command.from_:
                names.append(command.from_)
            elif isinstance(command, df.RunCommand):
                names += [value.partition("from=")[2].split(",")[0]
                          for value in command.mounts if "from=" in value]  # fmt: skip
        found = (self.stage_by_name(self._lex.process_word(name, self._global), stage.index)
                 for name in names)  # fmt: skip
        return [index for index in found if index is not None]

    def _stage(self, index: int) -> asyncio.Task[StageState]:
        """The task that builds stage ``index``, started on first demand."""
        if index not in self._tasks:
            self._tasks[index] = asyncio.ensure_future(self._build_stage(self._stages[index]))
        return self._tasks[index]

    def stage_by_name(self, name: str, before: int) -> int | None:
        """The index of stage ``name`` (a name or a number) defined before ``before``."""
        for stage in self._stages[:before]:
            if stage.name == name.lower() or str(stage.index) == name:
                return stage.index
        return None

    async def _build_stage(self, stage: df.Stage) -> StageState:
        label = self._label(stage)
        total = 1 + sum(isinstance(command, _FILE_STEPS) for command in stage.commands)
        base_name = self._lex.process_word(stage.base, self._global)
        if stage.platform:
            platform_args(self._lex.process_word(stage.platform, self._global))
        earlier = self.stage_by_name(base_name, stage.index)
        if earlier is not None:
            base = (await self._stage(earlier)).image
            self._emit_cached_from(f"[{label}1/{total}] FROM {base_name}")
        else:
            name = f"[{label}1/{total}] FROM {base_name}"
            with self._reported(name):
                base = await self._base_image(base_name)
        config = json.loads(json.dumps(base.config.get("config", {})))
        state = StageState(base, config, [], {}, _stamp(base))
        position = 1
        for trigger in config.pop("OnBuild", None) or []:
            command = _trigger(trigger)
            position += isinstance(command, _FILE_STEPS)
            await self._command(state, command, f"[{label}{position}/{total}] ", stage)
        for command in stage.commands:
            position += isinstance(command, _FILE_STEPS)
            await self._command(state, command, f"[{label}{position}/{total}] ", stage)
        await self._settle(state)
        return state

    def _emit_cached_from(self, name: str) -> None:
        self._emit(BuildEvent(self._next_number(), name, CACHED))

    def _label(self, stage: df.Stage) -> str:
        if len(self._stages) == 1:
            return ""
        return f"{stage.name or f'stage-{stage.index}'} "

    async def _base_image(self, name: str) -> Image:
        if name == "scratch":
            return await self._steps.scratch()
        return await self._find_image(name, self._options.pull)

    async def _finish(self, image: Image) -> Image:
        """The built image with --label applied, tagged; only now, as all went well."""
        number = self._next_number()
        name = "exporting to image"
        self._emit(BuildEvent(number, name, STARTED))
        started = time.monotonic()
        if self._options.labels:
            config = json.loads(json.dumps(image.config.get("config", {})))
            config["Labels"] = {**(config.get("Labels") or {}), **self._options.labels}
            image = await self._steps.relabel(image, config)
        self._emit(BuildEvent(number, name, OUTPUT, f"writing image {image.id} done\n"))
        for tag in self._options.tags:
            image = await self._tag(image.id, tag)  # the image as it is now, with the tag
            self._emit(BuildEvent(number, name, OUTPUT, f"naming to {tag} done\n"))
        self._emit(BuildEvent(number, name, DONE, elapsed=time.monotonic() - started))
        return image

    # -- steps ---------------------------------------------------------------------------

    async def _command(self, state: StageState, command: Any, prefix: str,
                       stage: df.Stage) -> None:  # fmt: skip
        handlers = {
            df.ArgCommand: self._arg, df.EnvCommand: self._set_env,
            df.LabelCommand: self._set_labels, df.MaintainerCommand: self._maintainer,
            df.CmdCommand: self._cmd, df.EntrypointCommand: self._entrypoint,
            df.ShellCommand: self._shell, df.ExposeCommand: self._expose,
            df.VolumeCommand: self._volume, df.UserCommand: self._user,
            df.StopsignalCommand: self._stopsignal, df.HealthcheckCommand: self._healthcheck,
            df.OnbuildCommand: self._onbuild, df.WorkdirCommand: self._workdir,
            df.CopyCommand: self._copy, df.AddCommand: self._copy, df.RunCommand: self._run,
        }  # fmt: skip
        name = prefix + command.instruction.original
        try:
            await handlers[type(command)](state, command, name, stage)
        except (InvalidArgumentError, NotFoundError) as error:
            if isinstance(error, BuildError):
                raise
            raise BuildError(f"failed to solve: {error}") from None

    def expansion_env(self, state: StageState) -> dict[str, str]:
        """What a step expands with: the stage's ARGs, then its ENV over them."""
        env = dict(state.args)
        for entry in state.config.get("Env") or []:
            key, _, value = entry.partition("=")
            env[key] = value
        return env

    def _expand(self, state: StageState, word: str) -> str:
        value, used = self._lex.process_word_with_matches(word, self.expansion_env(state))
        self._used_args.update(name for name in used if name in state.args)
        return value

    def _expand_words(self, state: StageState, words: Sequence[str]) -> list[str]:
        return [self._expand(state, word) for word in words]

    def _meta(self, state: StageState, created_by: str) -> None:
        """A metadata step: its effect is in ``state.config``; its history entry waits
        for the next step with files, or the end of the stage."""
        state.pending.append(created_by)

    async def _settle(self, state: StageState) -> None:
        """``state.image`` made to hold the config and history of the steps since."""
        if not state.pending and state.config == state.image.config.get("config", {}):
            return
        config = json.loads(json.dumps(state.config))
        key = step_key(state.image.id, "\n".join(state.pending), {}, _canonical(config))
        image = None if self._options.no_cache else await asyncio.to_thread(self._cache.find, key)
        if image is not None:
            state.image = await self._steps.image(image)
        else:
            made = await self._steps.derive(state.image, config, state.pending)
            await asyncio.to_thread(self._cache.record, key, made.id, state.image.id,
                                    "; ".join(state.pending))  # fmt: skip
            state.image = made
        state.pending = []

    async def _file_step(
        self,
        state: StageState,
        name: str,
        created_by: str,
        inputs: str,
        args: Mapping[str, str],
        make: Callable[[int, float], Awaitable[Image]],
    ) -> None:
        """A step with files: the cached image for its key, or ``make``'s, recorded."""
        await self._settle(state)
        key = step_key(state.image.id, created_by, args, inputs)
        number = self._next_number()
        if not self._options.no_cache:
            found = await asyncio.to_thread(self._cache.find, key)
            if found is not None:
                self._emit(BuildEvent(number, name, CACHED))
                state.image = await self._steps.image(found)
                return
        with self._reported(name, number) as step:
            image = await make(step.number, step.started)
            await asyncio.to_thread(self._cache.record, key, image.id, state.image.id, name)
        state.image = image

    @contextlib.contextmanager
    def _reported(self, name: str, number: int | None = None) -> Iterator[_Step]:
        """A step's STARTED, then its DONE; or its ERROR, raised as BuildKit's "failed to
        solve"."""
        step = _Step(number or self._next_number(), time.monotonic())
        self._emit(BuildEvent(step.number, name, STARTED))
        try:
            yield step
        except BerthError as error:
            self._emit(BuildEvent(step.number, name, ERROR, str(error), step.elapsed()))
            raise BuildError(f"failed to solve: {error}") from None
        self._emit(BuildEvent(step.number, name, DONE, elapsed=step.elapsed()))

    def _next_number(self) -> int:
        self._numbers += 1
        return self._numbers

    # -- metadata instructions -----------------------------------------------------------

    async def _arg(self, state: StageState, command: df.ArgCommand, name: str, _: df.Stage) -> None:
        shown = []
        for arg, default in command.pairs:
            value = self._arg_value(arg, default, self.expansion_env(state))
            if value is None and arg in self._global:
                value = self._global[arg]  # a meta ARG declared again, without a value
            if value is not None:
                state.args[arg] = value
            shown.append(f"{arg}={value}" if value is not None else arg)
        self._meta(state, "ARG " + " ".join(shown))

    async def _set_env(
        self, state: StageState, command: df.EnvCommand, name: str, _: df.Stage
    ) -> None:
        entries = dict(entry.partition("=")[::2] for entry in state.config.get("Env") or [])
        # every pair expands with the values from before the instruction, as in Docker
        pairs = [(self._expand(state, key), self._expand(state, value))
                 for key, value in command.pairs]  # fmt: skip
        entries.update(pairs)
        state.config["Env"] = [f"{key}={value}" for key, value in entries.items()]
        self._meta(state, "ENV " + " ".join(f"{key}={value}" for key, value in pairs))

    async def _set_labels(self, state: StageState, command: df.LabelCommand, name: str,
                          _: df.Stage) -> None:  # fmt: skip
        labels = dict(state.config.get("Labels") or {})
        shown = []
        for key, value in command.pairs:
            key, value = self._expand(state, key), self._expand(state, value)
            labels[key] = value
            shown.append(f"{key}={value}")
        state.config["Labels"] = labels
        self._meta(state, "LABEL " + " ".join(shown))

    async def _maintainer(self, state: StageState, command: df.MaintainerCommand, name: str,
                          _: df.Stage) -> None:  # fmt: skip
        # Deprecated; kept as the label Docker's docs suggest in its place.
        state.config["Labels"] = {**(state.config.get("Labels") or {}), "maintainer": command.name}
        self._meta(state, f"MAINTAINER {command.name}")

    async def _cmd(self, state: StageState, command: df.CmdCommand, name: str, _: df.Stage) -> None:
        state.config["Cmd"] = self._command_form(state, command.cmd, command.json)
        state.cmd_set = True
        self._meta(state, "CMD " + _go_quoted(state.config["Cmd"]))

    async def _entrypoint(self, state: StageState, command: df.EntrypointCommand, name: str,
                          _: df.Stage) -> None:  # fmt: skip
        state.config["Entrypoint"] = self._command_form(state, command.cmd, command.json)
        if not state.cmd_set:
            state.config.pop("Cmd", None)  # an inherited CMD no longer applies
        self._meta(state, "ENTRYPOINT " + _go_quoted(state.config["Entrypoint"]))

    def _command_form(self, state: StageState, cmd: Sequence[str], json_form: bool) -> list[str]:
        return list(cmd) if json_form else [*state.shell, " ".join(cmd)]

    async def _shell(
        self, state: StageState, command: df.ShellCommand, name: str, _: df.Stage
    ) -> None:
        state.config["Shell"] = list(command.shell)
        self._meta(state, "SHELL " + _go_quoted(command.shell))

    async def _expose(self, state: StageState, command: df.ExposeCommand, name: str,
                      _: df.Stage) -> None:  # fmt: skip
        ports = dict(state.config.get("ExposedPorts") or {})
        for word in command.ports:
            for port in self._lex.process_words(word, self.expansion_env(state)):
                ports[port if "/" in port else f"{port}/tcp"] = {}
        state.config["ExposedPorts"] = ports
        self._meta(state, "EXPOSE map[" + " ".join(f"{port}:{{}}" for port in sorted(ports)) + "]")

    async def _volume(self, state: StageState, command: df.VolumeCommand, name: str,
                      _: df.Stage) -> None:  # fmt: skip
        volumes = dict(state.config.get("Volumes") or {})
        for path in self._expand_words(state, command.paths):
            if not path:
                raise InvalidArgumentError("VOLUME specified can not be an empty string")
            volumes[path] = {}
        state.config["Volumes"] = volumes
        self._meta(state, "VOLUME " + _go_quoted(list(volumes)))

    async def _user(
        self, state: StageState, command: df.UserCommand, name: str, _: df.Stage
    ) -> None:
        state.config["User"] = self._expand(state, command.user)
        self._meta(state, f"USER {state.config['User']}")

    async def _stopsignal(self, state: StageState, command: df.StopsignalCommand, name: str,
                          _: df.Stage) -> None:  # fmt: skip
        state.config["StopSignal"] = self._expand(state, command.signal)
        self._meta(state, f"STOPSIGNAL {state.config['StopSignal']}")

    async def _healthcheck(self, state: StageState, command: df.HealthcheckCommand, name: str,
                           _: df.Stage) -> None:  # fmt: skip
        check: dict[str, Any] = {"Test": list(command.test)}
        for field_name, value in (("Interval", command.interval), ("Timeout", command.timeout),
                                  ("StartPeriod", command.start_period),
                                  ("StartInterval", command.start_interval),
                                  ("Retries", command.retries)):  # fmt: skip
            if value:
                check[field_name] = value
        state.config["Healthcheck"] = check
        self._meta(state, "HEALTHCHECK " + json.dumps(check, separators=(",", ":")))

    async def _onbuild(self, state: StageState, command: df.OnbuildCommand, name: str,
                       _: df.Stage) -> None:  # fmt: skip
        state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), command.expression]
        self._meta(state, f"ONBUILD {command.expression}")

    # -- instructions with files ---------------------------------------------------------

    def _absolute(self, state: StageState, path: str) -> str:
        """A container path, relative ones taken from the working directory."""
        if path.startswith("/"):
            return path
        joined = posixpath.join(state.config.get("WorkingDir") or "/", path)
        return joined + ("/" if path.endswith("/") and not joined.endswith("/") else "")

    async def _workdir(self, state: StageState, command: df.WorkdirCommand, name: str,
                       _: df.Stage) -> None:  # fmt: skip
        path = posixpath.normpath(self._absolute(state, self._expand(state, command.path)))
        state.config["WorkingDir"] = path
        created_by = f"WORKDIR {path}"
        config = dict(state.config)

        async def make(number: int, started: float) -> Image:
            return await self._steps.files(
                state.image, config, created_by, lambda rootfs: _workdir(rootfs, path, state.stamp)
            )

        await self._file_step(state, name, created_by, "", {}, make)

    async def _copy(self, state: StageState, command: df.CopyCommand | df.AddCommand, name: str,
                    stage: df.Stage) -> None:  # fmt: skip
        keyword = "ADD" if isinstance(command, df.AddCommand) else "COPY"
        if command.excludes or getattr(command, "parents", False):
            flag = "--exclude" if command.excludes else "--parents"
            raise InvalidArgumentError(f"{keyword} {flag} is not supported by berth build yet")
        sources = self._expand_words(state, command.sources)
        destination = self._absolute(state, self._expand(state, command.dest))
        chown = self._expand(state, command.chown) if command.chown else None
        mode = _chmod(command.chmod) if command.chmod else None
        from_ = getattr(command, "from_", None)
        from_ = self._expand(state, from_) if from_ else None
        # expanded: an ARG that changes the destination must miss the cache
        created_by = f"{keyword} {' '.join(sources)} {self._expand(state, command.dest)} # buildkit"
        flags = json.dumps([chown, command.chmod, from_], separators=(",", ":"))
        config = dict(state.config)
        urls = [source for source in sources if keyword == "ADD" and fetch.is_url(source)]
        if command.heredocs:
            sources = [doc.name for doc in command.heredocs]
        async with self._source_tree(from_, stage, command, urls) as tree:
            if urls:
                sources = [path.name for path in sorted(tree.root.iterdir())]
            selected = await asyncio.to_thread(self._select, tree, sources, keyword)
            inputs = flags + await asyncio.to_thread(tree.digest, selected)

            unpack = keyword == "ADD" and not urls  # ADD unpacks local archives only
            stamp = state.stamp

            async def make(number: int, started: float) -> Image:
                def write(rootfs: Path) -> None:
                    owner = copying.owner(rootfs, chown, keep=from_ is not None)
                    copying.copy(rootfs, tree, selected, destination, owner=owner, mode=mode,
                                 stamp=stamp, keyword=keyword, extract=unpack)  # fmt: skip

                return await self._steps.files(state.image, config, created_by, write)

            await self._file_step(state, name, created_by, inputs, {}, make)

    def _select(self, tree: Tree, sources: list[str], keyword: str) -> list[Selected]:
        for source in sources:
            if tree.shown == "" and outside(source):
                raise InvalidArgumentError(
                    f"{keyword} failed: forbidden path outside the build context: {source}"
                )
        return tree.select(sources)

    @contextlib.asynccontextmanager
    async def _source_tree(self, from_: str | None, stage: df.Stage, command: Any,
                           urls: list[str]) -> AsyncIterator[Tree]:  # fmt: skip
        if urls:  # ADD https://...: the files fetched are the sources
            if len(urls) != len(command.sources):
                raise InvalidArgumentError("berth cannot ADD URLs and local files in one step")
            checksum = getattr(command, "checksum", None)
            with self._steps.scratch_dir("fetch") as directory:
                for url in urls:
                    await asyncio.to_thread(fetch.download, url, directory, checksum)
                yield Tree(directory, None, shown="the downloads")
            return
        if command.heredocs:  # COPY <<EOF /file: the documents are the sources
            with self._steps.documents({doc.name: doc.content for doc in command.heredocs}) as root:
                yield Tree(root, None, shown="the Dockerfile's documents")
            return
        if from_ is None:
            if self._options.context is None:
                raise InvalidArgumentError(
                    f"{command.instruction.keyword} needs a build context: none was given"
                )
            yield Tree(self._options.context, self._options.ignore)
            return
        image = await self._image_named(from_, stage)
        with self._steps.read_only(image) as root:
            yield Tree(root, None, shown=from_)

    async def _run(self, state: StageState, command: df.RunCommand, name: str,
                   stage: df.Stage) -> None:  # fmt: skip
        argv = self._run_argv(state, command)
        args = {key: value for key, value in state.args.items()
                if key not in _env_names(state.config)}  # fmt: skip
        self._used_args.update(args)
        shown_args = (
            f"|{len(args)} " + " ".join(f"{k}={v}" for k, v in sorted(args.items())) + " "
            if args
            else ""
        )
        created_by = f"RUN {shown_args}{' '.join(argv)} # buildkit"
        if command.security == "insecure":
            raise InvalidArgumentError(
                "RUN --security=insecure is not supported: berth runs every step confined"
            )
        # BuildKit's "default" is the build's own network (--network, default bridge)
        network = self._options.network if command.network in (None, "default") else command.network
        script = command.executable_heredoc()
        mounts = Prepared(
            command.mounts,
            self._steps.cache_mounts,
            self._steps.tmp,
            self._options.secrets,
            lambda from_: self._mount_tree(from_, stage),
            {f"/dev/pipes/{script.name}": script.content} if script else {},
        )
        inputs = json.dumps([network, list(command.mounts)], separators=(",", ":"))
        config = dict(state.config)

        async def make(number: int, started: float) -> Image:
            def output(text: str) -> None:
                self._emit(BuildEvent(number, name, OUTPUT, text, time.monotonic() - started))

            async with mounts.ready() as (binds, tmpfs):
                return await self._steps.run(
                    state.image, argv, env=[f"{k}={v}" for k, v in args.items()],
                    network=network, mounts=binds, tmpfs=tmpfs, config=config,
                    created_by=created_by, output=output,
                )  # fmt: skip

        await self._file_step(state, name, created_by, inputs, args, make)

    async def _mount_tree(self, from_: str | None,
                          stage: df.Stage) -> contextlib.AbstractContextManager[Path]:  # fmt: skip
        """A RUN --mount's tree: the context, or a stage's or image's files (read-only)."""
        if from_ is None:
            if self._options.context is None:
                raise InvalidArgumentError("RUN --mount needs a build context: none was given")
            return contextlib.nullcontext(self._options.context)
        return self._steps.read_only(await self._image_named(from_, stage))

    async def _image_named(self, name: str, stage: df.Stage) -> Image:
        """A stage before ``stage`` by its name or number, else an image (pulled if missing)."""
        earlier = self.stage_by_name(name, stage.index)
        if earlier is not None:
            return (await self._stage(earlier)).image
        return await self._find_image(name, False)

    def _run_argv(self, state: StageState, command: df.RunCommand) -> list[str]:
        if command.json:
            return list(command.cmd)
        return [*state.shell, command.shell_command()]


def platform_args(requested: str | None) -> dict[str, str]:
    """BuildKit's automatic platform ARGs; berth builds for this host's platform only."""
    host = f"linux/{architecture()}"
    if requested and requested not in (host, architecture()):
        raise InvalidArgumentError(
            f'berth builds only for this host\'s platform {host}, not "{requested}"'
        )
    values = {}
    for prefix in ("BUILD", "TARGET"):
        values |= {f"{prefix}PLATFORM": host, f"{prefix}OS": "linux",
                   f"{prefix}ARCH": architecture(), f"{prefix}VARIANT": ""}  # fmt: skip
    return values


def _workdir(rootfs: Path, path: str, stamp: int) -> None:
    """WORKDIR's directory, made if missing; what it made gets ``stamp`` as its time."""
    times = copying.DirectoryTimes(rootfs, stamp)
    times.note(path)
    copying.make_directory(rootfs, path)
    times.restore()


def _stamp(image: Image) -> int:
    """The time of the directories a stage's steps make: its base image's creation."""
    created = image.config.get("created")
    return int(parse_timestamp(created) * 1e9) if created else 0


_FILE_STEPS = (df.RunCommand, df.CopyCommand, df.AddCommand, df.WorkdirCommand)


def _trigger(text: str) -> Any:
    """An ONBUILD trigger as the instruction it is."""
    parsed = df.parse(f"FROM scratch\n{text}\n")
    return df.stages(parsed)[1][0].commands[0]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _env_names(config: Mapping[str, Any]) -> set[str]:
    return {entry.partition("=")[0] for entry in config.get("Env") or []}


def _go_quoted(items: Sequence[str]) -> str:
    """A list as BuildKit's history shows it (Go's %q of a []string)."""
    return "[" + " ".join(json.dumps(item) for item in items) + "]"


def _chmod(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise InvalidArgumentError(
            f'invalid --chmod "{text}": give octal permissions like 755'
        ) from None
    if not 0 <= mode <= 0o7777:
        raise InvalidArgumentError(f'invalid --chmod "{text}": give octal permissions like 755')
    return mode

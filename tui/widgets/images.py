"""Local images, as ``docker images`` lists them: details and layers, run, tag, import,
pull, push and build, and a way to get a first image offline."""

from __future__ import annotations

import time
from collections.abc import Awaitable

from textual import on
from textual.binding import Binding
from textual.widgets import DataTable

from engine.api import BuildOptions, Container, Engine, Image
from tui.rows import IMAGE_COLUMNS, Row, image_rows
from tui.screens.build import BuildForm, BuildScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.image_detail import ImageDetailScreen
from tui.screens.image_forms import ImportForm
from tui.screens.inspect import InspectScreen
from tui.screens.prompt import PromptScreen
from tui.screens.run_form import RunForm
from tui.screens.transfer import PullForm, PushScreen
from tui.widgets.containers import ContainersView
from tui.widgets.engine_table import EngineTable
from tui.workers import run_engine_task

# Actions on the image under the cursor.
_ON_IMAGE = {"remove", "inspect", "run", "tag", "push"}


class ImagesView(EngineTable):
    """One row per tag; a row's key is the reference that removes or inspects it.

    Enter opens the image's details and layers. ``n`` makes a new container of it (the
    key TUIs give "new"; lazydocker has no run key, and ``r`` refreshes here as in the
    containers view).
    """

    COLUMNS = IMAGE_COLUMNS
    EMPTY_TEXT = "No images yet — press b to create busybox:latest from the host's busybox"
    BINDINGS = [
        Binding("n", "run", "Run…", id="images.run"),
        Binding("t", "tag", "Tag…", id="images.tag"),
        Binding("d", "remove", "Remove", id="images.remove"),
        Binding("i", "inspect", "Inspect", id="images.inspect"),
        Binding("I", "import", "Import…", id="images.import"),
        Binding("P", "pull", "Pull…", id="images.pull"),
        Binding("u", "push", "Push", id="images.push"),
        Binding("B", "build", "Build…", id="images.build"),
        # Not in the footer, for the others to fit in 120 columns: the empty view, where
        # busybox is wanted, names its key; and the view refreshes itself anyway.
        Binding("b", "starter", "Busybox", id="images.starter", show=False),
        Binding("r", "reload", "Refresh", id="images.refresh", show=False),
    ]

    def __init__(self, engine: Engine, *, id: str = "images", refresh: float | None = None) -> None:
        super().__init__(engine, id=id, refresh=refresh)
        self._count = 0

    async def fetch(self) -> list[Row]:
        summaries = await self.engine.images.list()
        self._count = len(summaries)
        now = time.time()
        return [row for summary in summaries for row in image_rows(summary, now)]

    def caption(self) -> str:
        return f"Images · {self._count} · Enter: details and layers"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _ON_IMAGE:
            return True if self.selected_key else None
        return True

    @on(DataTable.RowSelected)
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.app.push_screen(ImageDetailScreen(self.engine, str(event.row_key.value)))

    def action_reload(self) -> None:
        self.reload()

    def action_remove(self) -> None:
        ref = self.selected_key
        if ref is None:
            return

        def removal_confirmed(confirmed: bool | None) -> None:
            if confirmed:
                self._run(self._remove(ref), f"Removing {ref}")

        self.app.push_screen(ConfirmScreen(f"Remove image {ref}?", "Remove"), removal_confirmed)

    async def _remove(self, ref: str) -> None:
        try:
            # Not forced, as `docker rmi` isn't: an image a container uses stays, and the
            # engine's refusal becomes the notification.
            lines = await self.engine.images.remove(ref)
            self.notify("\n".join(lines), title=f"Removed {ref}", markup=False)
        finally:
            self.reload()

    def action_inspect(self) -> None:
        ref = self.selected_key
        if ref is not None:
            self._run(self._inspect(ref), f"Inspecting {ref}")

    async def _inspect(self, ref: str) -> None:
        document = await self.engine.images.inspect(ref)
        self.app.push_screen(InspectScreen(f"Image {ref}", document))

    def action_starter(self) -> None:
        self._run(self._create_starter(), "Creating busybox:latest")

    async def _create_starter(self) -> None:
        image = await self.engine.images.create_starter()
        self.notify(f"Created {', '.join(image.tags)} from the host's busybox", markup=False)
        self.reload()

    def action_run(self) -> None:
        ref = self.selected_key
        if ref is not None:
            self.app.push_screen(RunForm(self.engine, ref), self._ran)

    def _ran(self, container: Container | None) -> None:
        """Show the new container in the containers view; attach to it if it is interactive."""
        if container is None:
            return
        if not container.options.tty:  # an interactive one starts on the terminal next
            self.notify(f"Started {container.name} ({container.short_id})", markup=False)
        self._run(self._show_container(container), f"Showing {container.name}")

    async def _show_container(self, container: Container) -> None:
        await self.app.run_action("show_tab('containers')")
        view = self.app.query_one(ContainersView)
        view.show_rows(await view.fetch())
        table = view.table
        if container.id in table.rows:
            table.move_cursor(row=table.get_row_index(container.id))
        if container.options.tty:
            view.start_attached(container)

    def action_tag(self) -> None:
        ref = self.selected_key
        if ref is None:
            return

        def chosen(target: str | None) -> None:
            if target:
                self._run(self._tag(ref, target), f"Tagging {ref} as {target}")

        prompt = PromptScreen(f"Tag {ref} as:", ref, "REPOSITORY[:TAG], e.g. myapp:1.0")
        self.app.push_screen(prompt, chosen)

    async def _tag(self, ref: str, target: str) -> None:
        await self.engine.images.tag(ref, target)
        self.notify(f"Tagged {ref} as {target}", markup=False)
        self.reload()

    def action_import(self) -> None:
        self.app.push_screen(ImportForm(self.engine), self._imported)

    def _imported(self, image: Image | None) -> None:
        if image is not None:
            self.notify(f"Imported {', '.join(image.tags) or image.short_id}", markup=False)
            self.reload()

    def action_pull(self) -> None:
        self.app.push_screen(PullForm(self.engine, self._pulled))

    def _pulled(self, image: Image, reference: str) -> None:
        """Show the pulled image under the form, so that it is selected once the form closes."""
        # The tag the reference became: "app" is stored as "app:latest".
        tag = next((tag for tag in image.tags if tag in (reference, f"{reference}:latest")),
                   image.tags[0] if image.tags else image.id)  # fmt: skip
        self._run(self._show_image(tag), f"Showing {tag}")

    async def _show_image(self, key: str) -> None:
        self.show_rows(await self.fetch())
        if key in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(key))

    def action_build(self) -> None:
        self.app.push_screen(BuildForm(self.engine), self._build_defined)

    def _build_defined(self, options: BuildOptions | None) -> None:
        if options is None:
            return

        def built(image: Image | None) -> None:
            if image is not None:  # its first tag's row, or its id's when it has none
                key = options.tags[0] if options.tags else image.id
                self._run(self._show_image(key), f"Showing {key}")

        self.app.push_screen(BuildScreen(self.engine, options), built)

    def action_push(self) -> None:
        ref = self.selected_key
        if ref is None:
            return
        if ref.startswith("sha256:"):  # an untagged image's row is keyed by its id
            self.notify(f"{ref[7:19]} has no name to push: tag it first (berth tag)",
                        severity="warning", markup=False)  # fmt: skip
            return
        self.app.push_screen(PushScreen(self.engine, ref))

    def _run(self, work: Awaitable[None], description: str) -> None:
        run_engine_task(self, work, group="images", description=description)

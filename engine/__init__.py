"""berth's container engine. Front ends use :class:`engine.api.Engine` and nothing below it."""

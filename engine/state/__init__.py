"""Engine state: one SQLite database under the engine root."""

from engine.state.db import Database

__all__ = ["Database"]

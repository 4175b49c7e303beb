"""SQLite access shared by every berth process: CLIs, the TUI and monitors.

WAL lets readers proceed while one writer commits; writers take the lock up front
(BEGIN IMMEDIATE) so two processes never deadlock upgrading a read to a write.
One connection per thread, because the engine calls in from worker threads.

A full disk is reported as NoSpaceError, and reading goes on: a WAL reader needs the
``-shm`` wal-index, a file the first connection creates and the last one deletes, so
on a full disk no new connection can map it. A read then takes a private connection
in exclusive locking mode, which keeps the wal-index in memory (SQLite's documented
way to use WAL without shared memory), for that one statement.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from engine.errors import BerthError
from engine.state.migrations import MIGRATIONS
from engine.storage.space import is_no_space, no_space

BUSY_TIMEOUT_MS = 30_000
# Failing I/O counts as a full disk when less than this is left: SQLite grows its files
# by a page or, for the wal-index, by 32 KiB.
_NEARLY_FULL = 1 << 20
_READ_ONLY = "the engine root is read-only (choose a writable --root)"


class Database:
    """The engine database at ``path``, migrated to the newest schema on open.

    Writes that find the disk full raise NoSpaceError; reads and opening a current
    database work on a full disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        # SQLite reads a WAL database on a read-only file system when its -wal and -shm
        # files are there (a command that exits without a checkpoint leaves them), and
        # would fail only at the first write: say it now, for every command alike.
        if not os.access(path.parent, os.W_OK) and os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            raise BerthError(f"cannot open the engine database {path}: "
                             f"{_READ_ONLY}")  # fmt: skip
        self._migrate()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self, *, exclusive: bool = False) -> sqlite3.Connection:
        with self._opening():
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                if exclusive:  # before any statement reads the database and so opens its WAL
                    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = NORMAL")
            except BaseException:
                conn.close()  # at once: a half-open wal-index would hold its locks meanwhile
                raise
        conn.row_factory = sqlite3.Row
        return conn

    def _migrate(self) -> None:
        # A current schema needs no write, so a database on a full disk still opens.
        if self.query("PRAGMA user_version")[0][0] == len(MIGRATIONS):
            return
        with self._translated():
            self._connection().execute("PRAGMA journal_mode = WAL")
        with self.write() as tx:
            version = tx.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise BerthError(
                    f"cannot open the engine database {self.path}: its schema version "
                    f"{version} is newer than this berth knows (use a newer berth)"
                )
            for script in MIGRATIONS[version:]:
                for statement in _statements(script):
                    tx.execute(statement)
            tx.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from the start.

        Raises NoSpaceError, with nothing written, when the disk is full.
        """
        with self._translated():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            finally:
                # SQLite rolls back by itself after some errors (SQLITE_FULL among them).
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Rows of one read-only statement; they are read on a full disk too."""
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as error:
            if not self._no_space(error) or self._in_transaction():
                raise  # inside write(), which reports it
        self.close()  # its wal-index, open or half-open, would keep the lock from us
        with self._translated(), closing(self._connect(exclusive=True)) as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _in_transaction(self) -> bool:
        conn = getattr(self._local, "conn", None)
        return conn is not None and conn.in_transaction

    @contextmanager
    def _opening(self) -> Iterator[None]:
        """Report a database that cannot be opened as a BerthError saying why.

        A full disk stays an sqlite3.Error: query() reads on through a private connection.
        """
        try:
            yield
        except sqlite3.Error as error:
            if self._no_space(error):
                raise
            reason = _unopenable(self.path, error)
            raise BerthError(f"cannot open the engine database {self.path}: {reason}") from None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Report a full disk as NoSpaceError; every other error as it is."""
        try:
            yield
        except (sqlite3.Error, OSError) as error:
            if self._no_space(error):
                raise no_space(self.path.parent) from error
            raise

    def _no_space(self, error: sqlite3.Error | OSError) -> bool:
        if isinstance(error, OSError):
            return is_no_space(error)
        name = getattr(error, "sqlite_errorname", "")
        if name == "SQLITE_FULL":
            return True
        # A file SQLite could not create or grow: its errno is not exposed, the disk is.
        return name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) and _nearly_full(
            self.path.parent
        )


def _unopenable(path: Path, error: sqlite3.Error) -> str:
    """Why SQLite could not open ``path``, and what to do about it."""
    if getattr(error, "sqlite_errorname", "") == "SQLITE_NOTADB":
        return "file is not a database (move it aside, or choose another --root)"
    if path.is_dir():
        return "it is a directory (remove it, or choose another --root)"
    if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
        return _READ_ONLY
    return str(error)


def _nearly_full(directory: Path) -> bool:
    try:
        fs = os.statvfs(directory)
    except OSError:
        return False
    return fs.f_bfree * fs.f_frsize < _NEARLY_FULL or (fs.f_files > 0 and fs.f_ffree == 0)


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()

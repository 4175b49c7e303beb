"""The engine database: WAL, schema version, and several processes writing at once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from engine.errors import BerthError, NoSpaceError
from engine.state import Database
from engine.state.migrations import MIGRATIONS
from tests.small_fs import fill, small_tmpfs


def test_fresh_database_is_migrated_and_in_wal_mode(tmp_path):
    db = Database(tmp_path / "berth.db")
    assert db.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    assert db.query("PRAGMA journal_mode")[0][0] == "wal"
    Database(tmp_path / "berth.db")  # opening again changes nothing


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "berth.db"
    Database(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(BerthError, match="newer than this berth knows"):
        Database(path)


def test_failed_write_rolls_back(tmp_path):
    db = Database(tmp_path / "berth.db")
    with pytest.raises(ZeroDivisionError), db.write() as tx:
        tx.execute("INSERT INTO layers (id, size, created) VALUES ('sha256:x', 1, 'now')")
        1 / 0  # noqa: B018
    assert db.query("SELECT * FROM layers") == []


_WRITER = """
import sys
from pathlib import Path
from engine.state import Database
db = Database(Path(sys.argv[1]))
for n in range(50):
    with db.write() as tx:
        tx.execute("INSERT INTO layers (id, size, created) VALUES (?, 0, 'now')",
                   (f"sha256:{sys.argv[2]}-{n}",))
"""


def test_several_processes_write_at_once(tmp_path):
    path = tmp_path / "berth.db"
    Database(path)
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(i)], stderr=subprocess.PIPE)
        for i in range(6)
    ]
    errors = [w.communicate()[1].decode() for w in writers]
    assert [w.returncode for w in writers] == [0] * 6, json.dumps(errors)
    assert len(Database(path).query("SELECT id FROM layers")) == 300


# -- a full disk -----------------------------------------------------------------------


@pytest.fixture
def full_fs(tmp_path):
    with small_tmpfs(tmp_path / "fs", "size=2m") as directory:
        yield directory


def _insert(db, key):
    with db.write() as tx:
        tx.execute("INSERT INTO layers (id, size, created) VALUES (?, 0, ?)", (key, "x" * 500))


def test_a_database_opens_and_reads_on_a_full_disk(full_fs):
    path = full_fs / "berth.db"
    db = Database(path)
    _insert(db, "sha256:before")
    db.close()  # the last connection: its -wal and -shm files go with it
    ballast = fill(full_fs)
    db = Database(path)
    assert [row["id"] for row in db.query("SELECT id FROM layers")] == ["sha256:before"]
    with pytest.raises(NoSpaceError, match=rf"^no space left on the engine root \({full_fs}\)$"):
        _insert(db, "sha256:full")
    assert len(db.query("SELECT id FROM layers")) == 1
    ballast.unlink()
    _insert(db, "sha256:after")
    assert len(Database(path).query("SELECT id FROM layers")) == 2
    assert db.query("PRAGMA integrity_check")[0][0] == "ok"


def test_writes_that_fill_the_disk_fail_whole_and_resume_when_space_returns(full_fs):
    path = full_fs / "berth.db"
    db = Database(path)
    ballast = fill(full_fs, leave=64 * 1024)
    written = 0
    with pytest.raises(NoSpaceError):
        while True:
            _insert(db, f"sha256:{written}")
            written += 1
    assert written > 0
    # The connection is usable, no transaction is left open, and another process reads too.
    assert len(db.query("SELECT id FROM layers")) == written
    reader = subprocess.run(
        [sys.executable, "-c", _READER, str(path)], capture_output=True, text=True, check=False
    )
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == str(written)
    ballast.unlink()
    _insert(db, "sha256:after")
    assert len(db.query("SELECT id FROM layers")) == written + 1
    assert db.query("PRAGMA integrity_check")[0][0] == "ok"


_READER = """
import sys
from pathlib import Path
from engine.state import Database
print(len(Database(Path(sys.argv[1])).query("SELECT id FROM layers")))
"""


def test_a_new_database_on_a_full_disk_is_no_space(full_fs):
    fill(full_fs)
    with pytest.raises(NoSpaceError):
        Database(full_fs / "berth.db")


def test_other_errors_are_not_taken_for_a_full_disk(full_fs):
    db = Database(full_fs / "berth.db")
    fill(full_fs)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        db.query("SELECT * FROM no_such_table")
    with pytest.raises(sqlite3.IntegrityError), db.write() as tx:
        tx.execute("INSERT INTO layers (id, size, created) VALUES ('x', NULL, 'now')")

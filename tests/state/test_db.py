"""The engine database: WAL, schema version, and several processes writing at once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from engine.state import Database
from engine.state.migrations import MIGRATIONS


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
    with pytest.raises(RuntimeError, match="newer than this berth knows"):
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

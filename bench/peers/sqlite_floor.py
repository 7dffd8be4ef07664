"""The floor under every system's per-step figure.

One small INSERT committed per step on the same kind of SQLite file (WAL, the measure's synchronous
level), from Python's sqlite3.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def main() -> None:
    args = common.parse()
    if args.role not in ("step-full", "step-normal"):
        common.emit([])
        return
    sync = common.synchronous_of(args.role)
    connection = sqlite3.connect(args.dir / f"floor-{args.role}.sqlite", isolation_level=None)
    common.set_pragmas(connection, sync)
    connection.execute("CREATE TABLE IF NOT EXISTS steps (id INTEGER PRIMARY KEY, output TEXT)")

    def commits() -> None:
        for i in range(args.steps):
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO steps (output) VALUES (?)", (str(i),))
            connection.execute("COMMIT")

    commits()  # warm-up
    samples = [common.timed(commits) / args.steps for _ in range(args.count)]
    where = "one INSERT + COMMIT per step, in process (sqlite3) " + common.observed(
        common.sqlite3_query(connection)
    )
    connection.close()
    common.emit([common.row("one commit", f"{common.sqlite_setting(sync)}, {where}", samples)])


if __name__ == "__main__":
    main()

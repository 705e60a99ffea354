"""The scale branch of migrations goes down and up again on both stores."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from haechi.engine import Engine
from haechi.store.db import MIGRATIONS

TABLES = {"backscan_jobs", "backscan_items", "backscan_matches", "scale_cursors"}


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine.db.engine).get_table_names()) & TABLES


def test_branch_downgrades_and_upgrades(engine: Engine) -> None:
    assert _tables(engine) == TABLES
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.db.url.replace("%", "%%"))
    with engine.db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "scale@-1")
    assert _tables(engine) == set()
    assert "banks" in inspect(engine.db.engine).get_table_names()  # other branches stay
    engine.db.migrate()
    assert _tables(engine) == TABLES

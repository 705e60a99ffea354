"""The hand-written migration creates exactly what the models declare, on both stores."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from haechi.engine import Engine
from haechi.store.models import Base
from haechi.tracking import models as tracking_models


def test_migration_matches_models(engine: Engine) -> None:
    assert tracking_models.TrackedMessage.__tablename__ in Base.metadata.tables
    with engine.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    def ours(item: object) -> bool:
        text = repr(item)
        return "tracking_" in text

    flat = [d for group in diff for d in (group if isinstance(group, list) else [group])]
    assert [d for d in flat if ours(d)] == []


def _tracking_tables(engine: Engine) -> set[str]:
    from sqlalchemy import inspect

    return {t for t in inspect(engine.db.engine).get_table_names() if t.startswith("tracking_")}


def test_branch_downgrades_and_upgrades(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    from haechi.store.db import MIGRATIONS

    expected = {"tracking_rooms", "tracking_users", "tracking_media", "tracking_messages"}
    assert _tracking_tables(engine) == expected
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.db.url.replace("%", "%%"))
    with engine.db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "tracking@-1")
    assert _tracking_tables(engine) == set()
    engine.db.migrate()
    assert _tracking_tables(engine) == expected

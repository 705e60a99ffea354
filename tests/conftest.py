"""Fixtures shared by the whole suite.

``engine`` runs each test against both stores: an SQLite file and the PostgreSQL server
(``HAECHI_TEST_POSTGRES_URL``, default the local server; each run makes a database of its
own beside the one named there). Without a reachable server the
PostgreSQL half is skipped with that reason, unless ``HAECHI_REQUIRE_POSTGRES=1`` (set in
CI), where it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine as Engine_
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from haechi.engine import Engine

POSTGRES_URL = os.environ.get(
    "HAECHI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/haechi_test"
)
#: Tables that hold one bookkeeping row from their migration: reset, never emptied.
_SINGLETON_RESETS = {"evidence_log_head": "UPDATE evidence_log_head SET size = 0"}


def _admin(url: str) -> Engine_:
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test run's own (two suites running at once never collide),
    dropped at the end."""
    base = make_url(POSTGRES_URL)
    url = base.set(database=f"{base.database}_{os.getpid()}")
    admin = _admin(POSTGRES_URL)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    except Exception as exc:
        admin.dispose()
        reason = f"needs PostgreSQL at {base.render_as_string(hide_password=True)}: {exc}"
        if os.environ.get("HAECHI_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    rendered = url.render_as_string(hide_password=False)
    yield rendered
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def _wipe_postgres(url: str) -> None:
    """Empty every domain's tables (the schema stays, migrations are not re-run)."""
    eng = create_engine(url)
    with eng.begin() as conn:
        present = set(conn.scalars(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
        tables = sorted(present - {"alembic_version"} - set(_SINGLETON_RESETS))
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        for table, statement in _SINGLETON_RESETS.items():
            if table in present:
                conn.execute(text(statement))
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'haechi.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _wipe_postgres(url)
    return url


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(data_dir=tmp_path / "data", database_url=database_url)
    yield eng
    eng.close()


@pytest.fixture
def make_engine(database_url: str, tmp_path: Path) -> Iterator[object]:
    """Build further engines on the same store (restarts, a second replica)."""
    made: list[Engine] = []

    def factory(**overrides: object) -> Engine:
        options: dict[str, object] = {"data_dir": tmp_path / "data", "database_url": database_url}
        options.update(overrides)
        eng = Engine(**options)
        made.append(eng)
        return eng

    yield factory
    for eng in made:
        eng.close()

"""Fixtures shared by the whole suite.

``engine`` runs each test against both stores: an SQLite file and the PostgreSQL server
(``HAECHI_TEST_POSTGRES_URL``, default the local server). Without a reachable server the
PostgreSQL half is skipped with that reason, unless ``HAECHI_REQUIRE_POSTGRES=1`` (set in
CI), where it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from haechi.engine import Engine

POSTGRES_URL = os.environ.get(
    "HAECHI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/haechi_test"
)
_TABLES = ("bank_entries", "banks", "entry_changes", "api_keys")


def _postgres_ready() -> str | None:
    """Create the test database if needed; return None when usable, else why not."""
    url = make_url(POSTGRES_URL)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                 {"n": url.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    except Exception as exc:
        return f"needs PostgreSQL at {url.render_as_string(hide_password=True)}: {exc}"
    finally:
        admin.dispose()
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    reason = _postgres_ready()
    if reason is not None:
        if os.environ.get("HAECHI_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return POSTGRES_URL


def _wipe_postgres(url: str) -> None:
    eng = create_engine(url)
    with eng.begin() as conn:
        present = set(conn.scalars(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
        tables = [t for t in _TABLES if t in present]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
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

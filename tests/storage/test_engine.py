"""open_storage: a path opens a SQLite file, a postgresql:// URL the PostgreSQL engine, and
a URL of any other database is refused without leaving anything behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_mcp.storage import Storage, StoreError, open_storage


def test_a_path_opens_a_sqlite_file(db_path: Path) -> None:
    with open_storage(db_path) as store:
        assert type(store) is Storage
    assert db_path.exists()


@pytest.mark.parametrize("url", ["mysql+pymysql://x/y", "s3://b/k"])
def test_a_url_of_another_database_is_refused(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=r"database URL.*postgresql://"):
        open_storage(url)
    assert list(tmp_path.iterdir()) == []


def test_a_postgresql_url_opens_the_postgresql_engine(postgres_url: str) -> None:
    from perf_mcp.storage.postgres import PostgresStorage

    with open_storage(postgres_url) as store:
        assert isinstance(store, PostgresStorage)

"""The series table: one row per kind, name and method, shared by all writers."""

from __future__ import annotations

from collections.abc import Iterable

from perf_mcp.storage.base import Read, StoreBase

SeriesKey = tuple[str, str, str]  # kind, name, method ("" where the kind has none)
_LOOKUP_CHUNK = 300  # series looked up per statement (3 parameters each)


class SeriesTables(StoreBase):
    """Series ids, resolved in bulk and cached once committed."""

    _series_ids: dict[SeriesKey, int]
    _totals_ids: dict[str, dict[int, tuple[str, str]]]  # per kind, once its row exists

    def _resolve_series(self, keys: Iterable[SeriesKey]) -> dict[SeriesKey, int]:
        """The ids of ``keys`` not cached yet, creating missing series rows (inside the
        caller's transaction: the caller caches the ids once it commits)."""
        # In one order everywhere: writers creating the same series at once wait, never deadlock.
        missing = sorted(key for key in set(keys) if key not in self._series_ids)
        if not missing:
            return {}
        self._insert("INSERT OR IGNORE INTO series (kind, name, method)", missing)
        found: dict[SeriesKey, int] = {}
        for i in range(0, len(missing), _LOOKUP_CHUNK):
            chunk = missing[i : i + _LOOKUP_CHUNK]
            values = ", ".join("(?, ?, ?)" for _ in chunk)
            rows = self._conn.execute(
                "SELECT id, kind, name, method FROM series "
                f"WHERE (kind, name, method) IN (VALUES {values})",
                [part for key in chunk for part in key],
            )
            found.update(((kind, name, method), sid) for sid, kind, name, method in rows)
        return found

    def series_ids(
        self,
        kind: str,
        *,
        name: str | None = None,
        method: str | None = None,
        totals: bool = False,
    ) -> dict[int, tuple[str, str]]:
        """Series of a kind by id, as (name, method): the all-series total, or the others."""
        if totals and kind in self._totals_ids:  # one row per kind, its id fixed once made
            return dict(self._totals_ids[kind])
        sql = "SELECT id, name, method FROM series WHERE kind = ?"
        params: list[str] = [kind]
        if totals:
            sql += " AND name = '*'"
        else:
            sql += " AND name != '*'"
            if name is not None:
                sql += " AND name = ?"
                params.append(name)
            if method is not None:
                sql += " AND method = ?"
                params.append(method)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        found = {sid: (n, m) for sid, n, m in rows}
        if totals and found:
            self._totals_ids[kind] = dict(found)
        return found

    def series_read(self, kinds: Iterable[str]) -> Read[dict[str, dict[int, tuple[str, str]]]]:
        """Every series of ``kinds``, totals too, by kind then id, as (name, method): one
        statement where ``series_ids`` asks once per kind and filter."""
        kinds = list(kinds)

        def decode(rows: list[tuple[int, str, str, str]]) -> dict[str, dict[int, tuple[str, str]]]:
            found: dict[str, dict[int, tuple[str, str]]] = {kind: {} for kind in kinds}
            for sid, kind, name, method in rows:
                found[kind][sid] = (name, method)
            return found

        marks = ", ".join("?" * len(kinds))
        sql = f"SELECT id, kind, name, method FROM series WHERE kind IN ({marks})"
        return Read(sql, kinds, decode)

    def known_names(self, kind: str, limit: int = 500) -> list[str]:
        """Series names of a kind, for completion (totals and __other__ left out)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT name FROM series WHERE kind = ? AND name NOT IN ('*', '__other__')"
                " ORDER BY name LIMIT ?",
                (kind, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def _window_ids(self, ids: Iterable[int]) -> str:
        """What goes in ``series_id IN (...)`` beside a window's tier and time ranges ('' for
        no ids): the ids themselves here; PostgreSQL's differs (``postgres/tables.py``)."""
        return id_list(ids)


def id_list(ids: Iterable[int]) -> str:
    """Series ids for an IN (...) clause: integers from our own table, so inlined."""
    return ",".join(str(int(i)) for i in ids)

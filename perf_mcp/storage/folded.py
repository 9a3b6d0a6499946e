"""Names the series budget folded into ``__other__``: exact counts, and a bounded sample.

The counts are the ``__other__`` series' bucket rows (every folded record is counted there,
in the same transaction), so they are exact for any window and expire with the buckets. The
names themselves are kept as a sample: the newest ``FOLDED_NAMES_KEPT`` per kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from perf_mcp.core.series import OTHER
from perf_mcp.core.window import TIERS, plan_window
from perf_mcp.storage.base import Read
from perf_mcp.storage.buckets import REQUESTS, RUNS, BucketTables, plan_clause

FOLDED_NAMES_KEPT = 1000  # per kind


class FoldedTables(BucketTables):
    """Counting and sampling folded names."""

    def _write_folded(self, folded: Iterable[tuple[str, str]], now: float) -> None:
        """Remember the batch's folded names (inside the caller's transaction), keeping the
        newest ``FOLDED_NAMES_KEPT`` of each kind."""
        by_kind: dict[str, dict[str, None]] = {}
        for kind, name in folded:
            by_kind.setdefault(kind, {})[name] = None
        for kind, names in by_kind.items():
            self._insert(
                "INSERT OR REPLACE INTO folded_names (kind, name, seen_at)",
                [(kind, name, now) for name in list(names)[-FOLDED_NAMES_KEPT:]],
            )
            self._conn.execute(
                "DELETE FROM folded_names WHERE kind = ? AND name NOT IN (SELECT name FROM "
                "folded_names WHERE kind = ? ORDER BY seen_at DESC LIMIT ?)",
                (kind, kind, FOLDED_NAMES_KEPT),
            )

    def _expire_folded(self, now: float) -> None:
        kept_s = max(self.retention_s.values(), default=math.inf)
        self._conn.execute("DELETE FROM folded_names WHERE seen_at < ?", (now - kept_s,))

    def folded_counts(self, since: float | None = None) -> dict[str, int]:
        """Records each kind folded into __other__ since ``since`` (None: all that is kept),
        across all writers; kinds that folded none are left out."""
        return self.read(self.folded_counts_read(since))

    def folded_counts_read(self, since: float | None = None) -> Read[dict[str, int]]:
        """``folded_counts`` as a Read: one statement over both bucket tables."""
        if since is None:  # every row of the tier kept longest
            tier = max(TIERS, key=lambda t: self.retention_s.get(t, math.inf))
            where, params = "tier = ?", [tier]
        else:
            now = self._clock()
            where, params = plan_clause(
                plan_window(since, None, now=now, retention_s=self.retention_s)
            )
        sql = " UNION ALL ".join(
            f"SELECT s.kind, SUM(b.count) FROM {table.name} b "
            "JOIN series s ON s.id = b.series_id "
            f"WHERE s.name = ? AND {where} GROUP BY s.kind"
            for table in (REQUESTS, RUNS)
        )
        return Read(sql, [OTHER, *params] * 2, lambda rows: {kind: n for kind, n in rows if n})

    def folded_names(self, kind: str, limit: int = 100) -> list[str]:
        """A sample of the names ``kind`` folded into __other__, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT name FROM folded_names WHERE kind = ? ORDER BY seen_at DESC, name LIMIT ?",
                (kind, limit),
            ).fetchall()
        return [name for (name,) in rows]

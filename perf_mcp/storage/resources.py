"""Resource samples (the sampler's JSON), shared by every server on the store."""

from __future__ import annotations

import math

from perf_mcp.storage.base import StoreBase

RESOURCE_SAMPLES_KEPT_S = 7 * 86400


class ResourceTables(StoreBase):
    """Writing and reading resource samples."""

    def add_resource_sample(self, timestamp: float, sample_json: str) -> None:
        """Store one resource sample (the sampler's JSON), written at once."""
        with self._writing():
            self._conn.execute(
                "INSERT INTO resource_samples (ts, source, sample) VALUES (?, ?, ?)",
                (timestamp, self.source, sample_json),
            )

    def resource_samples(self, since: float, limit: int = 10_000) -> list[str]:
        """Resource samples since ``since``, oldest first, as the sampler's JSON."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT sample FROM (SELECT ts, sample FROM resource_samples WHERE ts >= ? "
                "ORDER BY ts DESC LIMIT ?) AS newest ORDER BY ts",
                (since, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def resource_samples_spread(self, since: float, limit: int) -> tuple[list[str], int]:
        """At most ``limit`` resource samples since ``since``, spread evenly (every k-th,
        counting back from the newest, which is always included), oldest first; and how
        many the window holds."""
        with self._lock:
            (count,) = self._conn.execute(
                "SELECT count(*) FROM resource_samples WHERE ts >= ?", (since,)
            ).fetchone()
            step = max(1, math.ceil(count / max(1, limit)))
            rows = self._conn.execute(
                "SELECT sample FROM resource_samples WHERE id IN (SELECT id FROM "
                "(SELECT id, row_number() OVER (ORDER BY ts DESC, id DESC) AS n "
                "FROM resource_samples WHERE ts >= ?) AS numbered WHERE (n - 1) % ? = 0) "
                "ORDER BY ts, id",
                (since, step),
            ).fetchall()
        return [r[0] for r in rows], int(count)

    def resource_means(
        self, start: float, end: float, metrics: tuple[str, ...]
    ) -> tuple[dict[str, float | None], int]:
        """The mean of each top-level metric of the samples with ``start <= ts < end`` (None:
        no sample had it), and how many samples there were."""
        columns = "".join(f", avg({self._json_number('sample', m)})" for m in metrics)
        with self._lock:
            count, *means = self._conn.execute(
                f"SELECT count(*){columns} FROM resource_samples WHERE ts >= ? AND ts < ?",
                (start, end),
            ).fetchone()
        return dict(zip(metrics, means, strict=True)), int(count)

    def _expire_resources(self, now: float) -> None:
        self._conn.execute(
            "DELETE FROM resource_samples WHERE ts < ?", (now - RESOURCE_SAMPLES_KEPT_S,)
        )

"""Deploy markers: when a version went out, shared by every process on the store."""

from __future__ import annotations

from perf_mcp.core.models import DeployMarker
from perf_mcp.storage.base import Read, StoreBase


class MarkerTables(StoreBase):
    """Writing and reading deploy markers."""

    writes: int  # successful changes through this connection (the answer caches watch it)

    def add_deploy_marker(self, timestamp: float, version: str, note: str | None) -> DeployMarker:
        """Store one deploy marker, written at once."""
        with self._writing():
            self._conn.execute(
                "INSERT INTO deploy_markers (ts, version, note) VALUES (?, ?, ?)",
                (timestamp, version, note),
            )
            self.writes += 1  # cached answers (the summary's deploys) are stale now
        return DeployMarker(version=version, at=timestamp, note=note)

    def deploy_markers(
        self, start: float, end: float | None = None, limit: int = 100
    ) -> list[DeployMarker]:
        """Deploy markers with ``start <= at < end`` (no end: up to now), newest first."""
        return self.read(self.deploy_markers_read(start, end, limit))

    def deploy_markers_read(
        self, start: float, end: float | None = None, limit: int = 100
    ) -> Read[list[DeployMarker]]:
        """``deploy_markers`` as a Read."""
        sql = "SELECT version, ts, note FROM deploy_markers WHERE ts >= ?"
        params: list[float] = [start]
        if end is not None:
            sql += " AND ts < ?"
            params.append(end)
        return Read(
            f"{sql} ORDER BY ts DESC, id DESC LIMIT ?",
            (*params, limit),
            lambda rows: [DeployMarker(version=v, at=ts, note=note) for v, ts, note in rows],
        )

    def last_deploy_marker(self, before: float) -> DeployMarker | None:
        """The newest deploy marker at or before ``before``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT version, ts, note FROM deploy_markers WHERE ts <= ? "
                "ORDER BY ts DESC, id DESC LIMIT 1",
                (before,),
            ).fetchone()
        return None if row is None else DeployMarker(version=row[0], at=row[1], note=row[2])

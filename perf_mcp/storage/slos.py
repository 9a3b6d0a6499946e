"""Service level objectives (``set_slo``), shared by every process on the store."""

from __future__ import annotations

from perf_mcp.core.alerts.slo import Slo
from perf_mcp.storage.base import StoreBase


class SloTables(StoreBase):
    """Writing and reading SLOs, kept as their JSON by name."""

    def save_slo(self, slo: Slo) -> bool:
        """Store ``slo``, replacing one of the same name; True if it replaced one."""
        with self._transaction() as conn:
            replaced = conn.execute("DELETE FROM slos WHERE name = ?", (slo.name,))
            conn.execute(
                "INSERT INTO slos (name, slo, updated_at) VALUES (?, ?, ?)",
                (slo.name, slo.model_dump_json(), slo.updated_at),
            )
        return replaced.rowcount > 0

    def load_slos(self) -> list[Slo]:
        """Every stored SLO, by name."""
        with self._lock:
            rows = self._conn.execute("SELECT slo FROM slos ORDER BY name").fetchall()
        return [Slo.model_validate_json(text) for (text,) in rows]

    def delete_slo(self, name: str) -> bool:
        """Forget the SLO called ``name``; False if there was none."""
        with self._writing():
            cursor = self._conn.execute("DELETE FROM slos WHERE name = ?", (name,))
        return cursor.rowcount > 0

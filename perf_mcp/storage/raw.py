"""Raw records: the last agent runs and tool calls, and the slowest requests as exemplars.

Each table keeps the newest ``raw_records`` rows (the store's setting).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from perf_mcp.core.models import ConversationCost, SlowRequest
from perf_mcp.core.series import RequestAcc
from perf_mcp.storage.base import Read, StoreBase

SLOW_REQUESTS_PER_FLUSH = 50
# ts, tool_name, agent_name, duration_ms, success, error_type, call_id, result_chars: a
# tool_calls row
RawToolCall = tuple[float, str, str | None, float, bool, str | None, str | None, int | None]
# ts, agent_name, duration_ms, success, error_type, model, provider, input_tokens, output_tokens,
# cache_read_tokens, cache_write_tokens, cost_usd, tool_calls (how many), run_id,
# conversation_id, cost_source ("reported", "estimated", "unpriced"), price_date and
# price_table (of an estimate): an agent_runs row
RawAgentRun = tuple[
    float, str, float, bool, str | None, str | None, str | None, int, int, int, int, float,
    int, str | None, str | None, str, str | None, str | None,
]  # fmt: skip


class RawTables(StoreBase):
    """Writing and reading raw records."""

    def _write_raw(
        self,
        requests: Mapping[int, Mapping[tuple[str, str], RequestAcc]],
        agent_runs: Sequence[RawAgentRun],
        tool_calls: Sequence[RawToolCall],
    ) -> None:
        """Insert the records (inside the caller's transaction), then drop the oldest."""
        self._insert(
            "INSERT INTO agent_runs (ts, agent_name, duration_ms, success, error_type, model, "
            "provider, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
            "cost_usd, tool_calls, run_id, conversation_id, cost_source, price_date, price_table)",
            agent_runs,
        )
        self._insert(
            "INSERT INTO tool_calls (ts, tool_name, agent_name, duration_ms, success, error_type, "
            "call_id, result_chars)",
            tool_calls,
        )
        slowest = sorted(
            (
                (acc.max_ms, acc.slowest_ts, name, method, acc.slowest_status)
                for series in requests.values()
                for (name, method), acc in series.items()
                if name != "*" and acc.count
            ),
            reverse=True,
        )[:SLOW_REQUESTS_PER_FLUSH]
        self._insert(
            "INSERT INTO slow_requests (duration_ms, ts, endpoint, method, status_code)", slowest
        )
        added = {"agent_runs": agent_runs, "tool_calls": tool_calls, "slow_requests": slowest}
        for table in (table for table, rows in added.items() if rows):
            self._conn.execute(
                f"DELETE FROM {table} WHERE id <= (SELECT MAX(id) FROM {table}) - ?",
                (self.raw_records,),
            )

    def slowest_requests(self, since: float, limit: int) -> list[SlowRequest]:
        """The slowest requests kept as exemplars since ``since``."""
        return self.read(self.slowest_requests_read(since, limit))

    def slowest_requests_read(self, since: float, limit: int) -> Read[list[SlowRequest]]:
        """``slowest_requests`` as a Read."""
        return Read(
            "SELECT endpoint, method, status_code, duration_ms, ts FROM slow_requests "
            "WHERE ts >= ? ORDER BY duration_ms DESC LIMIT ?",
            (since, limit),
            lambda rows: [
                SlowRequest(endpoint=e, method=m, status_code=c, duration_ms=d, timestamp=t)
                for e, m, c, d, t in rows
            ],
        )

    def conversation_costs(
        self, since: float, agent_name: str | None, limit: int
    ) -> list[ConversationCost]:
        """The costliest conversations among the raw runs kept since ``since`` (of one agent,
        if named), costliest first."""
        where = "ts >= ? AND conversation_id IS NOT NULL"
        params: tuple[float | str, ...] = (since,)
        if agent_name is not None:
            where, params = f"{where} AND agent_name = ?", (since, agent_name)
        with self._lock:
            rows = self._conn.execute(
                "SELECT conversation_id, COUNT(*), SUM(cost_usd), "
                "SUM(CASE cost_source WHEN 'estimated' THEN cost_usd ELSE 0 END) "
                f"FROM agent_runs WHERE {where} GROUP BY conversation_id "
                "ORDER BY 3 DESC, 1 LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [
            ConversationCost(conversation_id=c, runs=n, cost_usd=cost, estimated_cost_usd=est)
            for c, n, cost, est in rows
        ]

"""Monitor: the recording and query API every part of perf-mcp calls.

>>> from perf_mcp import Monitor
>>> with Monitor(":memory:") as m:
...     m.record_request("/users/42", "GET", 200, 12.5)
...     m.get_endpoint_stats().endpoints[0].endpoint
'/users/{id}'
"""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from perf_mcp import telemetry
from perf_mcp.config import Settings
from perf_mcp.core import models as m
from perf_mcp.core import validation as check
from perf_mcp.core.alerts import Threshold
from perf_mcp.core.alerts import slo as slos
from perf_mcp.core.compare import Baseline, WindowComparison
from perf_mcp.core.explain import Explanation
from perf_mcp.core.timeline import Timeline, TimelineKind
from perf_mcp.core.validation import InvalidInputError
from perf_mcp.query.cache import NotCached, Q, cached_only, without_io
from perf_mcp.query.compare import CompareQuery
from perf_mcp.query.explain import ExplainQuery
from perf_mcp.query.series import TimelineQuery
from perf_mcp.query.slos import SloQuery
from perf_mcp.query.summary import SummaryQuery
from perf_mcp.query.windows import WindowQueries
from perf_mcp.recording.flusher import Flusher, FlushFailure, RefusedBuffer
from perf_mcp.recording.target import open_target
from perf_mcp.storage import SeriesAgg, Storage, StoreError

RequestRecorder = Callable[[str, str, int, float, int | None, int | None], None]
"""``record_request``'s positional arguments without ``timestamp`` (``request_recorder``)."""


class Monitor:
    """Records requests, agent runs and tool calls; answers window queries over the store.

    ``db_path``: None for ``$PERF_MCP_DB`` or the user's data directory, ``":memory:"`` for a
    private store; ``url`` (or ``$PERF_MCP_URL`` without a ``db_path``) pushes the records
    to a perf-mcp server over OTLP instead (perf_mcp.recording.push). A record call checks
    its values (raising InvalidInputError, naming the field) and queues the sample; a daemon
    thread folds the queued samples into 10 s accumulators and writes them every
    ``flush_interval_s``. Queries flush first, except the summary, which adds the records
    still in memory to the stored ones.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None = None,
        *,
        flush_interval_s: float | None = None,
        series_budget: int | None = None,
        clock: Callable[[], float] = time.time,
        start_flusher: bool = True,
        settings: Settings | None = None,
        url: str | None = None,
    ) -> None:
        settings = settings or Settings()
        self.settings = settings
        self.flush_interval_s = flush_interval_s or settings.flush_interval_s
        self._clock = clock
        self.storage, pending = open_target(db_path, url, settings, clock, series_budget)
        self._flusher = Flusher(self.storage, pending, clock)
        # The record methods' handles: the buffers and their bound (swapped out by close()).
        self._requests: Any = self._flusher.requests
        self._unchecked_requests: Any = self._flusher.unchecked_requests
        self._runs: Any = self._flusher.runs
        self._tools: Any = self._flusher.tools
        self._capacity = settings.buffer_samples
        if self.storage.read_only is not None:  # queries work; a record says why it can't
            refused = RefusedBuffer(self.storage.read_only_error())
            self._requests = self._unchecked_requests = self._runs = self._tools = refused
        self._queries = WindowQueries(self.storage, settings, clock, self._flush_for_query)
        self._summary = SummaryQuery(self._queries, self._flusher)
        self._explain = ExplainQuery(self._queries)  # keeps past windows' metrics
        atexit.register(self.close)  # an exiting app keeps what it recorded since the last flush
        if start_flusher:
            self._flusher.start(self.flush_interval_s)

    @property
    def flusher_alive(self) -> bool | None:
        """Whether the background flush thread runs (None: started without one)."""
        return self._flusher.alive

    @property
    def db_path(self) -> str:
        """The store's path (":memory:" for a private store)."""
        return self.storage.path

    @property
    def drops(self) -> dict[str, int]:
        """What this process dropped since it started (see Flusher.drops)."""
        return self._flusher.drops

    # ------------------------------------------------------------ recording

    def record_request(
        self,
        endpoint: str,
        method: str,
        status_code: int,
        duration_ms: float,
        request_bytes: int | None = None,
        response_bytes: int | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Record one HTTP request. ``endpoint`` is a route template or a raw path."""
        sample = check.request(
            endpoint,
            method,
            status_code,
            duration_ms,
            request_bytes,
            response_bytes,
            timestamp,
            self._clock(),
        )
        buffer = self._requests
        if len(buffer) < self._capacity:
            buffer.append(sample)
        else:
            self._flusher.drop()

    def request_recorder(self) -> RequestRecorder:
        """``record_request`` without ``timestamp``, for a middleware to keep: it takes the
        time and queues the arguments, and the fold checks them with ``record_request``'s check
        (a refused request is dropped and counted in ``drops["rejected"]``, since no caller
        could catch the error inside a middleware). A subclass's own ``record_request`` is
        handed back as is."""
        if type(self).record_request is not Monitor.record_request:
            return self.record_request
        clock, drop, capacity = self._clock, self._flusher.drop, self._capacity

        def record(
            endpoint: str,
            method: str,
            status: int,
            duration_ms: float,
            received: int | None = None,
            sent: int | None = None,
        ) -> None:
            buffer = self._unchecked_requests  # read each time: close() swaps it out
            if len(buffer) < capacity:
                buffer.append(
                    (endpoint, method, status, duration_ms, received, sent, None, clock())
                )
            else:
                drop()

        return record

    def record_requests(self, samples: Sequence[m.RequestSample | dict[str, Any]]) -> int:
        """Record a batch of requests, all or nothing; returns how many were recorded."""
        now = self._clock()
        checked = []
        for i, given in enumerate(samples):
            try:
                s = m.RequestSample.model_validate(given)
                checked.append(
                    check.request(
                        s.endpoint,
                        s.method,
                        s.status_code,
                        s.duration_ms,
                        s.request_bytes,
                        s.response_bytes,
                        s.timestamp,
                        now,
                    )
                )
            except ValueError as exc:
                raise InvalidInputError(f"requests[{i}]: {exc}") from None
        for sample in checked:
            if len(self._requests) < self._capacity:
                self._requests.append(sample)
            else:
                self._flusher.drop()
        return len(checked)

    def record_agent_run(self, run: m.AgentRunRecord | None = None, /, **fields: Any) -> None:
        """Record one agent run (an AgentRunRecord, or its fields as keywords), with the tool
        calls it made; all of it is checked before any of it is recorded."""
        if run is not None:
            if fields or not isinstance(run, m.AgentRunRecord):
                raise InvalidInputError("give an AgentRunRecord or keyword fields, not both")
            fields = dict(run)
        sample = check.agent_run(fields, self._clock())
        if len(self._runs) < self._capacity:
            self._runs.append(sample)
        else:
            self._flusher.drop()
        telemetry.recorded_run(sample)

    def record_tool_call(
        self,
        tool_name: str,
        duration_ms: float,
        success: bool = True,
        error_type: str | None = None,
        agent_name: str | None = None,
        timestamp: float | None = None,
        result_chars: int | None = None,
    ) -> None:
        """Record one tool call outside an agent run report; ``result_chars`` is the size of
        its result in characters, when known (what it costs a model's context)."""
        sample = check.tool_call(
            tool_name,
            duration_ms,
            success,
            error_type,
            agent_name,
            timestamp,
            None,
            result_chars,
            self._clock(),
        )
        if len(self._tools) < self._capacity:
            self._tools.append(sample)
        else:
            self._flusher.drop()
        telemetry.recorded_call(sample)

    # ------------------------------------------------------------ flushing

    def flush(self) -> None:
        """Write everything recorded so far to the store."""
        if cached_only():  # asked without I/O (cached_answer): only if there is nothing to write
            if self._flusher.buffered():
                raise NotCached
            return
        self._flusher.flush()

    def _flush_for_query(self) -> None:
        """Flush before a query; a store that cannot take it still answers what it holds
        (the flusher keeps the records and the reason, and health_check says so)."""
        try:
            self.flush()
        except StoreError:
            if cached_only():
                raise NotCached from None

    def close(self) -> None:
        """Flush, stop the flusher and close the store; later records raise."""
        if self._flusher.closed:
            return
        atexit.unregister(self.close)
        closed = RefusedBuffer(
            RuntimeError(
                "this perf-mcp Monitor is closed: nothing recorded now can be stored; "
                "record through a new Monitor"
            )
        )
        self._requests = self._unchecked_requests = self._runs = self._tools = closed
        try:
            self._flusher.close()
        finally:
            self.storage.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ querying

    def get_performance_summary(self, window: m.Window = "5m") -> m.PerformanceSummary:
        """Totals for requests, agents and tools, the slowest and most failing endpoints,
        including what was recorded since the last flush (see perf_mcp.core.summary)."""
        return self._summary.answer(window)

    def get_endpoint_stats(
        self,
        endpoint: str | None = None,
        method: str | None = None,
        window: m.Window = "5m",
        sort_by: m.EndpointSort = "p95_ms",
        limit: int = 20,
    ) -> m.EndpointStatsList:
        """Per endpoint+method latency, throughput, errors and sizes, sorted and capped."""
        return self._queries.endpoints(endpoint, method, window, sort_by, limit)

    def get_agent_stats(
        self,
        agent_name: str | None = None,
        window: m.Window = "5m",
        sort_by: m.RunSort = "p95_ms",
        limit: int = 20,
    ) -> m.AgentStatsList:
        """Per agent runs, success, latency, tokens, cost and tool usage; plus per model."""
        return self._queries.agents(agent_name, window, sort_by, limit)

    def get_tool_stats(
        self,
        tool_name: str | None = None,
        window: m.Window = "5m",
        sort_by: m.ToolSort = "p95_ms",
        limit: int = 20,
    ) -> m.ToolStatsList:
        """Per tool calls, failures and latency, sorted and capped."""
        return self._queries.tools(tool_name, window, sort_by, limit)

    def get_timeline(
        self,
        kind: TimelineKind = "request",
        window: m.Window = "1h",
        name: str | None = None,
        method: str | None = None,
    ) -> Timeline:
        """A chart's series: the window split into points (count, rate, errors, p50/p95/p99
        each) for one endpoint, agent or tool, or the kind's total when ``name`` is None."""
        return TimelineQuery(self._queries).answer(kind, window, name, method)

    def cached_answer(self, query: Callable[[], Q]) -> Q | None:
        """``query()``'s answer if it is cached and current, found without I/O or waiting for
        a lock (so an event loop may ask); None when the query must run (in a thread).

        Bad arguments raise as they do when the query runs.
        """
        return without_io(query)

    def known_names(self, kind: Literal["endpoint", "agent", "tool"]) -> list[str]:
        """Names seen so far, for argument completion."""
        self.flush()
        return self.storage.known_names("request" if kind == "endpoint" else kind)

    def series_between(
        self,
        kind: Literal["request", "agent", "tool", "model"],
        start: float,
        end: float,
        *,
        name: str | None = None,
        method: str | None = None,
        totals: bool = False,
    ) -> list[SeriesAgg]:
        """Each series' stored data over [start, end), histograms included (no flush).

        ``totals`` gives the kind's all-series total instead of its series.
        """
        return self._queries.series_between(
            kind, start, end, name=name, method=method, totals=totals
        )

    # ------------------------------------------------------------ the store, for other layers

    def add_resource_sample(self, timestamp: float, sample_json: str) -> None:
        """Store one resource sample (JSON of a ResourceSample)."""
        self.storage.add_resource_sample(timestamp, sample_json)

    def resource_samples(self, since: float, limit: int) -> tuple[list[str], int]:
        """Stored resource samples since ``since``, spread evenly down to ``limit``, and how
        many were stored."""
        return self.storage.resource_samples_spread(since, limit)

    def store_size_bytes(self) -> int:
        """The store's size on disk (0 for a private in-memory store)."""
        return self.storage.file_size_bytes()

    @property
    def last_flush_at(self) -> float | None:
        """When this process last wrote to the store."""
        return self.storage.last_flush_at

    @property
    def alert_store(self) -> Storage:
        """The store's alert tables (perf_mcp.alerting's AlertStore)."""
        return self.storage

    @property
    def flush_failure(self) -> FlushFailure | None:
        """Why the store takes no flush now, since when, and what waits in memory for it
        (None: the last flush succeeded)."""
        return self._flusher.failure

    # ------------------------------------------------------------ investigating

    def mark_deploy(self, version: str, note: str | None = None) -> m.DeployMarker:
        """Mark that ``version`` went out now: listed in summaries, a compare_windows baseline."""
        version = check.name("version", version)
        note = None if note is None else check.name("note", note, m.MAX_NOTE_LENGTH)
        return self.storage.add_deploy_marker(self._clock(), version, note)

    def compare_windows(
        self, window: m.Window = "1h", baseline: Baseline = "previous", limit: int = 10
    ) -> WindowComparison:
        """What changed for each endpoint, agent and tool between the window and ``baseline``:
        the one before it, the same window 24 h or 7 d earlier, or either side of the last
        deploy marker; the largest change first (see perf_mcp.core.compare for the gates)."""
        return CompareQuery(self._queries).answer(window, baseline, limit)

    def explain(
        self, window: m.Window = "1h", subject: str | None = None, limit: int = 10
    ) -> Explanation:
        """What is anomalous in the window against the 12 windows before it (median and MAD),
        all of which moved together; ``subject``'s findings first (see perf_mcp.core.explain)."""
        return self._explain.answer(window, subject, limit)

    # ------------------------------------------------------------ objectives

    def set_slo(
        self,
        kind: slos.SloKind,
        objective: float,
        *,
        scope: slos.SloScope = "all",
        subject: str | None = None,
        threshold_ms: float | None = None,
        period_days: float = 30.0,
        name: str | None = None,
        dry_run: bool = False,
        levels: dict[str, Threshold] | None = None,
    ) -> slos.SloChange:
        """Store an objective (see perf_mcp.core.alerts.slo), replacing one of its name;
        ``dry_run`` stores nothing and replays its burn-rate rules (at ``levels``, default
        the built-in ones) over the last 24 h."""
        slo = slos.make_slo(
            kind=kind,
            scope=scope,
            objective=objective,
            now=self._clock(),
            subject=subject,
            threshold_ms=threshold_ms,
            period_days=period_days,
            name=name,
        )
        return SloQuery(self._queries).set(slo, dry_run, levels)

    def list_slos(self) -> slos.SloList:
        """Every SLO with its error budget left over its period and its burn rates now."""
        return SloQuery(self._queries).listed()

    def slo_history(self, rule: str) -> dict[str, list[tuple[float, float | None, int]]]:
        """Burn-rate rule ``rule``'s (time, burn, events) over the last 24 h, by SLO name:
        what a set_threshold dry run of the rule replays."""
        query = SloQuery(self._queries)
        return {slo.name: query.history(slo)[rule] for slo in self.storage.load_slos()}

    def delete_slo(self, name: str) -> bool:
        """Forget the SLO called ``name``; False if there was none."""
        return self.storage.delete_slo(check.name("name", name))

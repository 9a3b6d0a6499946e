"""Monitor: the recording and query API every part of perf-mcp calls.

>>> from perf_mcp import Monitor
>>> with Monitor(":memory:") as m:
...     m.record_request("/users/42", "GET", 200, 12.5)
...     m.get_endpoint_stats().endpoints[0].endpoint
'/users/{id}'
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ValidationError

from perf_mcp.config import Settings
from perf_mcp.core import models as m
from perf_mcp.core.models import InvalidInputError
from perf_mcp.core.paths import endpoint_name, normalize_method
from perf_mcp.core.series import (
    LABEL_BUDGET,
    OTHER,
    TOTAL,
    RequestAcc,
    RunAcc,
    SeriesRegistry,
)
from perf_mcp.core.sketch import INV_LOG_GAMMA, MIN_VALUE, OFFSET, SIZE, LogHistogram
from perf_mcp.core.summary import Head, PendingBucket, StoredSummary
from perf_mcp.core.window import BUCKET_S, TierRange, bucket_start, plan_window
from perf_mcp.storage import FlushBatch, RawAgentRun, RawToolCall, SeriesAgg, Storage

try:  # the compiled fast lanes of the record methods; without a C compiler, Python does all
    from perf_mcp import _accel
except ImportError:  # pragma: no cover - depends on the install
    _accel = None  # type: ignore[assignment]

log = logging.getLogger("perf_mcp")

MAX_LIMIT = 500
ALIAS_CACHE = 10_000  # raw (endpoint, method) pairs remembered per bucket before normalizing anew
MAX_PENDING_RAW = 10_000  # raw agent runs / tool calls held between flushes
MAX_PENDING_BUCKETS = 360  # an hour of 10 s buckets held while the store cannot be written
PAST_LIMIT_S = 90 * 86400  # timestamps older than the longest retention are refused
FUTURE_LIMIT_S = 300  # clock skew allowed for timestamps from other machines
QUANTILES = (0.5, 0.9, 0.95, 0.99)
RECENT_S = 30  # rows that ended this recently may still change (flush lag): re-read per summary
_PERCENTILE_SORTS = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}
ANSWER_CACHE = 64  # recent query answers kept until the store changes
_MAX_LOG_VALUE = m.MAX_DURATION_MS
# tool_name, duration_ms, success, error_type, agent_name, timestamp, call_id
_RunToolCall = tuple[str, float, bool, str | None, str | None, float | None, str | None]
_PLAIN_CALL_FIELDS = frozenset({"tool_name", "duration_ms", "success", "error_type"})
_MAX_NAME = m.MAX_NAME_LENGTH
_MAX_RUN_TOOL_CALLS = 1000  # AgentRunRecord.tool_calls' max_length
_NO_CALLS: Any = ()  # tool_calls not given (an explicit None is the model's to refuse)
_ZERO: Any = 0  # the defaults of record_agent_run's plain lane, compared by identity
_ZERO_COST: Any = 0.0

T = TypeVar("T")
Q = TypeVar("Q", bound=BaseModel)
# Set by Monitor.cached_answer: a query must answer from the cache or raise _NotCached.
_CACHED_ONLY = contextvars.ContextVar("perf_mcp_cached_only", default=False)


class _NotCached(Exception):
    """The query needs I/O or a lock (nothing current is cached): ask it in a thread."""


class _Bucket:
    """The data recorded in one 10 s bucket since the last flush."""

    __slots__ = ("alias_count", "aliases", "requests", "runs")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], RequestAcc] = {}  # by (endpoint name, METHOD)
        # The caller's raw method -> raw endpoint -> accumulator: no tuple on the hot path.
        self.aliases: dict[str, dict[str, RequestAcc]] = {}
        self.alias_count = 0
        self.runs: dict[tuple[str, str], RunAcc] = {}  # by (kind, name)


class Monitor:
    """Records requests, agent runs and tool calls; answers window queries over the store.

    ``db_path``: None for ``$PERF_MCP_DB`` or the user's data directory, ``":memory:"`` for a
    private store. Recording is in memory, thread-safe and O(1); a daemon thread flushes to
    SQLite every ``flush_interval_s``. Queries flush first, except the summary, which adds the
    records still in memory to the stored ones.
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
    ) -> None:
        settings = settings or Settings()
        self.settings = settings
        self.flush_interval_s = flush_interval_s or settings.flush_interval_s
        budget = series_budget or settings.series_budget
        self._clock = clock
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._registries = {
            kind: SeriesRegistry(budget) for kind in ("request", "agent", "model", "tool")
        }
        self._pending: dict[int, _Bucket] = {}
        # The record path's fast lane: (start, end, bucket) of the bucket used last, or None.
        # Code that touches accumulators other than through _add_request / _add_run resets it
        # first (holding the lock): the compiled lanes reach accumulators only through it.
        self._lane: tuple[float, float, _Bucket] | None = None
        self._add_request: Callable[
            [RequestAcc, int, float, int | None, int | None, float], None
        ] = RequestAcc.add
        self._add_run: Callable[
            [RunAcc, float, str | None, bool, int, int, int, float, Sequence[str]], None
        ] = RunAcc.add_run
        self._agent_runs: list[RawAgentRun] = []
        self._tool_calls: list[RawToolCall] = []
        self._folded: list[tuple[str, str]] = []
        self.dropped_raw = 0  # raw records dropped because the store could not be written
        self.dropped_buckets = 0  # 10 s buckets dropped for the same reason
        self._answers: dict[tuple[Any, ...], tuple[tuple[int, int], BaseModel]] = {}
        self._rankings: dict[str, _Ranking] = {}  # the summary's endpoint ranking, per window
        # Per window: the summary of the stored rows, as of (store version, plan), and the
        # records in memory added to it. One per window: each holds every endpoint's row.
        self._heads: dict[str, tuple[tuple[Any, ...], Head]] = {}
        path = settings.db if db_path is None else os.fspath(db_path)
        self.storage = Storage(
            path, retention_s=settings.retention_s, raw_records=settings.raw_records, clock=clock
        )
        self._load_known_series()
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None
        if settings.accelerate and _accel is not None:
            self._bind_recorder()
        atexit.register(self.close)  # an exiting app keeps what it recorded since the last flush
        if start_flusher:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="perf-mcp-flusher", daemon=True
            )
            self._flusher.start()

    def _bind_recorder(self) -> None:
        """Make this instance's record_request, record_agent_run and record_tool_call the
        compiled lanes, each falling back to the Python method for what it does not take."""
        lanes = (
            ("request", self.record_request),
            ("agent", self.record_agent_run),
            ("tool", self.record_tool_call),
        )
        for kind, method in lanes:
            recorder = _accel.Recorder(
                kind=kind,
                monitor=self,
                slow=method,
                clock=None if self._clock is time.time else self._clock,
                bucket_type=_Bucket,
                acc_type=RequestAcc,
                hist_type=LogHistogram,
                run_type=RunAcc,
                inv_log_gamma=INV_LOG_GAMMA,
                offset=OFFSET,
                min_value=MIN_VALUE,
                size=SIZE,
                max_duration=_MAX_LOG_VALUE,
                max_bytes=m.MAX_BYTES,
                max_tokens=m.MAX_TOKENS,
                max_cost=m.MAX_COST_USD,
                max_name=_MAX_NAME,
                label_budget=LABEL_BUDGET,
                other=OTHER,
                max_pending_raw=MAX_PENDING_RAW,
            )
            self.__dict__[method.__name__] = recorder  # shadows the method on this instance
        self._add_request = recorder.add  # the same C steps on every recorder: take the last
        self._add_run = recorder.add_run

    @property
    def accelerated(self) -> bool:
        """Whether the record methods run compiled lanes (perf_mcp._accel)."""
        return "record_request" in self.__dict__

    @property
    def flusher_alive(self) -> bool | None:
        """Whether the background flush thread runs (None: started without one)."""
        return None if self._flusher is None else self._flusher.is_alive()

    @property
    def db_path(self) -> str:
        """The store's path (":memory:" for a private store)."""
        return self.storage.path

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
        try:
            if not 0.0 <= duration_ms <= _MAX_LOG_VALUE:
                raise InvalidInputError(
                    f"duration_ms must be a finite number from 0 to {_MAX_LOG_VALUE:.0f}, "
                    f"got {duration_ms!r}"
                )
            if status_code.__class__ is not int or not 100 <= status_code <= 599:
                raise InvalidInputError(
                    f"status_code must be an integer from 100 to 599, got {status_code!r}"
                )
            if request_bytes is not None and not 0 <= request_bytes <= m.MAX_BYTES:
                raise InvalidInputError(
                    f"request_bytes must be from 0 to {m.MAX_BYTES}, got {request_bytes!r}"
                )
            if response_bytes is not None and not 0 <= response_bytes <= m.MAX_BYTES:
                raise InvalidInputError(
                    f"response_bytes must be from 0 to {m.MAX_BYTES}, got {response_bytes!r}"
                )
        except TypeError as exc:
            raise InvalidInputError(f"record_request got a value of the wrong type: {exc}") from exc
        ts = self._clock() if timestamp is None else timestamp
        with self._lock:
            lane = self._lane
            bucket = (
                lane[2] if lane is not None and lane[0] <= ts < lane[1] else self._bucket_for(ts)
            )
            try:
                acc = bucket.aliases[method][endpoint]
            except (KeyError, TypeError):  # first sight in this bucket, or not a string
                acc = self._request_acc(bucket, endpoint, method)
            self._add_request(acc, status_code, duration_ms, request_bytes, response_bytes, ts)

    def record_requests(self, samples: Sequence[m.RequestSample | dict[str, Any]]) -> int:
        """Record a batch of requests, all or nothing; returns how many were recorded."""
        checked = [_validated(m.RequestSample, s) for s in samples]
        for s in checked:
            self._check_timestamp(s.timestamp)
            _checked_name(s.endpoint, "endpoint")
            normalize_method(s.method)
        for s in checked:
            self.record_request(
                s.endpoint,
                s.method,
                s.status_code,
                s.duration_ms,
                s.request_bytes,
                s.response_bytes,
                s.timestamp,
            )
        return len(checked)

    def record_agent_run(self, run: m.AgentRunRecord | None = None, /, **fields: Any) -> None:
        """Record one agent run (an AgentRunRecord, or its fields as keywords)."""
        if run is None:
            # Plain keyword values (what the decorators send) are checked here, without building
            # a model; anything else, and every value out of range, goes through AgentRunRecord
            # for its coercions and its error messages.
            if self._record_plain_run(**fields):
                return
            run = _validated(m.AgentRunRecord, fields)
        elif fields:
            raise InvalidInputError("give an AgentRunRecord or keyword fields, not both")
        ts = run.end_time if run.end_time is not None else self._clock()
        self._check_timestamp(ts)
        row: RawAgentRun = (
            (ts, run.agent_name, run.elapsed_ms, run.success, run.error_type, run.model)
            + (run.provider, run.input_tokens, run.output_tokens, run.cache_read_tokens)
            + (run.cost_usd, len(run.tool_calls), run.run_id, run.conversation_id)
        )
        calls = [
            (c.tool_name, c.duration_ms, c.success, c.error_type, c.agent_name, c.timestamp)
            + (c.call_id,)
            for c in run.tool_calls
        ]
        self._record_run(row, calls)

    def _record_plain_run(
        self,
        agent_name: Any = None,
        duration_ms: Any = None,
        success: Any = True,
        error_type: Any = None,
        model: Any = None,
        provider: Any = None,
        input_tokens: Any = _ZERO,
        output_tokens: Any = _ZERO,
        cache_read_tokens: Any = _ZERO,
        cost_usd: Any = _ZERO_COST,
        tool_calls: Any = _NO_CALLS,
        run_id: Any = None,
        conversation_id: Any = None,
        **other: Any,  # start_time, end_time, or a name the model refuses
    ) -> bool:
        """Record the run if every value is of the exact type AgentRunRecord keeps unchanged and
        within its limits (the model would hold the same values); False for anything else."""
        if (
            other
            or agent_name.__class__ is not str
            or len(agent_name) > _MAX_NAME
            or not agent_name.strip()
            or (duration_ms.__class__ is not float and duration_ms.__class__ is not int)
            or not 0.0 <= duration_ms <= _MAX_LOG_VALUE
            or (success is not True and success is not False)
        ):
            return False
        # Defaults are compared by identity first: a run that reports no usage checks no more.
        if not (
            input_tokens is _ZERO
            and output_tokens is _ZERO
            and cache_read_tokens is _ZERO
            and cost_usd is _ZERO_COST
        ) and not _plain_usage(input_tokens, output_tokens, cache_read_tokens, cost_usd):
            return False
        if not (
            error_type is None
            and model is None
            and provider is None
            and run_id is None
            and conversation_id is None
        ) and not _plain_labels(error_type, model, provider, run_id, conversation_id):
            return False
        calls: list[_RunToolCall] = []
        if tool_calls is not _NO_CALLS and not _plain_tool_calls(tool_calls, calls):
            return False
        row: RawAgentRun = (
            self._clock(),
            agent_name,
            float(duration_ms),
            success,
            error_type,
            model,
            provider,
            input_tokens,
            output_tokens,
            cache_read_tokens,
            float(cost_usd),
            len(calls),
            run_id,
            conversation_id,
        )
        self._record_run(row, calls)
        return True

    def _record_run(self, row: RawAgentRun, calls: list[_RunToolCall]) -> None:
        """Add a checked agent run (and the tool calls it made) to its bucket."""
        ts, agent, duration_ms, success, error_type, model, provider = row[:7]
        input_tokens, output_tokens, cache_read_tokens, cost_usd = row[7:11]
        tools = [call[0] for call in calls]
        with self._lock:
            lane = self._lane
            bucket = (
                lane[2] if lane is not None and lane[0] <= ts < lane[1] else self._bucket_for(ts)
            )
            accs = [self._run_acc(bucket, "agent", agent)]
            if model or provider:
                name = f"{provider}/{model}" if provider and model else str(model or provider)
                accs.append(self._run_acc(bucket, "model", name))
            for acc in accs:
                self._add_run(
                    acc,
                    duration_ms,
                    error_type,
                    not success,
                    input_tokens,
                    output_tokens,
                    cache_read_tokens,
                    cost_usd,
                    tools,
                )
            for tool, tool_ms, tool_ok, tool_error, tool_agent, tool_ts, call_id in calls:
                self._record_tool_locked(
                    tool,
                    tool_ms,
                    tool_ok,
                    tool_error,
                    tool_agent or agent,
                    ts if tool_ts is None else tool_ts,
                    call_id,
                )
            if len(self._agent_runs) < MAX_PENDING_RAW:
                self._agent_runs.append(row)
            else:
                self.dropped_raw += 1

    def record_tool_call(
        self,
        tool_name: str,
        duration_ms: float,
        success: bool = True,
        error_type: str | None = None,
        agent_name: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Record one tool call outside an agent run report."""
        # Plain checks, not a pydantic model: decorators call this on every tool call.
        _checked_label(tool_name, "tool_name", required=True)
        _checked_label(error_type, "error_type")
        _checked_label(agent_name, "agent_name")
        try:
            if not 0.0 <= duration_ms <= _MAX_LOG_VALUE:
                raise InvalidInputError(
                    f"duration_ms must be a finite number from 0 to {_MAX_LOG_VALUE:.0f}, "
                    f"got {duration_ms!r}"
                )
        except TypeError as exc:
            raise InvalidInputError(f"duration_ms must be a number, got {duration_ms!r}") from exc
        if success.__class__ is not bool:
            raise InvalidInputError(f"success must be true or false, got {success!r}")
        if timestamp is None:
            ts = self._clock()
        else:
            self._check_timestamp(timestamp)
            ts = timestamp
        with self._lock:
            self._record_tool_locked(tool_name, duration_ms, success, error_type, agent_name, ts)

    def _record_tool_locked(
        self,
        tool: str,
        duration_ms: float,
        success: bool,
        error_type: str | None,
        agent: str | None,
        ts: float,
        call_id: str | None = None,
    ) -> None:
        lane = self._lane
        bucket = lane[2] if lane is not None and lane[0] <= ts < lane[1] else self._bucket_for(ts)
        acc = self._run_acc(bucket, "tool", tool)
        self._add_run(acc, duration_ms, error_type, not success, 0, 0, 0, 0.0, ())
        self._keep_raw(
            self._tool_calls, (ts, tool, agent, float(duration_ms), success, error_type, call_id)
        )

    def _keep_raw(self, records: list[T], record: T) -> None:
        if len(records) < MAX_PENDING_RAW:
            records.append(record)
        else:
            self.dropped_raw += 1

    def _room_for(self, held: list[T], queued: int) -> list[T]:
        """The newest of ``held`` that fit beside ``queued`` records; counts the rest dropped."""
        room = max(0, MAX_PENDING_RAW - queued)
        self.dropped_raw += max(0, len(held) - room)
        return held[-room:] if room else []

    def _bucket_for(self, ts: float) -> _Bucket:
        """The pending bucket ``ts`` falls in (caller holds the lock)."""
        self._check_timestamp(ts)
        start = bucket_start(ts)
        bucket = self._pending.get(start)
        if bucket is None:
            bucket = self._pending[start] = _Bucket()
        self._lane = (float(start), float(start + BUCKET_S), bucket)
        return bucket

    def _check_timestamp(self, ts: float | None) -> None:
        if ts is None:
            return
        now = self._clock()
        if not (math.isfinite(ts) and now - PAST_LIMIT_S <= ts <= now + FUTURE_LIMIT_S):
            raise InvalidInputError(
                f"timestamp must be Unix seconds within the last 90 days (and at most "
                f"{FUTURE_LIMIT_S} s ahead), got {ts!r}"
            )

    def _request_acc(self, bucket: _Bucket, endpoint: Any, method: Any) -> RequestAcc:
        """Resolve a raw (endpoint, method) to its series' accumulator (slow path)."""
        name = endpoint_name(_checked_name(endpoint, "endpoint"))
        try:
            verb = normalize_method(method) if isinstance(method, str) else normalize_method("")
        except ValueError as exc:
            raise InvalidInputError(f"method: {exc}") from exc
        if not self._registries["request"].admit((name, verb)):
            self._folded.append(("request", f"{verb} {name}"))
            name = OTHER
        acc = bucket.requests.get((name, verb))
        if acc is None:
            acc = bucket.requests[(name, verb)] = RequestAcc()
        if bucket.alias_count < ALIAS_CACHE and isinstance(method, str):
            bucket.aliases.setdefault(method, {})[endpoint] = acc
            bucket.alias_count += 1
        return acc

    def _run_acc(self, bucket: _Bucket, kind: str, name: str) -> RunAcc:
        if not self._registries[kind].admit(name):
            self._folded.append((kind, name))
            name = OTHER
        acc = bucket.runs.get((kind, name))
        if acc is None:
            acc = bucket.runs[(kind, name)] = RunAcc()
        return acc

    def _load_known_series(self) -> None:
        for kind, registry in self._registries.items():
            if kind == "request":
                continue
            for name in self.storage.known_names(kind, limit=registry.budget):
                registry.admit(name)

    # ------------------------------------------------------------ flushing

    def flush(self) -> None:
        """Write everything recorded so far to the store."""
        if _CACHED_ONLY.get():
            if self._pending or self._agent_runs or self._tool_calls or self._folded:
                raise _NotCached
            return
        with self._flush_lock:
            with self._lock:
                self._lane = None
                pending, self._pending = self._pending, {}
                batch = FlushBatch(
                    agent_runs=self._agent_runs,
                    tool_calls=self._tool_calls,
                    folded=self._folded,
                )
                self._agent_runs, self._tool_calls, self._folded = [], [], []
            for start, bucket in pending.items():
                if bucket.requests:
                    batch.requests[start] = _with_total(bucket.requests, (TOTAL, ""), RequestAcc)
                if bucket.runs:
                    batch.runs[start] = _with_run_totals(bucket.runs)
            if not batch:
                return
            try:
                self.storage.write(batch)
            except BaseException:
                self._requeue(pending, batch)
                raise

    def _requeue(self, pending: dict[int, _Bucket], batch: FlushBatch) -> None:
        """Put back what a failed write held, so the next flush retries it (bounded)."""
        self._heads.clear()  # they knew the pending buckets as they were (flush lock held)
        with self._lock:
            self._lane = None  # merging below writes accumulators the fast lane could reach
            for start, old in pending.items():
                bucket = self._pending.setdefault(start, _Bucket())
                for key, acc in old.requests.items():
                    _merge_into(bucket.requests, key, acc)
                for run_key, run_acc in old.runs.items():
                    _merge_into(bucket.runs, run_key, run_acc)
            for start in sorted(self._pending)[:-MAX_PENDING_BUCKETS]:
                del self._pending[start]
                self.dropped_buckets += 1
            self._agent_runs[:0] = self._room_for(batch.agent_runs, len(self._agent_runs))
            self._tool_calls[:0] = self._room_for(batch.tool_calls, len(self._tool_calls))
            self._folded[:0] = batch.folded

    def _flush_loop(self) -> None:
        while not self._closed.wait(self.flush_interval_s):
            try:
                self.flush()
            except Exception:  # keep flushing; a locked or full disk may recover
                log.exception("perf-mcp flush failed; will retry")

    def close(self) -> None:
        """Flush, stop the flusher and close the store."""
        if self._closed.is_set():
            return
        self._closed.set()
        atexit.unregister(self.close)
        if self._flusher is not None:
            self._flusher.join()
        try:
            self.flush()
        finally:
            self.storage.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ querying

    def _plan(self, window: str, *, flush: bool = True) -> tuple[int, list[Any]]:
        seconds = m.WINDOW_SECONDS.get(window)
        if seconds is None:
            raise InvalidInputError(
                f"window must be one of {', '.join(m.WINDOW_SECONDS)}, got {window!r}"
            )
        if flush:
            self.flush()
        now = self._clock()
        plan = plan_window(now - seconds, None, now=now, retention_s=self.settings.retention_s)
        return seconds, plan

    def get_endpoint_stats(
        self,
        endpoint: str | None = None,
        method: str | None = None,
        window: m.Window = "5m",
        sort_by: m.EndpointSort = "p95_ms",
        limit: int = 20,
    ) -> m.EndpointStatsList:
        """Per endpoint+method latency, throughput, errors and sizes, sorted and capped."""
        name = endpoint_name(_checked_name(endpoint, "endpoint")) if endpoint is not None else None
        try:
            verb = normalize_method(method) if method is not None else None
        except (ValueError, AttributeError) as exc:
            raise InvalidInputError(
                f"method must be an HTTP method like GET, got {method!r}"
            ) from exc

        def compute(seconds: int, plan: list[Any]) -> m.EndpointStatsList:
            ids = self.storage.series_ids("request", name=name, method=verb)
            top, total = self._top("request", ids, plan, sort_by, limit)
            return m.EndpointStatsList(
                window=window,
                endpoints=[_endpoint_stats(s, seconds) for s in top],
                total_endpoints=total,
                truncated=total > limit,
                folded_series=self.storage.folded_counts().get("request", 0),
            )

        key = ("endpoints", name, verb)
        return self._query(key, window, sort_by, m.EndpointSort, limit, compute)

    def get_agent_stats(
        self,
        agent_name: str | None = None,
        window: m.Window = "5m",
        sort_by: m.RunSort = "p95_ms",
        limit: int = 20,
    ) -> m.AgentStatsList:
        """Per agent runs, success, latency, tokens, cost and tool usage; plus per model."""

        def compute(seconds: int, plan: list[Any]) -> m.AgentStatsList:
            ids = self.storage.series_ids("agent", name=agent_name)
            top, total = self._top("agent", ids, plan, sort_by, limit)
            models, _ = self._top("model", self.storage.series_ids("model"), plan, "runs", limit)
            return m.AgentStatsList(
                window=window,
                agents=[_agent_stats(s) for s in top],
                models=[_model_usage(s) for s in models],
                total_agents=total,
                truncated=total > limit,
            )

        return self._query(("agents", agent_name), window, sort_by, m.RunSort, limit, compute)

    def get_tool_stats(
        self,
        tool_name: str | None = None,
        window: m.Window = "5m",
        sort_by: m.ToolSort = "p95_ms",
        limit: int = 20,
    ) -> m.ToolStatsList:
        """Per tool calls, failures and latency, sorted and capped."""

        def compute(seconds: int, plan: list[Any]) -> m.ToolStatsList:
            ids = self.storage.series_ids("tool", name=tool_name)
            top, total = self._top("tool", ids, plan, sort_by, limit)
            return m.ToolStatsList(
                window=window,
                tools=[_tool_stats(s) for s in top],
                total_tools=total,
                truncated=total > limit,
            )

        return self._query(("tools", tool_name), window, sort_by, m.ToolSort, limit, compute)

    def _query(
        self,
        key: tuple[Any, ...],
        window: str,
        sort_by: str,
        sorts: Any,
        limit: int,
        compute: Callable[[int, list[Any]], Q],
    ) -> Q:
        """Check the common arguments, then answer (from the cache while nothing changed)."""
        _checked_limit(limit)
        _checked_choice(sort_by, sorts, "sort_by")
        seconds, plan = self._plan(window)
        return self._answer((*key, window, sort_by, limit), plan, lambda: compute(seconds, plan))

    def get_performance_summary(self, window: m.Window = "5m") -> m.PerformanceSummary:
        """Totals for requests, agents and tools, the slowest and most failing endpoints.

        It is asked after nearly every write, so it does not flush: it adds what was recorded
        since the last flush (held in memory) to what the store had then (read once per
        change of the store); see perf_mcp.core.summary.
        """
        seconds, plan = self._plan(window, flush=False)
        if self._folded:  # whether a folded name is new is for the store to say
            self.flush()
        cached_only = _CACHED_ONLY.get()
        if not self._flush_lock.acquire(blocking=not cached_only):
            raise _NotCached  # a flush is moving records from memory to the store
        try:  # held: no record is between memory and store, and the heads are ours
            version = self.storage.data_version(wait=not cached_only)
            if version is None:
                raise _NotCached
            key = (version, *plan)
            key_and_head = self._heads.get(window)
            if key_and_head is None or key_and_head[0] != key:
                if cached_only:
                    raise _NotCached
                key_and_head = key, Head(self._stored_summary(window, seconds, plan))
                self._heads[window] = key_and_head
            head = key_and_head[1]
            lo, hi = (plan[0].start, plan[-1].end) if plan else (0, 0)  # [lo, hi) has no gap
            if not self._lock.acquire(blocking=not cached_only):
                raise _NotCached  # a record is being counted
            try:
                self._lane = None  # the head reads accumulators the compiled lanes could reach
                changes = head.changes(
                    PendingBucket(start, bucket.requests, bucket.runs)
                    for start, bucket in self._pending.items()
                    if lo <= start < hi
                )
            finally:
                self._lock.release()
            return head.update(changes, self._clock())
        finally:
            self._flush_lock.release()

    def _stored_summary(self, window: m.Window, seconds: int, plan: list[Any]) -> StoredSummary:
        """The summary's parts as the store holds them now (the Head adds what is in memory)."""
        now = self._clock()
        storage = self.storage
        request_total = storage.request_series(plan, totals=True)
        storage.fill_histograms("request_buckets", plan, request_total)
        agent_total = storage.run_series("agent", plan, totals=True)
        tool_total = storage.run_series("tool", plan, totals=True)
        storage.fill_histograms("run_buckets", plan, agent_total + tool_total)
        ids = storage.series_ids("request")
        ranking = self._ranking(window, plan, now, ids, _fingerprint(request_total))
        return StoredSummary(
            window=window,
            seconds=seconds,
            generated_at=now,
            requests=request_total[0].acc if request_total else None,
            agents=agent_total[0].acc if agent_total else None,
            tools=tool_total[0].acc if tool_total else None,
            endpoints={ids[sid]: row for sid, row in ranking.merged.items()},
            # the rows of the plan's time, like every other number of the summary
            slowest=storage.slowest_requests(plan[0].start, m.SUMMARY_ROWS) if plan else [],
            folded=storage.folded_counts(),
        )

    def _ranking(
        self,
        window: str,
        plan: list[TierRange],
        now: float,
        ids: dict[int, tuple[str, str]],
        total: tuple[int, int, float],
    ) -> _Ranking:
        """Every endpoint's merged histogram, 5xx count and p95 over the window's rows.

        Merging every endpoint's rows is most of a summary's cost, and after a write only the
        rows of the last minute or so change. So the older ("settled") rows are merged once per
        plan and kept; each summary re-reads the newer rows' sums and merges again only the
        endpoints whose newer rows changed. Rows only ever grow while they are in a plan (every
        write adds to the all-endpoint total too), so the settled rows are unchanged exactly
        when their total is: when it is not (late data, another process catching up),
        everything is merged anew. Likewise no endpoint changed when the window's total did not
        (the write was an agent run or a tool call).
        """
        storage = self.storage
        old = self._rankings.get(window)
        if old is not None and old.plan == plan and old.total == total:
            return old
        settled, recent = _split_plan(plan, now - RECENT_S)
        total_id = storage.series_ids("request", totals=True)
        settled_counts = storage.request_counts(settled, total_id)
        settled_total = next(iter(settled_counts.values()), (0, 0, 0.0))
        sums = storage.request_counts(recent, ids)
        if (
            old is None
            or old.plan != plan
            or old.settled_total != settled_total
            or not sums.keys() >= old.recent.keys()  # recent rows went away (expired)
        ):
            settled_rows = storage.histograms_and_errors(settled, ids)
            old = _Ranking.settled_only(plan, total, settled_total, settled_rows)
        changed = {sid: ids[sid] for sid, fp in sums.items() if old.recent.get(sid) != fp}
        ranking = _Ranking(plan, total, settled_total, old.settled, sums, dict(old.merged))
        for sid, (recent_hist, recent_errors) in storage.histograms_and_errors(
            recent, changed
        ).items():
            hist, errors = LogHistogram(), recent_errors
            hist.merge(recent_hist)
            if sid in old.settled:
                hist.merge(old.settled[sid][0])
                errors += old.settled[sid][1]
            ranking.merged[sid] = (hist, errors, hist.quantile(0.95) or 0.0)
        self._rankings[window] = ranking
        return ranking

    def _answer(self, key: tuple[Any, ...], plan: list[Any], compute: Callable[[], Q]) -> Q:
        """The answer to a query, reused while neither the store nor the window's rows change.

        An assistant often asks several questions in a row, and a dashboard polls: between two
        writes (this process's, or any other's: SQLite's data_version) the answer is the same.
        """
        cached_only = _CACHED_ONLY.get()
        version = self.storage.data_version(wait=not cached_only)
        full_key = (*key, *plan)
        cached = self._answers.get(full_key)
        if cached is not None and cached[0] == version:
            return cast(Q, cached[1])
        if cached_only or version is None:
            raise _NotCached
        answer = compute()
        if len(self._answers) >= ANSWER_CACHE:
            del self._answers[next(iter(self._answers))]
        self._answers[full_key] = (version, answer)
        return answer

    def cached_answer(self, query: Callable[[], Q]) -> Q | None:
        """``query()``'s answer if it is cached and current, found without I/O or waiting for
        a lock (so an event loop may ask); None when the query must run (in a thread).

        Bad arguments raise as they do when the query runs.
        """
        token = _CACHED_ONLY.set(True)
        try:
            return query()
        except _NotCached:
            return None
        finally:
            _CACHED_ONLY.reset(token)

    # ------------------------------------------------------------ store access for other layers

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
        now = self._clock()
        plan = plan_window(start, end, now=now, retention_s=self.settings.retention_s)
        if kind == "request":
            series = self.storage.request_series(plan, name=name, method=method, totals=totals)
            table = "request_buckets"
        else:
            series = self.storage.run_series(kind, plan, name=name, totals=totals)
            table = "run_buckets"
        self.storage.fill_histograms(table, plan, series)
        return series

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
    def drops(self) -> dict[str, int]:
        """What this process dropped since it started: ``samples`` (a full record buffer),
        ``raw`` (raw runs and calls) and ``buckets`` (10 s buckets the store could not take)."""
        return {"samples": 0, "raw": self.dropped_raw, "buckets": self.dropped_buckets}

    def known_names(self, kind: Literal["endpoint", "agent", "tool"]) -> list[str]:
        """Names seen so far, for argument completion."""
        self.flush()
        return self.storage.known_names("request" if kind == "endpoint" else kind)

    def _top(
        self,
        kind: str,
        ids: dict[int, tuple[str, str]],
        plan: list[Any],
        sort_by: str,
        limit: int,
    ) -> tuple[list[SeriesAgg], int]:
        """The ``limit`` series ranked first by ``sort_by``, and how many had data.

        A percentile ranking merges every series' histogram and sums only the chosen ones;
        any other ranking sums every series and merges only the chosen histograms.
        """
        storage = self.storage
        if kind == "request":
            table, key = "request_buckets", _request_sort_key

            def sums(chosen: dict[int, tuple[str, str]]) -> list[SeriesAgg]:
                return storage.request_series(plan, ids=chosen)
        else:
            table, key = "run_buckets", _run_sort_key

            def sums(chosen: dict[int, tuple[str, str]]) -> list[SeriesAgg]:
                return storage.run_series(kind, plan, ids=chosen)

        q = _PERCENTILE_SORTS.get(sort_by)
        if q is not None:
            hists = storage.histograms(table, plan, ids)
            ranked = sorted(hists, key=lambda i: (-(hists[i].quantile(q) or 0.0), ids[i]))
            order = {sid: rank for rank, sid in enumerate(ranked[:limit])}
            chosen = sums({sid: ids[sid] for sid in order})
            for s in chosen:
                s.acc.hist = hists[s.series_id]
            chosen.sort(key=lambda s: order[s.series_id])
            return chosen, len(hists)
        series = sums(ids)
        series.sort(key=lambda s: (-key(s, sort_by), s.name, s.method))
        chosen = series[:limit]
        storage.fill_histograms(table, plan, chosen)
        return chosen, len(series)


# ---------------------------------------------------------------- helpers

M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], data: Any) -> M:
    if isinstance(data, model):
        return data
    try:
        validated: M = model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(f"invalid {model.__name__}: {exc}") from exc
    return validated


def _plain_usage(input_tokens: Any, output_tokens: Any, cache_read: Any, cost_usd: Any) -> bool:
    """Whether the counts are ints and the cost a number, all within AgentRunRecord's limits."""
    return (
        input_tokens.__class__ is int
        and 0 <= input_tokens <= m.MAX_TOKENS
        and output_tokens.__class__ is int
        and 0 <= output_tokens <= m.MAX_TOKENS
        and cache_read.__class__ is int
        and 0 <= cache_read <= m.MAX_TOKENS
        and (cost_usd.__class__ is float or cost_usd.__class__ is int)
        and 0.0 <= cost_usd <= m.MAX_COST_USD
    )


def _plain_labels(*labels: Any) -> bool:
    """Whether each optional label is None or a str within AgentRunRecord's length limit."""
    return all(
        label is None or (label.__class__ is str and len(label) <= _MAX_NAME) for label in labels
    )


def _plain_tool_calls(tool_calls: Any, calls: list[_RunToolCall]) -> bool:
    """Append each call of a plain list of plain dicts (what the decorators send) to ``calls``;
    False at the first call ToolCallRecord should judge (other keys, types or limits)."""
    if tool_calls.__class__ is not list or len(tool_calls) > _MAX_RUN_TOOL_CALLS:
        return False
    for call in tool_calls:
        if call.__class__ is not dict or not _PLAIN_CALL_FIELDS.issuperset(call):
            return False
        tool = call.get("tool_name")
        tool_ms = call.get("duration_ms")
        tool_ok = call.get("success", True)
        tool_error = call.get("error_type")
        if (
            tool.__class__ is not str
            or len(tool) > _MAX_NAME
            or not tool.strip()
            or (tool_ms.__class__ is not float and tool_ms.__class__ is not int)
            or not 0.0 <= tool_ms <= _MAX_LOG_VALUE
            or (tool_ok is not True and tool_ok is not False)
            or not (
                tool_error is None or (tool_error.__class__ is str and len(tool_error) <= _MAX_NAME)
            )
        ):
            return False
        calls.append((tool, float(tool_ms), tool_ok, tool_error, None, None, None))
    return True


def _checked_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > 2000:
        raise InvalidInputError(f"{what} must be at most 2000 characters, got {len(value)}")
    return value


def _checked_label(value: Any, what: str, *, required: bool = False) -> None:
    """A name as ToolCallRecord allows it: a non-blank string of at most 200 characters."""
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > m.MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"{what} must be a non-blank string of at most {m.MAX_NAME_LENGTH} characters, "
            f"got {value!r}"
        )


def _checked_limit(limit: int) -> None:
    if limit.__class__ is not int or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")


def _checked_choice(value: str, choices: Any, what: str) -> None:
    allowed = choices.__args__
    if value not in allowed:
        raise InvalidInputError(f"{what} must be one of {', '.join(allowed)}, got {value!r}")


A = TypeVar("A", RequestAcc, RunAcc)


def _merge_into(table: dict[Any, A], key: Any, acc: A) -> None:
    existing = table.get(key)
    if existing is None:
        table[key] = acc
    else:
        existing.merge(acc)


def _with_total(table: dict[Any, A], total_key: Any, factory: Callable[[], A]) -> dict[Any, A]:
    total = factory()
    for acc in table.values():
        total.merge(acc)
    return {**table, total_key: total}


def _with_run_totals(runs: dict[tuple[str, str], RunAcc]) -> dict[tuple[str, str], RunAcc]:
    result = dict(runs)
    for kind in ("agent", "tool"):
        of_kind = {k: v for k, v in runs.items() if k[0] == kind}
        if of_kind:
            result[(kind, TOTAL)] = _with_total(of_kind, None, RunAcc)[None]
    return result


def _latency(hist: Any, count: int, sum_ms: float, min_ms: float, max_ms: float) -> dict[str, Any]:
    if not count:
        return {}
    p50, p90, p95, p99 = hist.quantiles(QUANTILES) if hist.count else (None,) * 4
    return {
        "p50_ms": p50,
        "p90_ms": p90,
        "p95_ms": p95,
        "p99_ms": p99,
        "mean_ms": sum_ms / count,
        "min_ms": min_ms,
        "max_ms": max_ms,
    }


def _request_sort_key(s: SeriesAgg, sort_by: str) -> float:
    acc = s.acc
    if sort_by == "count":
        return float(acc.count)
    if sort_by == "error_count":
        return float(acc.status[5])
    if sort_by == "error_rate":
        return acc.status[5] / acc.count if acc.count else 0.0
    return acc.sum_ms / acc.count if acc.count else 0.0  # mean_ms


def _run_sort_key(s: SeriesAgg, sort_by: str) -> float:
    acc = s.acc
    if sort_by in ("runs", "calls"):
        return float(acc.count)
    if sort_by == "failures":
        return float(acc.failures)
    if sort_by == "error_rate":
        return acc.failures / acc.count if acc.count else 0.0
    return float(acc.cost_usd)  # cost_usd


def _endpoint_stats(s: SeriesAgg, seconds: int) -> m.EndpointStats:
    acc: RequestAcc = s.acc
    return m.EndpointStats(
        endpoint=s.name,
        method=s.method,
        count=acc.count,
        requests_per_s=acc.count / seconds,
        error_count=acc.status[5],
        error_rate=acc.status[5] / acc.count if acc.count else 0.0,
        status_counts=acc.status_classes(),
        avg_request_bytes=acc.req_bytes / acc.req_n if acc.req_n else None,
        avg_response_bytes=acc.resp_bytes / acc.resp_n if acc.resp_n else None,
        **_latency(acc.hist, acc.count, acc.sum_ms, acc.min_ms, acc.max_ms),
    )


def _top_labels(counts: dict[str, int], n: int = 5) -> list[m.CountShare]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [m.CountShare(name=k, count=v) for k, v in ranked]


def _run_fields(acc: RunAcc) -> dict[str, Any]:
    return {
        "failures": acc.failures,
        "success_rate": 1 - acc.failures / acc.count if acc.count else 0.0,
        "error_rate": acc.failures / acc.count if acc.count else 0.0,
        **_latency(acc.hist, acc.count, acc.sum_ms, acc.min_ms, acc.max_ms),
    }


def _agent_stats(s: SeriesAgg) -> m.AgentStats:
    acc: RunAcc = s.acc
    return m.AgentStats(
        agent_name=s.name,
        runs=acc.count,
        **acc.usage(),
        tool_calls=acc.tool_calls,
        top_errors=_top_labels(acc.errors),
        tool_usage=_top_labels(acc.tools, 10),
        **_run_fields(acc),
    )


def _model_usage(s: SeriesAgg) -> m.ModelUsage:
    acc: RunAcc = s.acc
    p50, p95 = acc.hist.quantiles((0.5, 0.95))
    return m.ModelUsage(
        model=s.name,
        runs=acc.count,
        failures=acc.failures,
        error_rate=acc.failures / acc.count if acc.count else 0.0,
        p50_ms=p50,
        p95_ms=p95,
        **acc.usage(),
    )


def _tool_stats(s: SeriesAgg) -> m.ToolStats:
    acc: RunAcc = s.acc
    return m.ToolStats(
        tool_name=s.name, calls=acc.count, top_errors=_top_labels(acc.errors), **_run_fields(acc)
    )


Merged = dict[int, tuple[LogHistogram, int]]  # per series id: merged histogram, 5xx count


@dataclass(frozen=True)
class _Ranking:
    """The summary's per-endpoint data for one window plan (see Monitor._ranking)."""

    plan: list[TierRange]
    total: tuple[int, int, float]  # the all-endpoint total of the plan's rows
    settled_total: tuple[int, int, float]  # the all-endpoint total of the settled rows
    settled: Merged  # per endpoint, its settled rows merged
    recent: dict[int, tuple[int, int, float]]  # per endpoint, its recent rows' sums
    merged: dict[int, tuple[LogHistogram, int, float]]  # per endpoint: all rows, 5xx, p95

    @classmethod
    def settled_only(
        cls,
        plan: list[TierRange],
        total: tuple[int, int, float],
        settled_total: tuple[int, int, float],
        settled: Merged,
    ) -> _Ranking:
        merged = {sid: (h, errors, h.quantile(0.95) or 0.0) for sid, (h, errors) in settled.items()}
        return cls(plan, total, settled_total, settled, {}, merged)


def _split_plan(plan: list[TierRange], cutoff: float) -> tuple[list[TierRange], list[TierRange]]:
    """The plan's rows that ended before ``cutoff``, and the rest."""
    settled, recent = [], []
    for r in plan:
        edge = min(max(bucket_start(cutoff, r.tier_s), r.start), r.end)
        if edge > r.start:
            settled.append(TierRange(r.tier_s, r.start, edge))
        if r.end > edge:
            recent.append(TierRange(r.tier_s, edge, r.end))
    return settled, recent


def _fingerprint(series: list[SeriesAgg]) -> tuple[int, int, float]:
    """Count, 5xx and summed time of a series' rows: any write to them changes the count."""
    if not series:
        return (0, 0, 0.0)
    acc: RequestAcc = series[0].acc
    return (acc.count, acc.status[5], acc.sum_ms)

"""Pending: what was recorded since the last flush, folded into 10 s accumulators.

Checked samples (perf_mcp.core.validation) wait in bounded buffers; ``fold`` moves them into
the accumulators of their time bucket (perf_mcp.core.series says how a sample changes one).
Only the fold and the flush touch these accumulators, under the Monitor's fold lock.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Any, TypeVar

from perf_mcp.core.paths import endpoint_name
from perf_mcp.core.pricing import ESTIMATED, REPORTED, UNPRICED, estimate_cost, price_table
from perf_mcp.core.series import OTHER, TOTAL, RequestAcc, RunAcc, SeriesRegistry
from perf_mcp.core.validation import (
    AgentRunSample,
    RequestSample,
    ToolCallSample,
    http_method,
)
from perf_mcp.core.window import bucket_start
from perf_mcp.storage import FlushBatch, RawAgentRun, RawToolCall
from perf_mcp.storage.folded import FOLDED_NAMES_KEPT

ALIAS_CACHE = 10_000  # raw (method, endpoint) pairs remembered between flushes, in all buckets
MAX_PENDING_RAW = 10_000  # raw agent runs / tool calls held between flushes
MAX_PENDING_BUCKETS = 360  # an hour of 10 s buckets held while the store cannot be written
FOLDED_METHODS = 16  # methods whose folded requests keep a series each; the rest share one
KINDS = ("request", "agent", "model", "tool")
COST_SOURCES = {REPORTED: "reported", ESTIMATED: "estimated", UNPRICED: "unpriced"}

A = TypeVar("A", RequestAcc, RunAcc)


class Bucket:
    """The data recorded in one 10 s bucket since the last flush."""

    __slots__ = ("aliases", "requests", "runs")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], RequestAcc] = {}  # by (endpoint name, METHOD)
        # The caller's raw method -> raw endpoint -> accumulator: no naming per sample.
        self.aliases: dict[str, dict[str, RequestAcc]] = {}
        self.runs: dict[tuple[str, str], RunAcc] = {}  # by (kind, name)


class Pending:
    """Accumulators per 10 s bucket, raw runs and calls, and a sample of the folded names,
    until a flush.

    What grows with the number of distinct names is bounded: the series (the budget), the
    raw names remembered (ALIAS_CACHE) and the folded names kept (the newest
    FOLDED_NAMES_KEPT per kind, as the store keeps them). Folded records are counted in the
    __other__ accumulators, so their counts stay exact whatever the sample leaves out.
    """

    request_acc: type[RequestAcc] = RequestAcc  # what a series' requests add up in

    def __init__(self, series_budget: int) -> None:
        self.registries = {kind: SeriesRegistry(series_budget) for kind in KINDS}
        # Methods are names too: past these, a folded request's method folds as well.
        self.folded_methods = SeriesRegistry(FOLDED_METHODS)
        self.buckets: dict[int, Bucket] = {}
        self.agent_runs: list[RawAgentRun] = []
        self.tool_calls: list[RawToolCall] = []
        self.aliases = 0  # raw names remembered in all buckets' aliases
        self.folded: dict[str, OrderedDict[str, None]] = {}  # kind -> folded names, newest last
        self.dropped_raw = 0  # raw runs and calls dropped: too many waiting for the store
        self.dropped_buckets = 0  # 10 s buckets dropped: the store could not take them

    def __bool__(self) -> bool:
        return bool(self.buckets or self.agent_runs or self.tool_calls or self.folded)

    # ------------------------------------------------------------ folding samples in

    def fold(
        self,
        requests: deque[RequestSample],
        runs: deque[AgentRunSample],
        tools: deque[ToolCallSample],
    ) -> None:
        """Move every buffered sample into its bucket's accumulators.

        Only as many samples as each buffer held when the fold began are taken, so threads
        recording meanwhile never make it run on.
        """
        take = requests.popleft
        bucket, lo, hi = None, 0.0, 0.0
        groups: dict[RequestAcc, list[RequestSample]] = {}
        for _ in range(len(requests)):
            sample = take()
            if not lo <= sample[0] < hi:
                bucket, lo, hi = self._bucket(sample[0])
            try:
                acc = bucket.aliases[sample[2]][sample[1]]  # type: ignore[union-attr]
            except KeyError:  # first sight in this bucket
                acc = self._request_acc(bucket, sample[1], sample[2])  # type: ignore[arg-type]
            group = groups.get(acc)
            if group is None:
                groups[acc] = [sample]
            else:
                group.append(sample)
        for acc, samples in groups.items():
            acc.add_samples(samples)
        take_run = runs.popleft
        for _ in range(len(runs)):
            self._add_run(take_run())
        take_tool = tools.popleft
        for _ in range(len(tools)):
            self._add_tool(take_tool())

    def _bucket(self, ts: float) -> tuple[Bucket, float, float]:
        start = bucket_start(ts)
        bucket = self.buckets.get(start)
        if bucket is None:
            bucket = self.buckets[start] = Bucket()
        return bucket, float(start), float(start + 10)

    def _request_acc(self, bucket: Bucket, endpoint: str, method: str) -> RequestAcc:
        """Name a raw (endpoint, method) and find its series' accumulator (the slow path)."""
        name, verb = endpoint_name(endpoint), http_method(method)
        if not self.registries["request"].admit((name, verb)):
            self._fold_name("request", f"{verb} {name}")
            name = OTHER
            if not self.folded_methods.admit(verb):
                verb = OTHER
        acc = bucket.requests.get((name, verb))
        if acc is None:
            acc = bucket.requests[(name, verb)] = self.request_acc()
        if self.aliases < ALIAS_CACHE:
            bucket.aliases.setdefault(method, {})[endpoint] = acc
            self.aliases += 1
        return acc

    def _run_acc(self, bucket: Bucket, kind: str, name: str) -> RunAcc:
        if not self.registries[kind].admit(name):
            self._fold_name(kind, name)
            name = OTHER
        acc = bucket.runs.get((kind, name))
        if acc is None:
            acc = bucket.runs[(kind, name)] = RunAcc()
        return acc

    def _fold_name(self, kind: str, name: str) -> None:
        """Keep ``name`` as the newest of the kind's sample of folded names."""
        names = self.folded.get(kind)
        if names is None:
            names = self.folded[kind] = OrderedDict()
        names[name] = None
        names.move_to_end(name)
        if len(names) > FOLDED_NAMES_KEPT:
            names.popitem(last=False)

    def _add_run(self, run: AgentRunSample) -> None:
        ts, agent, duration_ms, success, error_type, model, provider = run[:7]
        tokens: tuple[int, int, int, int] = run[7:11]
        cost_usd, run_id, conversation_id, calls = run[11:]
        source, price_date = REPORTED, None
        if not cost_usd and (tokens[0] or tokens[1]):  # tokens, no cost: price them
            estimate = estimate_cost(model, provider, *tokens, ts)
            if estimate is None:
                source = UNPRICED
            else:
                cost_usd, price_date, source = estimate.cost_usd, estimate.price_date, ESTIMATED
        bucket = self._bucket(ts)[0]
        tools = [call[1] for call in calls]
        accs = [self._run_acc(bucket, "agent", agent)]
        if model or provider:
            label = f"{provider}/{model}" if provider and model else str(model or provider)
            accs.append(self._run_acc(bucket, "model", label))
        for acc in accs:
            acc.add_run(duration_ms, error_type, not success, tokens, cost_usd, source, tools)
        for call in calls:
            self._add_tool(call if call[5] is not None else (*call[:5], agent, *call[6:]))
        self._keep(
            self.agent_runs,
            (ts, agent, duration_ms, success, error_type, model, provider, *tokens, cost_usd)
            + (len(calls), run_id, conversation_id, COST_SOURCES[source], price_date)
            + (price_table() if source == ESTIMATED else None,),
        )

    def _add_tool(self, call: ToolCallSample) -> None:
        ts, tool, duration_ms, success, error_type, agent, call_id, result_chars = call
        bucket = self._bucket(ts)[0]
        acc = self._run_acc(bucket, "tool", tool)
        acc.add(duration_ms, error_type, not success)
        if result_chars is not None:
            acc.add_result(result_chars)
        self._keep(
            self.tool_calls,
            (ts, tool, agent, duration_ms, success, error_type, call_id, result_chars),
        )

    def _keep(self, records: list[Any], record: Any) -> None:
        if len(records) < MAX_PENDING_RAW:
            records.append(record)
        else:
            self.dropped_raw += 1

    # ------------------------------------------------------------ to the store and back

    def take(self) -> tuple[FlushBatch, dict[int, Bucket]]:
        """Everything pending, as a flush writes it (with each kind's total), and the buckets
        it came from; Pending starts empty again."""
        buckets, self.buckets = self.buckets, {}
        batch = FlushBatch(
            agent_runs=self.agent_runs,
            tool_calls=self.tool_calls,
            folded=[(kind, name) for kind, names in self.folded.items() for name in names],
        )
        self.agent_runs, self.tool_calls, self.folded = [], [], {}
        self.aliases = 0
        for start, bucket in buckets.items():
            if bucket.requests:
                batch.requests[start] = _with_total(bucket.requests, (TOTAL, ""), RequestAcc)
            if bucket.runs:
                runs = dict(bucket.runs)
                for kind in ("agent", "tool"):
                    of_kind = {k: v for k, v in bucket.runs.items() if k[0] == kind}
                    if of_kind:
                        runs[(kind, TOTAL)] = _with_total(of_kind, None, RunAcc)[None]
                batch.runs[start] = runs
        return batch, buckets

    def put_back(self, buckets: dict[int, Bucket], batch: FlushBatch) -> None:
        """Return what a failed flush took, ahead of what came since, within the bounds."""
        for start, old in buckets.items():
            bucket = self.buckets.setdefault(start, Bucket())
            for key, acc in old.requests.items():
                _merge_into(bucket.requests, key, acc)
            for run_key, run_acc in old.runs.items():
                _merge_into(bucket.runs, run_key, run_acc)
            bucket.aliases.clear()  # they may point at accumulators merged away
        for start in sorted(self.buckets)[:-MAX_PENDING_BUCKETS]:
            del self.buckets[start]
            self.dropped_buckets += 1
        self.agent_runs = self._room(batch.agent_runs, self.agent_runs)
        self.tool_calls = self._room(batch.tool_calls, self.tool_calls)
        newer, self.folded = self.folded, {}
        for kind, name in batch.folded:  # the older names first: the newest stay newest
            self._fold_name(kind, name)
        for kind, names in newer.items():
            for name in names:
                self._fold_name(kind, name)

    def _room(self, older: list[Any], newer: list[Any]) -> list[Any]:
        """``older`` then ``newer``, dropping (and counting) the oldest past the bound."""
        kept = older + newer
        self.dropped_raw += max(0, len(kept) - MAX_PENDING_RAW)
        return kept[-MAX_PENDING_RAW:]

    def load_known(self, names: Iterable[tuple[str, str]]) -> None:
        """Admit the (kind, name) series the store already has."""
        for kind, name in names:
            self.registries[kind].admit(name)


def _merge_into(table: dict[Any, A], key: Any, acc: A) -> None:
    existing = table.get(key)
    if existing is None:
        table[key] = acc
    else:
        existing.merge(acc)


def _with_total(table: dict[Any, A], total_key: Any, factory: Any) -> dict[Any, A]:
    total = factory()
    for acc in table.values():
        total.merge(acc)
    return {**table, total_key: total}

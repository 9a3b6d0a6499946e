"""Flusher: the sample buffers, their fold into Pending, and the writes to the store.

Record calls append checked samples to the buffers (a deque append is atomic: no lock on the
caller's path); the middleware's pre-bound recorder appends its requests unchecked, and the
fold checks them with the same check (a bad one is dropped and counted: nobody could have
caught an error raised inside the middleware). The flusher thread folds the buffers into 10 s
accumulators and writes those every interval, and so does any query that needs them. A full
buffer drops the new sample and counts it, so recording never blocks the app nor grows without
bound. A flush the store refuses (a full disk, a lock, an I/O error) keeps its data for the
next one, within Pending's bounds, and is remembered as a ``FlushFailure`` until a flush
succeeds again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from perf_mcp.core import validation as check
from perf_mcp.core.validation import (
    AgentRunSample,
    RequestSample,
    ToolCallSample,
    UncheckedRequest,
)
from perf_mcp.recording.pending import Pending
from perf_mcp.storage import Storage, StoreError

log = logging.getLogger("perf_mcp")
THREAD_NAME = "perf-mcp-flusher"


@dataclass(frozen=True)
class FlushFailure:
    """Why the store takes no flush now: the last error, since when, how many flushes in a row
    failed, and what the last of them left waiting in memory for the store."""

    error: str
    since: float  # when the first of these failures happened (a time.time() value)
    failures: int
    waiting_buckets: int  # 10 s buckets held (at most MAX_PENDING_BUCKETS; older ones drop)
    waiting_raw: int  # single runs and tool calls held (at most MAX_PENDING_RAW each)


class Flusher:
    """Owns the buffers and Pending; folds and writes them, on its thread or when asked."""

    def __init__(
        self, storage: Storage, pending: Pending, clock: Callable[[], float] = time.time
    ) -> None:
        self.storage = storage
        self.pending = pending
        self.requests: deque[RequestSample] = deque()
        self.unchecked_requests: deque[UncheckedRequest] = deque()  # checked as they fold
        self.runs: deque[AgentRunSample] = deque()
        self.tools: deque[ToolCallSample] = deque()
        self._drop_lock = threading.Lock()  # taken only when a buffer is full
        self.dropped_samples = 0
        self.rejected_samples = 0  # unchecked requests the fold found invalid
        self.put_backs = 0  # failed flushes: what they took went back in a new order
        self._clock = clock
        self._failure: FlushFailure | None = None  # of the last flush, while flushes fail
        self.fold_lock = threading.Lock()  # held while Pending's accumulators change or are read
        self.flush_lock = threading.Lock()  # held while records move from memory to the store
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def drop(self) -> None:
        """Count a sample dropped because its buffer was full."""
        with self._drop_lock:
            self.dropped_samples += 1

    @property
    def drops(self) -> dict[str, int]:
        """What was dropped since the start: ``samples`` (a full record buffer), ``rejected``
        (the middleware's requests with a value the check refuses), ``raw`` (raw runs and
        calls) and ``buckets`` (10 s buckets the store could not take) while the store could
        not keep up or be written."""
        pending = self.pending
        return {
            "samples": self.dropped_samples,
            "rejected": self.rejected_samples,
            "raw": pending.dropped_raw,
            "buckets": pending.dropped_buckets,
        }

    def buffered(self) -> bool:
        """Whether anything recorded is not yet in the store."""
        return bool(
            self.requests or self.unchecked_requests or self.runs or self.tools or self.pending
        )

    def fold(self) -> None:
        """Fold the buffered samples into Pending (the caller holds ``fold_lock``)."""
        self._check_unchecked()
        self.pending.fold(self.requests, self.runs, self.tools)

    def _check_unchecked(self) -> None:
        """Move the unchecked requests that pass ``check.request`` to the checked buffer;
        count the rest, and log the first (the error names the field)."""
        take, keep = self.unchecked_requests.popleft, self.requests.append
        for _ in range(len(self.unchecked_requests)):
            try:
                keep(check.request(*take()))
            except Exception as exc:  # any value an app's middleware stack handed over
                self.rejected_samples += 1
                if self.rejected_samples == 1:
                    log.warning("perf-mcp dropped a request with an invalid value: %s", exc)

    def flush(self) -> None:
        """Write everything recorded so far to the store; on failure keep it for the next."""
        with self.flush_lock:
            with self.fold_lock:
                self.fold()
                if not self.pending:
                    return
                batch, buckets = self.pending.take()
            try:
                self.storage.write(batch)
            except BaseException as exc:
                with self.fold_lock:
                    self.pending.put_back(buckets, batch)
                    self.put_backs += 1
                    self._failed(exc)
                raise
            if self._failure is not None:
                log.warning(
                    "perf-mcp flushes succeed again after %d failures", self._failure.failures
                )
                self._failure = None

    def _failed(self, exc: BaseException) -> None:
        """Remember a failed flush and what it left waiting (the caller holds both locks);
        log the first of a run."""
        error = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
        last = self._failure
        if last is None:
            log.warning("perf-mcp flush failed; keeping its data for the next: %s", error)
        pending = self.pending
        self._failure = FlushFailure(
            error,
            since=self._clock() if last is None else last.since,
            failures=1 if last is None else last.failures + 1,
            waiting_buckets=len(pending.buckets),
            waiting_raw=len(pending.agent_runs) + len(pending.tool_calls),
        )

    @property
    def failure(self) -> FlushFailure | None:
        """How the last flush failed, and the run of failures it ends (None: it succeeded)."""
        return self._failure

    def start(self, interval_s: float) -> None:
        """Flush every ``interval_s`` on a daemon thread until ``close``."""
        self._thread = threading.Thread(
            target=self._loop, args=(interval_s,), name=THREAD_NAME, daemon=True
        )
        self._thread.start()

    @property
    def alive(self) -> bool | None:
        """Whether the flush thread runs (None: started without one)."""
        return None if self._thread is None else self._thread.is_alive()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _loop(self, interval_s: float) -> None:
        # Flushes start every interval, however long each took (a flush that outlasts the
        # interval is followed at once): what a crash loses stays within about two intervals.
        start = time.monotonic()
        while not self._closed.wait(max(0.0, start + interval_s - time.monotonic())):
            start = time.monotonic()
            try:
                self.flush()
            except Exception:  # remembered in ``failure``; a locked or full disk may recover
                log.debug("perf-mcp flush failed; will retry", exc_info=True)

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()


class RefusedBuffer:
    """Stands in for the buffers when nothing can be recorded: a record raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __len__(self) -> int:
        return 0

    def append(self, sample: object) -> None:
        raise self.error

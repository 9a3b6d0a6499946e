"""Types of the compiled fast lanes (perf_mcp/_accel.c)."""

from collections.abc import Callable, Sequence
from typing import Any

from perf_mcp.core.series import RequestAcc, RunAcc

class Recorder:
    """A Monitor record method's compiled fast lane, bound to one Monitor."""

    def __init__(
        self,
        *,
        kind: str,
        monitor: object,
        slow: Callable[..., None],
        clock: Callable[[], float] | None,
        bucket_type: type,
        acc_type: type,
        hist_type: type,
        run_type: type,
        inv_log_gamma: float,
        offset: float,
        min_value: float,
        size: int,
        max_duration: float,
        max_bytes: int,
        max_tokens: int,
        max_cost: float,
        max_name: int,
        label_budget: int,
        other: str,
        max_pending_raw: int,
    ) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> None: ...
    def add(
        self,
        acc: RequestAcc,
        status_code: int,
        duration_ms: float,
        request_bytes: int | None,
        response_bytes: int | None,
        ts: float,
    ) -> None: ...
    def add_run(
        self,
        acc: RunAcc,
        duration_ms: float,
        error_type: str | None,
        failed: bool,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        cost_usd: float,
        tools: Sequence[str],
    ) -> None: ...

"""Types of the compiled fast lane (perf_mcp/_accel.c)."""

from collections.abc import Callable

from perf_mcp.core.series import RequestAcc

class Recorder:
    """Monitor.record_request's compiled fast lane, bound to one Monitor."""

    def __init__(
        self,
        *,
        monitor: object,
        slow: Callable[..., None],
        clock: Callable[[], float] | None,
        bucket_type: type,
        acc_type: type,
        hist_type: type,
        inv_log_gamma: float,
        offset: float,
        min_value: float,
        size: int,
        max_duration: float,
        max_bytes: int,
    ) -> None: ...
    def __call__(
        self,
        endpoint: str,
        method: str,
        status_code: int,
        duration_ms: float,
        request_bytes: int | None = None,
        response_bytes: int | None = None,
        timestamp: float | None = None,
    ) -> None: ...
    def add(
        self,
        acc: RequestAcc,
        status_code: int,
        duration_ms: float,
        request_bytes: int | None,
        response_bytes: int | None,
        ts: float,
    ) -> None: ...

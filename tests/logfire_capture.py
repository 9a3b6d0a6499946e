"""Capturing what perf-mcp logs to Logfire, in memory.

Like logfire's own ``capfire`` fixture, but configured for distributed tracing: the MCP SDK
propagates trace context from client to server on purpose, and logfire's default warns the
first time it sees one (a warning is an error in these tests). Logfire's configuration is
global, so every test that configures it uses this.
"""

from __future__ import annotations

import logfire
from logfire.testing import (
    CaptureLogfire,
    IncrementalIdGenerator,
    TestExporter,
    TestLogExporter,
    TimeGenerator,
)
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


def capture_logfire() -> CaptureLogfire:
    """Configure Logfire to keep every span and log in memory; return the capture."""
    exporter = TestExporter()
    time_generator = TimeGenerator()
    log_exporter = TestLogExporter(time_generator)
    metrics_reader = InMemoryMetricReader()
    logfire.configure(
        send_to_logfire=False,
        console=False,
        distributed_tracing=True,
        advanced=logfire.AdvancedOptions(
            id_generator=IncrementalIdGenerator(),
            ns_timestamp_generator=time_generator,
            log_record_processors=[SimpleLogRecordProcessor(log_exporter)],
        ),
        additional_span_processors=[SimpleSpanProcessor(exporter)],
        metrics=logfire.MetricsOptions(additional_readers=[metrics_reader]),
    )
    return CaptureLogfire(
        exporter=exporter, metrics_reader=metrics_reader, log_exporter=log_exporter
    )


def alert_logs(capture: CaptureLogfire) -> list[dict[str, object]]:
    """The attributes of every alert transition logged, oldest first."""
    return [
        span["attributes"]
        for span in capture.exporter.exported_spans_as_dict()
        if span["name"] == "alert {kind}: {message}"
    ]

"""A FastAPI app instrumented only by OpenTelemetry (no perf-mcp code), served by uvicorn.

Its exporter is configured by the OTEL_EXPORTER_OTLP_* environment, as a user's would be. It
also keeps its own spans in memory and, at shutdown, writes each server span's route, status
and duration to ``$SPANS_OUT``: what perf-mcp should answer for, exactly.

    SPANS_OUT=spans.json python -m tests.e2e.emitters.fastapi_app PORT
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, HTTPException
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

kept = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
provider.add_span_processor(SimpleSpanProcessor(kept))
trace.set_tracer_provider(provider)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    provider.force_flush()
    served = [
        {
            "route": span.attributes.get("http.route"),
            "status": span.attributes.get("http.response.status_code")
            or span.attributes.get("http.status_code"),
            "duration_ms": (span.end_time - span.start_time) / 1e6,
        }
        for span in kept.get_finished_spans()
        if span.kind is SpanKind.SERVER
    ]
    with open(os.environ["SPANS_OUT"], "w") as out:
        json.dump(served, out)
    provider.shutdown()


app = FastAPI(lifespan=lifespan)


@app.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, int]:
    if item_id % 4 == 0:
        raise HTTPException(status_code=500, detail="no stock service")
    return {"item_id": item_id}


@app.post("/orders")
async def create_order() -> dict[str, str]:
    return {"status": "created"}


FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")

"""OTLP in: the /v1/traces receiver (decode), span-to-record mapping, ingest counters."""

"""Out to other tools: /metrics in the Prometheus text format, read from the Monitor's API."""

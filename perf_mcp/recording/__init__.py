"""The record path's state: bounded sample buffers folded into 10 s accumulators, then flushed."""

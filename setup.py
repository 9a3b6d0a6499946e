"""The optional compiled fast lane (perf_mcp._accel); without a C compiler, pure Python."""

import sys

from setuptools import Extension, setup

# Bucket positions must round exactly as Python's float arithmetic does: no fused multiply-add.
FLAGS = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off"]

setup(
    ext_modules=[
        Extension("perf_mcp._accel", ["perf_mcp/_accel.c"], extra_compile_args=FLAGS, optional=True)
    ]
)

"""Benchmarks of the API: ``wismo bench latency``, ``reads`` and ``fanout``.

Each scenario starts what it measures as real processes on 127.0.0.1 (:mod:`api.bench.stack`),
drives it with the lean clients of :mod:`api.bench.wire`, and returns a flat summary with the
baseline measured in the same run beside it.
"""

"""Scale benchmarks of tenantmatch: ``python -m benchmarks.run`` (see ``benchmarks/run.py``)."""

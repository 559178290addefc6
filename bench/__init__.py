"""Benchmarks: each measures crm_bridge doing a job and a *floor* — the least work of the same kind, measured on
this machine in the same run — and prints the ratio. Ratios, not seconds, are what to compare across machines
and runs (this machine is shared and noisy); no benchmark asserts a time.

* ``python -m bench.real`` (``make bench``, ``make bench-quick``): the figures of record — the real site under
  gunicorn, load from another process, Celery workers, the sandbox CRM, Chromium (docs/benchmarks.md).
* ``python -m bench`` (``make bench-inprocess``): in one process through Django's test client; a profiling aid.
"""

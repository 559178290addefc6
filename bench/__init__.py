"""Benchmarks. Run ``make bench`` (``python -m bench``).

Each measures crm_bridge doing a job and a *floor*: the least work of the same kind, measured on this machine
in the same run; it prints the ratio. Ratios, not seconds, are what to compare across machines and runs (this
machine is shared and noisy); no benchmark asserts a time.
"""

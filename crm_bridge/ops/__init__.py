"""For the people who run the site: health endpoints, Prometheus metrics (docs/operations.md).

``health`` (liveness, readiness: django-health-check plugins), ``metrics`` (a prometheus-client collector over
the database), ``readings`` (what both read), ``urls`` (mounted by ``crm_bridge.urls`` under ``ops/``). The
structured-log pieces are in :mod:`crm_bridge.logging`. Nothing here writes to the database.
"""

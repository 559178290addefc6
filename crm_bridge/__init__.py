"""crm_bridge: a feedback and lead-capture widget for Django sites, delivered to the 全程云 CRM.

The pieces: ``crm_bridge.crm`` speaks the CRM Web API (no Django), ``crm_bridge.sandbox`` emulates it
locally, and the app around them takes submissions and delivers them through Celery.
"""

__version__ = "0.1.0"

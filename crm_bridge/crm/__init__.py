"""Speaks the 全程云 CRM Web API. Knows nothing of Django: usable from any Python program.

>>> from crm_bridge.crm import CRMClient, CRMError
>>> crm = CRMClient(base_url="https://crm.example.com/WebApi/Handler/1.0/CRM/", token="…")  # doctest: +SKIP
>>> crm.customer.name_is_repeat(s_name="上海某某公司", id=0)  # doctest: +SKIP
False
>>> crm.call("Customer/Get", {"id": 5})  # any endpoint by path, params by wire name  # doctest: +SKIP
{'id': 5, 'name': '上海某某公司', ...}
>>> crm.with_site_key("…").ecommerce.add_message_board(cust_id=1, content="你好")  # doctest: +SKIP
True

Modules: ``spec`` (the 39 endpoints as data), ``codec`` (params in, replies out), ``client`` (HTTP),
``endpoints`` (typed methods, generated from the spec by ``tools/codegen.py``), ``naming`` (their Python names),
``errors`` (one hierarchy, one map).
"""

from .client import ClientConfig, CRMClient, CRMReply
from .errors import (
    CRMAuthError,
    CRMBadReply,
    CRMConnectionError,
    CRMError,
    CRMNotFound,
    CRMParamError,
    CRMRejected,
    CRMServerError,
    CRMTimeout,
    CRMUnavailable,
    error_for_reply,
)
from .spec import ENDPOINTS, get_endpoint

__all__ = [
    "ENDPOINTS",
    "CRMAuthError",
    "CRMBadReply",
    "CRMClient",
    "CRMConnectionError",
    "CRMError",
    "CRMNotFound",
    "CRMParamError",
    "CRMRejected",
    "CRMReply",
    "CRMServerError",
    "CRMTimeout",
    "CRMUnavailable",
    "ClientConfig",
    "error_for_reply",
    "get_endpoint",
]

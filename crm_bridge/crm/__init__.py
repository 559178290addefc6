"""Speaks the 全程云 CRM Web API. Knows nothing of Django: usable from any Python program.

>>> from crm_bridge.crm import CRMClient, ClientConfig
>>> crm = CRMClient(ClientConfig(base_url="https://crm.example.com/WebApi/Handler/1.0/CRM/", token="…"))
>>> crm.customer.name_is_repeat(s_name="上海某某公司", id=0)
False
"""

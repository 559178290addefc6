"""Seeding is deterministic and idempotent; reset() returns to exactly the seeded state."""

from __future__ import annotations

from django.apps import apps

from crm_bridge.sandbox import control
from crm_bridge.sandbox.apps import _seed_after_migrate
from crm_bridge.sandbox.models import (
    BaseType,
    ContactPlan,
    Contract,
    CredentialOverride,
    Customer,
    Fault,
    LinkMan,
    RequestLog,
    SampleGiftOrder,
)


def snapshot() -> dict:
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in apps.get_app_config("crm_sandbox").get_models()
    }


def test_seeded_ids():
    assert list(Customer.objects.values_list("id", flat=True)) == [1, 2, 3, 4, 5]
    assert list(LinkMan.objects.values_list("id", "customer_id", "is_main")) == [
        (1, 1, True),
        (2, 1, False),
        (3, 2, True),
        (4, 3, True),
        (5, 4, False),
        (6, 5, True),
    ]
    assert list(Contract.objects.values_list("id", "state")) == [
        (1, "draft"),
        (2, "draft"),
        (3, "audited"),
        (4, "audited"),
        (5, "stopped"),
    ]
    assert list(SampleGiftOrder.objects.values_list("order_id", "audited")) == [
        ("SG-0001", False),
        ("SG-0002", False),
        ("SG-0003", True),
    ]
    assert list(ContactPlan.objects.values_list("id", flat=True)) == [1, 2, 3]
    assert sorted(set(BaseType.objects.values_list("par_id", flat=True))) == ["1", "2", "3", "4"]


def test_reset_is_deterministic_and_restarts_ids(crm):
    before = snapshot()
    crm.post("Customer/Save", json={"sName": "甲"})
    crm.post("Customer/Save", json={"sName": "乙"})
    crm.post("Contract/ContractAudit", id=1)
    control.inject_fault("slow")
    control.set_credentials(tokens=["x"])
    control.reset()
    assert snapshot() == before
    assert (Fault.objects.count(), RequestLog.objects.count(), CredentialOverride.objects.count()) == (0, 0, 0)
    assert crm.value("Customer/Save", json={"sName": "丙"}) is True
    assert Customer.objects.get(s_name="丙").id == 6  # not 8: sequences restart


def test_seed_is_idempotent_and_keeps_changes(crm):
    crm.post("Customer/Update", customer={"id": 1, "remark": "改过"})
    crm.post("Customer/Save", json={"sName": "新"})
    LinkMan.objects.filter(pk=5).delete()
    control.seed()
    control.seed()
    assert Customer.objects.count() == 6
    assert Customer.objects.get(pk=1).remark == "改过"
    assert LinkMan.objects.filter(pk=5).exists()  # a missing seed row comes back


def test_post_migrate_seeds_an_empty_sandbox():
    Customer.objects.all().delete()
    assert LinkMan.objects.count() == 0
    _seed_after_migrate(sender=apps.get_app_config("crm_sandbox"), using="default")
    assert Customer.objects.count() == 5
    assert LinkMan.objects.count() == 6

"""Fixtures for alert tests: a site with one destination per robot kind, pointed at the sandbox's stand-ins
served over real HTTP (pytest-django's live_server), and an e-mail destination."""

from __future__ import annotations

import pytest

from crm_bridge.alerts.models import AlertDestination
from crm_bridge.models import Site
from crm_bridge.sandbox import control, robots


@pytest.fixture
def site(db) -> Site:
    return Site.objects.create(name="Acme", site_key="sandbox-site-key", allowed_origins=["https://acme.example"])


def robot_urls(base: str) -> dict[str, tuple[str, str]]:
    return {
        "wecom": (f"{base}/_robots/wecom/send?key={robots.WECOM_KEY}", ""),
        "dingtalk": (
            f"{base}/_robots/dingtalk/robot/send?access_token={robots.DINGTALK_TOKEN}",
            robots.DINGTALK_SECRET,
        ),
        "feishu": (f"{base}/_robots/feishu/hook/{robots.FEISHU_TOKEN}", robots.FEISHU_SECRET),
    }


@pytest.fixture
def stand_ins(live_server):
    """The robot stand-ins, emptied, over real HTTP; up again afterwards."""
    control.reset()
    yield live_server.url
    robots.come_up()


@pytest.fixture
def robot_destinations(site, stand_ins) -> dict[str, AlertDestination]:
    return {
        kind: AlertDestination.objects.create(site=site, kind=kind, webhook_url=url, secret=secret)
        for kind, (url, secret) in robot_urls(stand_ins).items()
    }


@pytest.fixture(autouse=True)
def _no_broker_unless_a_worker_runs(request, monkeypatch):
    """In-process tests hand nothing to the broker: the demo settings' filesystem broker is shared by the run,
    and hundreds of stale messages (100-lead bursts) would keep a later test's real worker busy for a minute."""
    if request.node.get_closest_marker("worker"):
        return
    from crm_bridge import broker
    from crm_bridge.alerts import create

    monkeypatch.setattr(broker, "enqueue_delivery", lambda submission_id: True)
    monkeypatch.setattr(create, "enqueue_alerts", lambda alert_ids: 0)

"""Sending one message to one destination: e-mail (Django's ``send_mail``) or a group robot's webhook.

Every robot is sent plain ``text`` messages, not ``markdown``: an alert quotes what a visitor typed, and in
markdown a name like ``[优惠](https://evil.example)`` would become a link in the sales group.

The vendors' rules this follows (checked against their public docs):

* WeCom (企业微信) group robot — developer.work.weixin.qq.com/document/path/91770 ("群机器人配置说明"):
  ``POST <webhook>?key=…`` with ``{"msgtype": "text", "text": {"content": …}}`` (content ≤ 2048 bytes);
  answers ``{"errcode": 0, "errmsg": "ok"}``; 20 messages a minute per robot (errcode 45009 past that).
* DingTalk (钉钉) custom robot — open.dingtalk.com/document/group/custom-robot-access ("自定义机器人接入",
  "加签"): ``string_to_sign = timestamp + "\\n" + secret`` (timestamp in ms), HmacSHA256 keyed by the secret,
  Base64, then URL-encoded, appended as ``&timestamp=…&sign=…``; answers ``errcode`` 0; 310000 "sign not
  match"; 20 messages a minute ("大量发消息的场景…整合…以摘要的形式发送" — hence our batching).
* Feishu/Lark (飞书) custom bot — open.feishu.cn "自定义机器人使用指南" (open.larkoffice.com/document/
  ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN): the body carries ``timestamp`` (s) and ``sign`` = Base64 of HmacSHA256
  with ``timestamp + "\\n" + secret`` as the *key* over an empty message; ``{"msg_type": "text", "content":
  {"text": …}}``; answers ``{"code": 0}``; 19021 for a bad sign or a timestamp over an hour off; 100/min, 5/s,
  11232 when throttled.

Any failure is a :class:`SendError` whose text never holds the webhook URL or the secret (``requests``
exceptions do quote the URL, with its key: they are never passed on, only their class name).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
from typing import Any
from urllib.parse import quote_plus

import requests
from django.core.mail import send_mail

from .conf import alert_setting
from .models import AlertDestination

__all__ = ["SendError", "create_session", "dingtalk_sign", "feishu_sign", "send"]

logger = logging.getLogger("crm_bridge.alerts")

Kind = AlertDestination.Kind

#: WeCom's text limit (bytes); the others allow more, so one cut serves all robots.
MAX_TEXT_BYTES = 2000


class _QuietWhileSending(logging.Filter):
    """Drops urllib3's DEBUG request lines (``"POST /cgi-bin/webhook/send?key=…"``) for our own webhook calls
    only: the robot's key is part of its URL (a query value for WeCom and DingTalk, a path segment for Feishu)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_sending, "active", False)


_sending = threading.local()
logging.getLogger("urllib3.connectionpool").addFilter(_QuietWhileSending())


class SendError(Exception):
    """A message was not accepted; the alert is retried later. ``str()`` is safe to store and log."""


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk's ``sign`` query value (already URL-encoded) for ``timestamp_ms``."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(timestamp_s: int, secret: str) -> str:
    """Feishu's ``sign`` body value for ``timestamp_s``: the key is ``timestamp\\nsecret``, the message empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def create_session() -> requests.Session:
    """The HTTP session for robot webhooks; override (or pass ``session=`` to :func:`send`) in tests."""
    return requests.Session()


def _cut(text: str) -> str:
    data = text.encode()
    if len(data) <= MAX_TEXT_BYTES:
        return text
    return data[: MAX_TEXT_BYTES - 3].decode(errors="ignore") + "…"


def _scrub(text: str, dest: AlertDestination) -> str:
    """``text`` (a vendor's errmsg, say) with any trace of the destination's secrets removed, bounded."""
    for secret in (dest.webhook_url, dest.secret):
        if secret:
            text = text.replace(secret, "•••")
    return text[:300]


def send(dest: AlertDestination, title: str, text: str, *, session: requests.Session | None = None) -> None:
    """Deliver one message (``title`` is the e-mail subject; robots get ``text``, which starts with a heading).

    Returns when the destination accepted it; raises :class:`SendError` otherwise (network error, timeout,
    HTTP error, a non-zero ``errcode``/``code`` such as the robots' rate limits).
    """
    if dest.kind == Kind.EMAIL:
        recipients = dest.recipient_list()
        if not recipients:
            raise SendError("no e-mail recipients configured")
        try:
            send_mail(title, text, None, recipients, fail_silently=False)
        except Exception as err:  # SMTP and backend errors alike; the class name says enough, safely
            raise SendError(f"e-mail not sent: {type(err).__name__}") from None
        return
    if not dest.webhook_url:
        raise SendError("no webhook URL configured")
    content = _cut(text or title)
    url = dest.webhook_url
    if dest.kind == Kind.WECOM:
        body: dict[str, Any] = {"msgtype": "text", "text": {"content": content}}
    elif dest.kind == Kind.DINGTALK:
        body = {"msgtype": "text", "text": {"content": content}}
        if dest.secret:
            ts = int(time.time() * 1000)  # the real clock: the robot checks it is within an hour of its own
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={dingtalk_sign(ts, dest.secret)}"
    elif dest.kind == Kind.FEISHU:
        body = {"msg_type": "text", "content": {"text": content}}
        if dest.secret:
            ts = int(time.time())
            body = {"timestamp": str(ts), "sign": feishu_sign(ts, dest.secret), **body}
    else:
        raise SendError(f"unknown destination kind {dest.kind!r}")
    timeout = (float(alert_setting("CONNECT_TIMEOUT")), float(alert_setting("READ_TIMEOUT")))
    own = session is None
    session = session or create_session()
    _sending.active = True
    try:
        response = session.post(url, json=body, timeout=timeout)
    except requests.RequestException as err:
        raise SendError(f"robot not reached: {type(err).__name__}") from None
    finally:
        _sending.active = False
        if own:
            session.close()
    if response.status_code != 200:
        raise SendError(f"robot answered HTTP {response.status_code}")
    try:
        reply = response.json()
    except ValueError:
        raise SendError("robot answered something that is not JSON") from None
    if not isinstance(reply, dict):
        raise SendError("robot answered something that is not a JSON object")
    code = reply.get("errcode", reply.get("code", reply.get("StatusCode")))
    if code != 0:
        message = str(reply.get("errmsg") or reply.get("msg") or "")
        raise SendError(_scrub(f"robot refused the message: code {code} {message}".strip(), dest))

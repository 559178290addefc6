"""Stand-ins for the three group-robot webhooks (WeCom, DingTalk, Feishu/Lark), for the demo and for tests.

Each checks what the vendor checks — the robot's key/token, the signature and its timestamp, the message's
shape — and refuses in the vendor's own error shape (HTTP 200 with ``errcode``/``code``); it stores every
request it got (:class:`~crm_bridge.sandbox.models.RobotMessage`, shown in the sandbox admin) and can be told
to be down (HTTP 503) for fault tests.

=========  ==========================================================  ===================================
robot      URL (mounted with ``crm_bridge.sandbox.urls``)               credentials it accepts
=========  ==========================================================  ===================================
WeCom      ``/_robots/wecom/send?key=<WECOM_KEY>``                      the key in the URL
DingTalk   ``/_robots/dingtalk/robot/send?access_token=<…>``            token + ``DINGTALK_SECRET`` (加签)
Feishu     ``/_robots/feishu/hook/<FEISHU_TOKEN>``                      token + ``FEISHU_SECRET`` (签名校验)
=========  ==========================================================  ===================================

Python control API: :func:`received`, :func:`go_down`, :func:`come_up`; the same over HTTP at
``/_robots/_control/messages`` (GET) and ``/_robots/_control/outage`` (POST ``{"kind", "count", "duration"}``,
DELETE), with a sandbox token like ``/_sandbox/``. :func:`crm_bridge.sandbox.control.reset` wipes both.

Not emulated: message types other than ``text`` and ``markdown``, @-mentions, keyword and IP-allow-list
security, the vendors' rate limits.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

from django.conf import settings
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from .control_views import _control_view, _json_body
from .errors import INVALID_PARAM, SandboxError
from .models import RobotMessage, RobotOutage

__all__ = [
    "DINGTALK_SECRET",
    "DINGTALK_TOKEN",
    "FEISHU_SECRET",
    "FEISHU_TOKEN",
    "KINDS",
    "WECOM_KEY",
    "come_up",
    "go_down",
    "received",
    "urlpatterns",
]

#: The stand-ins' credentials: public test values (like the sandbox token), not secrets.
WECOM_KEY = "sandbox-wecom-key"
DINGTALK_TOKEN = "sandbox-dingtalk-token"  # noqa: S105
DINGTALK_SECRET = "SECsandbox-dingtalk-secret"  # noqa: S105
FEISHU_TOKEN = "sandbox-feishu-token"  # noqa: S105
FEISHU_SECRET = "sandbox-feishu-secret"  # noqa: S105
KINDS = ("wecom", "dingtalk", "feishu")

SIGN_WINDOW = 3600  # both vendors refuse a timestamp more than an hour from their clock
MAX_BYTES = {"text": 2048, "markdown": 4096}


# --- control ---------------------------------------------------------------------------------------------


def received(kind: str | None = None, *, accepted: bool | None = True) -> list[dict[str, Any]]:
    """What the stand-ins got (of one ``kind``, or all), oldest first: ``{"id", "kind", "msgtype", "text",
    "signed", "accepted", "errcode", "received_at"}``. ``accepted=None`` includes refused requests."""
    queryset = RobotMessage.objects.order_by("id")
    if kind:
        queryset = queryset.filter(kind=kind)
    if accepted is not None:
        queryset = queryset.filter(accepted=accepted)
    return [
        {
            "id": m.id, "kind": m.kind, "msgtype": m.msgtype, "text": m.text, "signed": m.signed,
            "accepted": m.accepted, "errcode": m.errcode, "received_at": m.received_at.isoformat(),
        }
        for m in queryset
    ]  # fmt: skip


def go_down(kind: str = "*", *, count: int | None = None, duration: float | None = None) -> RobotOutage:
    """Make a stand-in (``kind``, or ``"*"`` for all) answer 503 to the next ``count`` requests, or for
    ``duration`` seconds, or until :func:`come_up`. Raises ``ValueError`` for an unknown kind or a bad number."""
    if kind not in (*KINDS, "*"):
        raise ValueError(f"kind: one of {', '.join(KINDS)} or *")
    if count is not None and (not isinstance(count, int) or count < 1):
        raise ValueError("count: a positive integer")
    if duration is not None and (not isinstance(duration, int | float) or duration <= 0):
        raise ValueError("duration: a positive number of seconds")
    until = timezone.now() + timedelta(seconds=duration) if duration else None
    return RobotOutage.objects.create(kind=kind, remaining=count, until=until)


def come_up() -> int:
    """End every outage; returns how many there were."""
    deleted, _ = RobotOutage.objects.all().delete()
    return deleted


def _down(kind: str) -> bool:
    """Whether an outage applies to this request (and spend one of its ``remaining``)."""
    now = timezone.now()
    live = RobotOutage.objects.filter(Q(kind=kind) | Q(kind="*"), Q(until__isnull=True) | Q(until__gt=now))
    for outage in live.filter(Q(remaining__isnull=True) | Q(remaining__gt=0)).order_by("id"):
        if outage.remaining is None:
            RobotOutage.objects.filter(pk=outage.pk).update(hits=F("hits") + 1)
            return True
        if RobotOutage.objects.filter(pk=outage.pk, remaining__gt=0).update(
            remaining=F("remaining") - 1, hits=F("hits") + 1
        ):
            return True
    return False


# --- the robots ------------------------------------------------------------------------------------------


def _body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _text_of(body: dict[str, Any], kind: str) -> tuple[str, str] | None:
    """(msgtype, text) of a well-formed message, else None."""
    if kind == "feishu":
        msgtype, content = body.get("msg_type"), body.get("content")
        if msgtype != "text" or not isinstance(content, dict) or not isinstance(content.get("text"), str):
            return None
        return msgtype, content["text"]
    msgtype = body.get("msgtype")
    part = body.get(msgtype) if isinstance(msgtype, str) else None
    if msgtype not in MAX_BYTES or not isinstance(part, dict):
        return None
    text = part.get("content") if kind == "wecom" or msgtype == "text" else part.get("text")
    if not isinstance(text, str) or not text or len(text.encode()) > MAX_BYTES[msgtype]:
        return None
    return msgtype, text


def _fresh(timestamp: Any, unit: float) -> bool:
    try:
        value = int(str(timestamp)) / unit
    except ValueError:
        return False
    return abs(time.time() - value) <= SIGN_WINDOW


def _record(kind: str, code: int, body: dict[str, Any] | None, *, signed: bool, parsed: Any = None) -> None:
    stored = {k: v for k, v in (body or {}).items() if k not in ("sign", "timestamp")}
    msgtype, text = parsed or ("", "")
    RobotMessage.objects.create(
        kind=kind, accepted=code == 0, errcode=code, msgtype=msgtype, text=text, signed=signed, body=stored
    )


def _answer(kind: str, code: int, message: str) -> JsonResponse:
    if kind == "feishu":
        return JsonResponse({"code": code, "msg": message, "data": {}})
    return JsonResponse({"errcode": code, "errmsg": message})


def _robots_enabled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The stand-ins answer only where ``settings.CRM_SANDBOX["ROBOTS"]`` is true; unset, it is ``settings.DEBUG``
    (a development site). Their keys are public test values, so a site with DEBUG off that mounts the sandbox
    (``config/``: ``CRM_SANDBOX_ENABLED``; a host site: its own ``CRM_SANDBOX``) has them off unless it says so
    (``config/``: ``CRM_SANDBOX_ROBOTS=1``): otherwise anyone could store messages there (docs/sandbox.md)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not getattr(settings, "CRM_SANDBOX", {}).get("ROBOTS", settings.DEBUG):
            raise Http404("robot stand-ins are off")
        return view(request, *args, **kwargs)

    return wrapper


def _unavailable() -> HttpResponse:
    return HttpResponse("robot stand-in is down (told so)", status=503, content_type="text/plain")


@csrf_exempt
@require_http_methods(["POST"])
@_robots_enabled
def wecom_send(request: HttpRequest) -> HttpResponse:
    """企业微信群机器人 ``cgi-bin/webhook/send``."""
    if _down("wecom"):
        return _unavailable()
    body = _body(request)
    if not hmac.compare_digest(request.GET.get("key", ""), WECOM_KEY):
        _record("wecom", 93000, body, signed=False)
        return _answer("wecom", 93000, "invalid webhook url")
    parsed = _text_of(body or {}, "wecom")
    if parsed is None:
        _record("wecom", 40008, body, signed=False)
        return _answer("wecom", 40008, "invalid message type or content")
    _record("wecom", 0, body, signed=False, parsed=parsed)
    return _answer("wecom", 0, "ok")


@csrf_exempt
@require_http_methods(["POST"])
@_robots_enabled
def dingtalk_send(request: HttpRequest) -> HttpResponse:
    """钉钉自定义机器人 ``robot/send`` with 加签: ``sign`` over ``timestamp\\nsecret`` (ms), keyed by the secret."""
    if _down("dingtalk"):
        return _unavailable()
    body = _body(request)
    if not hmac.compare_digest(request.GET.get("access_token", ""), DINGTALK_TOKEN):
        _record("dingtalk", 300001, body, signed=False)
        return _answer("dingtalk", 300001, "token is not exist")
    timestamp, sign = request.GET.get("timestamp", ""), request.GET.get("sign", "")
    digest = hmac.new(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode()
    # Django already URL-decoded the query; compare the decoded value, and the re-encoded one for double encoding.
    if not (_fresh(timestamp, 1000) and (hmac.compare_digest(sign, expected) or sign == quote_plus(expected))):
        _record("dingtalk", 310000, body, signed=False)
        return _answer("dingtalk", 310000, "sign not match")
    parsed = _text_of(body or {}, "dingtalk")
    if parsed is None:
        _record("dingtalk", 40035, body, signed=True)
        return _answer("dingtalk", 40035, "缺少参数 json")
    _record("dingtalk", 0, body, signed=True, parsed=parsed)
    return _answer("dingtalk", 0, "ok")


@csrf_exempt
@require_http_methods(["POST"])
@_robots_enabled
def feishu_hook(request: HttpRequest, token: str) -> HttpResponse:
    """飞书自定义机器人 ``open-apis/bot/v2/hook/<token>`` with 签名校验: HmacSHA256 keyed by
    ``timestamp\\nsecret`` (s) over an empty message, Base64, in the body."""
    if _down("feishu"):
        return _unavailable()
    body = _body(request)
    if not hmac.compare_digest(token, FEISHU_TOKEN):
        _record("feishu", 19001, body, signed=False)
        return _answer("feishu", 19001, "param invalid: incoming webhook access token invalid")
    if body is None:
        _record("feishu", 9499, None, signed=False)
        return _answer("feishu", 9499, "Bad Request")
    timestamp = str(body.get("timestamp", ""))
    digest = hmac.new(f"{timestamp}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()
    if not (_fresh(timestamp, 1) and hmac.compare_digest(str(body.get("sign", "")), base64.b64encode(digest).decode())):
        _record("feishu", 19021, body, signed=False)
        return _answer("feishu", 19021, "sign match fail or timestamp is not within one hour from current time")
    parsed = _text_of(body, "feishu")
    if parsed is None:
        _record("feishu", 9499, body, signed=True)
        return _answer("feishu", 9499, "Bad Request")
    _record("feishu", 0, body, signed=True, parsed=parsed)
    return JsonResponse({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})


# --- HTTP control ----------------------------------------------------------------------------------------


@_control_view
@require_GET
def messages_view(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or None
    return JsonResponse({"messages": received(kind, accepted=None)}, json_dumps_params={"ensure_ascii": False})


@_control_view
@require_http_methods(["POST", "DELETE"])
def outage_view(request: HttpRequest) -> HttpResponse:
    if request.method == "DELETE":
        return JsonResponse({"cleared": come_up()})
    body = _json_body(request)
    unknown = sorted(set(body) - {"kind", "count", "duration"})
    if unknown:
        raise SandboxError(INVALID_PARAM, f"parameter ({unknown[0]})'s value invalid: unknown field")
    try:
        outage = go_down(body.get("kind", "*"), count=body.get("count"), duration=body.get("duration"))
    except ValueError as err:
        field = str(err).split(":", 1)[0]
        raise SandboxError(INVALID_PARAM, f"parameter ({field})'s value invalid: {err}") from None
    return JsonResponse({"outage": {"id": outage.pk, "kind": outage.kind, "remaining": outage.remaining}}, status=201)


urlpatterns = [
    path("_robots/wecom/send", wecom_send, name="robot-wecom"),
    path("_robots/dingtalk/robot/send", dingtalk_send, name="robot-dingtalk"),
    path("_robots/feishu/hook/<str:token>", feishu_hook, name="robot-feishu"),
    path("_robots/_control/messages", messages_view, name="robot-messages"),
    path("_robots/_control/outage", outage_view, name="robot-outage"),
]

"""The app's settings: one ``CRM_BRIDGE`` dict in the host project's settings, with documented defaults.

>>> from crm_bridge.conf import bridge_settings
>>> bridge_settings.READ_TIMEOUT
10.0

Each key is declared once below (a :class:`Setting`: default, parser, meaning), and that declaration gives
both the typed attribute of :data:`bridge_settings` and the validation :func:`validate` performs, which
``manage.py check`` reports (``crm_bridge.checks``) — so the object and the checks cannot disagree.

Contract of :data:`bridge_settings`:

* values are parsed: seconds are ``float``, counts ``int``, ``FORMAT`` is ``"json"`` or ``"xml"``;
* an unknown key (a typo must not silently fall back to a default) or a malformed value raises
  :class:`CRMBridgeImproperlyConfigured` on the first read of any setting, naming the key(s);
* a required key (``BASE_URL``, ``TOKEN``) that is missing or empty raises it only when that key is read,
  so the rest of the app (admin, intake) still runs and ``check`` can explain what to set;
* values are re-read when ``CRM_BRIDGE`` changes (``setting_changed``: tests' ``override_settings``).
"""

from __future__ import annotations

import ipaddress
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, overload
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

__all__ = [
    "DEFAULTS",
    "REQUIRED",
    "SETTINGS",
    "BridgeSettings",
    "CRMBridgeImproperlyConfigured",
    "Problem",
    "Setting",
    "bridge_settings",
    "parse",
    "validate",
]

T = TypeVar("T")

#: Where the handlers live below ``BASE_URL`` (requests go to ``BASE_URL + "Customer/Save.ashx"``).
HANDLER_PATH = "/WebApi/Handler/1.0/CRM"


class CRMBridgeImproperlyConfigured(ImproperlyConfigured):
    """A ``CRM_BRIDGE`` setting is missing or malformed; the message names the key to set."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with ``CRM_BRIDGE``, as ``manage.py check`` reports it (``crm_bridge.E004`` …).

    ``missing`` marks a required value that is absent: the settings object raises for it only when that
    key is read; any other error makes the whole dict unusable."""

    id: str
    msg: str
    hint: str | None = None
    warning: bool = False
    missing: bool = False


class _Invalid(Exception):
    """Raised by a parser: the value is unusable. ``n`` is the check number (``crm_bridge.E00n``)."""

    def __init__(self, n: int, msg: str, hint: str | None = None) -> None:
        super().__init__(msg)
        self.n, self.msg, self.hint = n, msg, hint


# --- parsers: raw value → typed value, or _Invalid ---------------------------------------------------------
# ``{key}`` in a message is replaced by ``settings.CRM_BRIDGE["KEY"]``. A value is echoed only where it is not a
# secret (never for TOKEN).


def _real(v: object, n: int, msg: str, *, positive: bool) -> float:
    """``v`` as a float if it is a real number (not a bool) above 0 (``positive``) or at least 0."""
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        value = float(v)
        if value > 0 or (value == 0 and not positive):
            return value
    raise _Invalid(n, msg)


def _seconds(v: object) -> float:
    return _real(v, 6, "{key} must be a positive number of seconds.", positive=True)


def _seconds_or_zero(v: object) -> float:
    return _real(v, 6, "{key} must be a number of seconds ≥ 0.", positive=False)


def _count(v: object) -> int:
    if not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
        raise _Invalid(7, "{key} must be a whole number ≥ 0.")
    return v


def _non_negative(v: object) -> float:
    return _real(v, 9, "{key} must be a number ≥ 0.", positive=False)


def _share(v: object) -> float:
    value = _non_negative(v)
    if value > 1:
        raise _Invalid(9, "{key} must be a share between 0 and 1.", "Example: 0.5 (half the calls per second).")
    return value


def _format(v: object) -> Literal["json", "xml"]:
    if v == "json":
        return "json"
    if v == "xml":
        return "xml"
    raise _Invalid(8, '{key} must be "json" or "xml".')


def _secret(v: object) -> str:
    if not isinstance(v, str):
        raise _Invalid(12, "{key} must be a string.")
    return v


def _base_url(v: object) -> str:
    if isinstance(v, str):
        parts = urlsplit(v)
        if parts.scheme in ("http", "https") and parts.netloc:
            return v
    raise _Invalid(5, f"{{key}} is not an http(s) URL: {v!r}.", f"Example: https://crm.example.com{HANDLER_PATH}/")


def _token(v: object) -> str:
    value = _secret(v)
    if value and len(value) < 16:
        hint = "Example: python -c 'import secrets; print(secrets.token_urlsafe(32))'."
        raise _Invalid(12, "{key} must be empty (off) or at least 16 characters.", hint)
    return value


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(v: object) -> tuple[Network, ...]:
    hint = 'Example: ["10.0.0.0/8", "127.0.0.1"] (addresses or networks).'
    if isinstance(v, str) or not isinstance(v, (list, tuple)):
        raise _Invalid(20, "{key} must be a list of IP addresses or networks.", hint)
    networks: list[Network] = []
    for item in v:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise _Invalid(20, f"{{key}} has an entry that is not an IP address or network: {item!r}.", hint) from None
    return tuple(networks)


# DRF's rate syntax as crm_bridge.throttling.parse_rate reads it: a count, "/", a period by its first letter.
_RATE = re.compile(r"\s*\d+\s*/\s*[smhd]", re.IGNORECASE)


def _rates(v: object) -> Mapping[str, str | None]:
    hint = 'Example: {"ip": "30/min", "site": "1200/min"} (None: no limit).'
    if not (isinstance(v, Mapping) and set(v) <= {"ip", "site"}):
        raise _Invalid(10, '{key} must be a dict with keys "ip" and "site".', hint)
    for name, rate in v.items():
        if rate is not None and not (isinstance(rate, str) and _RATE.match(rate)):
            raise _Invalid(10, f'{{key}}["{name}"] is not a rate like "30/min": {rate!r}.', hint)
    return dict(v)


def _alias(v: object) -> str:
    if not (isinstance(v, str) and v):
        raise _Invalid(14, "{key} must be the name of a cache in settings.CACHES.", 'Example: "default".')
    return v


def _options(v: object) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise _Invalid(13, "{key} must be a dict.", 'Example: {"RATE_PER_MINUTE": 20}.')
    return dict(v)


class Setting(Generic[T]):
    """One key of ``CRM_BRIDGE``: its default (``None`` and ``required``: it has none) and the parser that
    turns a configured value into a ``T`` or rejects it. On :class:`BridgeSettings` it reads as a ``T``."""

    def __init__(self, default: T | None, parser: Callable[[object], T], *, required: bool = False) -> None:
        self.default = default
        self.parser = parser
        self.required = required
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Setting[T]: ...
    @overload
    def __get__(self, obj: BridgeSettings, objtype: type | None = None) -> T: ...
    def __get__(self, obj: BridgeSettings | None, objtype: type | None = None) -> Setting[T] | T:
        if obj is None:
            return self
        return obj._value(self.name)  # type: ignore[no-any-return]


class BridgeSettings:
    """``settings.CRM_BRIDGE`` parsed over the defaults declared here; read it as :data:`bridge_settings`."""

    # Where the tenant's handlers live: ``https://crm.example.com/WebApi/Handler/1.0/CRM/``.
    BASE_URL = Setting[str](None, _base_url, required=True)
    # The CRM access token (token-authenticated handlers). A secret: never sent to a browser or logged.
    TOKEN = Setting[str](None, _secret, required=True)
    # Seconds to wait for a connection / for the reply once connected.
    CONNECT_TIMEOUT = Setting(3.05, _seconds)
    READ_TIMEOUT = Setting(10.0, _seconds)
    # Immediate retries for read-only calls on connection errors and 5xx (writes are never retried in-line;
    # delivery schedules those in the database).
    READ_RETRIES = Setting(2, _count)
    # Reply format asked of the CRM.
    FORMAT = Setting[Literal["json", "xml"]]("json", _format)
    # --- delivery (docs/delivery.md) ---
    # Retry back-off: BASE * 2**(attempt-1), equal jitter, capped at MAX; give up (status failed, a dead letter
    # staff can retry) after MAX_ATTEMPTS or once a submission is MAX_AGE seconds old, whichever comes first.
    RETRY_BASE_DELAY = Setting(30.0, _seconds)
    RETRY_MAX_DELAY = Setting(6 * 3600.0, _seconds)
    MAX_ATTEMPTS = Setting(30, _count)
    MAX_AGE = Setting(4 * 24 * 3600.0, _seconds)
    # A worker's claim on a row; must exceed the longest delivery (3 CRM calls x timeouts x read retries).
    LEASE_SECONDS = Setting(180.0, _seconds)
    # Rows the periodic sweep re-enqueues per run, and how often it runs (seconds).
    SWEEP_BATCH = Setting(500, _count)
    SWEEP_INTERVAL = Setting(15.0, _seconds)
    # A queued row handed to the broker this long ago without being claimed is handed over again: its message
    # was lost (broker restart, worker killed with it prefetched) or never published (broker down at intake).
    REENQUEUE_AFTER = Setting(120.0, _seconds)
    # After a write whose outcome we never heard (a timeout after sending), the least wait before retrying it:
    # the CRM may still be processing it (IIS runs a request up to 110 s by default).
    AMBIGUOUS_SETTLE = Setting(120.0, _seconds)
    # How long a lead waits before looking again when another lead with its name or phone is in flight.
    LEAD_WAIT = Setting(5.0, _seconds)
    # How often page-view counters are flushed to the CRM (seconds).
    HIT_FLUSH_INTERVAL = Setting(60.0, _seconds)
    # Circuit breaker: open after this many consecutive retryable failures; probe again after RESET seconds.
    CIRCUIT_FAIL_MAX = Setting(5, _count)
    CIRCUIT_RESET_TIMEOUT = Setting(30.0, _seconds)
    # While the CRM refuses a credential (the token: leads wait; a siteKey: that site's messages and hits wait),
    # try it again with a harmless call this often (seconds); once accepted, deliveries resume by themselves.
    CREDENTIAL_PROBE_INTERVAL = Setting(300.0, _seconds)
    # Ceiling on CRM calls per second across all workers (0: none); hit flushes only use what leaves this
    # share (0 to 1) of it free.
    CALLS_PER_SECOND = Setting(20.0, _non_negative)
    HIT_FLUSH_SHARE = Setting(0.5, _share)
    # --- intake ---
    # Requests per client IP and per site (DRF rate strings; None: no limit).
    THROTTLE_RATES = Setting[Mapping[str, str | None]]({"ip": "30/min", "site": "1200/min"}, _rates)
    # Reverse proxies in front of the site whose X-Forwarded-For entries are trusted (DRF NUM_PROXIES).
    NUM_PROXIES = Setting(0, _count)
    # A form filled faster than this (seconds) is held as spam; 0: no minimum.
    MIN_FILL_SECONDS = Setting(2.0, _seconds_or_zero)
    # Largest accepted widget request body (bytes).
    MAX_BODY_BYTES = Setting(16 * 1024, _count)
    # How long an Idempotency-Key's first answer is kept (seconds).
    IDEMPOTENCY_TTL = Setting(24 * 3600.0, _seconds)
    # How long a web process keeps a site (and its alert destinations, its allow-list) before reading it again
    # (seconds; 0: every request reads). The process that saves a site forgets at once; others within this bound.
    SITE_CACHE_SECONDS = Setting(5.0, _seconds_or_zero)
    # The cache alias (settings.CACHES) that counts throttled requests. Must be atomic on incr (Redis, Memcached,
    # local memory); a per-process local-memory cache multiplies each limit by the number of processes.
    THROTTLE_CACHE = Setting("default", _alias)
    # Page views without an Idempotency-Key are counted in Redis when Redis is the default cache, else added up
    # in each web process, and written to their counters every this many seconds, in one transaction (0: one
    # transaction per beacon). A web process killed outright loses nothing with Redis, else the views since its
    # last completed write began: this interval plus two writes' time (docs/widget-api.md, "Hits").
    HIT_BUFFER_SECONDS = Setting(1.0, _seconds_or_zero)
    # Broker hand-offs waiting in a web process's background publisher; past this, intake publishes in-line.
    HANDOFF_QUEUE = Setting(1000, _count)
    # --- alerts to staff (docs/alerts.md): a partial dict merged over crm_bridge.alerts.conf.ALERT_DEFAULTS,
    # whose keys it checks when read.
    ALERTS = Setting[Mapping[str, Any]]({}, _options)

    # --- operations (docs/operations.md) ---
    # Readiness fails once a submission has waited this long (seconds) for a worker: due and not picked up.
    HEALTH_MAX_WAIT = Setting(300.0, _seconds)
    # Each readiness check's budget (seconds); the broker check also connects with this timeout.
    HEALTH_TIMEOUT = Setting(3.0, _seconds)
    # Who may read /ops/metrics besides staff: a bearer token (a secret; empty: none) and client addresses.
    METRICS_TOKEN = Setting("", _token)
    METRICS_ALLOWED_IPS = Setting[tuple[Network, ...]]((), _networks)
    # The CRM call latency histogram covers calls started in the last this many seconds.
    METRICS_LATENCY_WINDOW = Setting(900.0, _seconds)

    def __init__(self) -> None:
        self._values: dict[str, Any] | None = None

    def _value(self, key: str) -> Any:
        if self._values is None:
            values, problems = parse(getattr(settings, "CRM_BRIDGE", None))
            unusable = [p for p in problems if not (p.warning or p.missing)]
            if unusable:
                raise CRMBridgeImproperlyConfigured(" ".join(p.msg for p in unusable))
            self._values = values
        value = self._values[key]
        if value is None:
            raise CRMBridgeImproperlyConfigured(
                f"settings.CRM_BRIDGE[{key!r}] is required: set it in your settings "
                f"(the demo reads it from the CRM_BRIDGE_{key} environment variable)."
            )
        return value

    def reload(self) -> None:
        """Forget the parsed values; the next read parses ``settings.CRM_BRIDGE`` again."""
        self._values = None


#: Every declared setting by key, in declaration order.
SETTINGS: dict[str, Setting[Any]] = {k: v for k, v in vars(BridgeSettings).items() if isinstance(v, Setting)}
#: Every key the ``CRM_BRIDGE`` dict may hold, with its default. ``REQUIRED`` keys have none.
DEFAULTS: dict[str, Any] = {k: s.default for k, s in SETTINGS.items()}
REQUIRED: tuple[str, ...] = tuple(k for k, s in SETTINGS.items() if s.required)


def _problem(n: int, msg: str, hint: str | None = None, **flags: bool) -> Problem:
    return Problem(f"crm_bridge.E{n:03d}", msg, hint, **flags)


def parse(value: object) -> tuple[dict[str, Any], list[Problem]]:
    """``settings.CRM_BRIDGE`` (``None`` when unset) → (every key's parsed value, ``None`` for a missing
    required one; every problem found). The one validation of ``CRM_BRIDGE``, for the settings object and
    for ``manage.py check`` alike."""
    values: dict[str, Any] = dict(DEFAULTS)
    if value is None:
        hint = f'Add CRM_BRIDGE = {{"BASE_URL": "https://<your-crm>{HANDLER_PATH}/", "TOKEN": "…"}}.'
        return values, [_problem(1, "settings.CRM_BRIDGE is not set.", hint, missing=True)]
    if not isinstance(value, Mapping):
        return values, [_problem(2, f"settings.CRM_BRIDGE must be a dict, not {type(value).__name__}.")]
    problems: list[Problem] = []
    unknown = sorted(set(value) - set(SETTINGS), key=str)
    if unknown:
        problems.append(
            _problem(3, f"settings.CRM_BRIDGE has unknown key(s): {', '.join(map(str, unknown))}.",
                     f"Known keys: {', '.join(sorted(SETTINGS))}.")
        )  # fmt: skip
    for key, setting in SETTINGS.items():
        label = f'settings.CRM_BRIDGE["{key}"]'
        raw = value.get(key)
        if setting.required and raw in (None, ""):
            hint = f"Set it (the demo site reads the CRM_BRIDGE_{key} environment variable)."
            problems.append(_problem(4, f"{label} is missing or empty.", hint, missing=True))
            values[key] = None
            continue
        if key not in value:
            continue
        try:
            values[key] = setting.parser(raw)
        except _Invalid as err:
            problems.append(_problem(err.n, err.msg.replace("{key}", label), err.hint))
    base_url = values["BASE_URL"]
    if base_url and not urlsplit(base_url).path.rstrip("/").endswith(HANDLER_PATH):
        problems.append(
            Problem("crm_bridge.W001", f'settings.CRM_BRIDGE["BASE_URL"] does not end with {HANDLER_PATH}/: '
                    f"{base_url!r}.", "The handlers are requested as BASE_URL + 'Customer/Save.ashx' etc.",
                    warning=True)
        )  # fmt: skip
    return values, problems


def validate(value: object) -> list[Problem]:
    """Every problem with ``value`` as ``settings.CRM_BRIDGE`` (see :func:`parse`)."""
    return parse(value)[1]


bridge_settings = BridgeSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "CRM_BRIDGE":
        bridge_settings.reload()


setting_changed.connect(_reload)

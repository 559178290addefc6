"""The HTTP client for the CRM Web API: one POST per call, typed replies, errors by class.

>>> crm = CRMClient(base_url="https://crm.example.com/WebApi/Handler/1.0/CRM/", token="…")
>>> crm.customer.name_is_repeat(s_name="上海某某公司", id=0)       # generated, typed  # doctest: +SKIP
False
>>> crm.call("Customer/NameIsRepeat", {"sName": "上海某某公司", "id": 0})  # by path  # doctest: +SKIP
False
>>> crm.with_site_key("…").ecommerce.update_base_info_hit(pkid=7, add_hit=3)  # doctest: +SKIP
True

Contracts:

* **Always POST, params in the form body**, never in the URL: credentials stay out of URLs, proxies' logs and
  the messages of transport exceptions. ``token`` or ``siteKey`` (by :attr:`Endpoint.auth`) and ``format`` are
  added here; callers never pass them.
* **Every request has a timeout** ``(connect_timeout, read_timeout)``; redirects are not followed (a redirected
  POST turns into a bodyless GET: it is reported as an error naming the target instead).
* **Narrow in-line retries**: only read-only endpoints, only on connection errors, timeouts and HTTP 5xx, at
  most ``read_retries`` times, capped jittered exponential back-off (stripe-python's ``_should_retry`` /
  ``_sleep_time_seconds``). Writes are never retried here; delivery schedules those in its database.
* **Errors** are :mod:`.errors` classes, chosen by :func:`.errors.error_for_reply` (the single map), chained
  with ``raise … from``. No secret appears in an error's message, ``reply_text``, a :class:`CRMReply` or a log
  line: every echo of the token or siteKey in a reply is replaced by ``***`` (:meth:`CRMClient.scrub`).
* **Logging**: one line per call on ``crm_bridge.crm`` (endpoint, status, elapsed ms, attempts), never params.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote, quote_plus, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ReadTimeoutError

from . import codec
from .endpoints import EndpointGroups
from .errors import (
    EXCERPT_CHARS,
    CRMAuthError,
    CRMBadReply,
    CRMConnectionError,
    CRMError,
    CRMRejected,
    CRMServerError,
    CRMTimeout,
    error_for_reply,
)
from .spec import Endpoint, get_endpoint

__all__ = ["CRMClient", "CRMReply", "ClientConfig"]

logger = logging.getLogger("crm_bridge.crm")

#: How an echo might encode a secret: form (quote_plus), URL (either ``safe`` set), JSON string, HTML text.
_ENCODINGS: tuple[Callable[[str], str], ...] = (
    lambda s: s,
    quote_plus,
    lambda s: quote(s, safe=""),
    quote,
    lambda s: json.dumps(s)[1:-1],
    lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    html.escape,
    lambda s: html.escape(s, quote=False),
)
#: Error messages built from reply text (a CRM ``error`` field, a redirect target) are cut to this length.
_MESSAGE_CHARS = 300


def _default_user_agent() -> str:
    try:
        version = metadata.version("crm-bridge")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        version = "0"
    return f"crm-bridge/{version} python-requests/{requests.__version__}"


@dataclass(frozen=True)
class ClientConfig:
    """Everything a :class:`CRMClient` needs; immutable, so one can be shared across threads.

    ``base_url`` is where the handlers live, ending in ``…/WebApi/Handler/1.0/CRM/`` (a missing final slash is
    added); a call to ``Customer/Get`` goes to ``{base_url}Customer/Get.ashx``. ``token`` authenticates every
    handler except the two ``ECommerce`` ones, which take a per-site ``site_key``. The repr masks both.
    Raises ``ValueError`` for a value that cannot work (no http(s) URL, a non-positive timeout …).
    """

    base_url: str
    token: str | None = None
    site_key: str | None = None
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    read_retries: int = 2
    format: Literal["json", "xml"] = "json"
    user_agent: str = field(default_factory=_default_user_agent)
    #: First in-line retry waits about this long (jittered down to half), doubling per retry, capped below.
    retry_backoff: float = 0.5
    retry_backoff_max: float = 4.0
    #: A reply body larger than this is refused (:class:`CRMBadReply`) instead of being held in memory.
    max_reply_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("ClientConfig.base_url must be an http(s) URL, e.g. https://crm.example.com/WebApi/…")
        if parts.query or parts.fragment:
            raise ValueError("ClientConfig.base_url must not carry a query string or fragment")
        if not self.base_url.endswith("/"):
            object.__setattr__(self, "base_url", self.base_url + "/")
        for name in ("token", "site_key"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"ClientConfig.{name} must be a str or None")
        if self.format not in ("json", "xml"):
            raise ValueError("ClientConfig.format must be 'json' or 'xml'")
        for name in ("connect_timeout", "read_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ClientConfig.{name} must be > 0 seconds")
        if isinstance(self.read_retries, bool) or not isinstance(self.read_retries, int) or self.read_retries < 0:
            raise ValueError("ClientConfig.read_retries must be an int >= 0")
        if self.retry_backoff < 0 or self.retry_backoff_max < 0:
            raise ValueError("ClientConfig.retry_backoff and retry_backoff_max must be >= 0")

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("token", "site_key") and value is not None:
                shown.append(f"{f.name}='***'")
            else:
                shown.append(f"{f.name}={value!r}")
        return f"ClientConfig({', '.join(shown)})"

    __str__ = __repr__

    def url_for(self, endpoint: Endpoint) -> str:
        return f"{self.base_url}{endpoint.path}.ashx"


@dataclass(frozen=True)
class CRMReply:
    """A successful call: the typed ``value`` and what delivery records about the attempt."""

    endpoint: str
    value: Any
    http_status: int
    elapsed: float
    """Seconds for the whole call, in-line retries and their back-off included."""
    reply_text: str
    """The start of the body (``errors.EXCERPT_CHARS``), secrets scrubbed."""
    format: Literal["json", "xml"]
    """The format the reply came in (sniffed from the body)."""
    attempts: int = 1

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able record (the same keys as ``CRMError.as_dict`` where they overlap)."""
        return {
            "endpoint": self.endpoint,
            "value": self.value,
            "http_status": self.http_status,
            "elapsed": self.elapsed,
            "reply_text": self.reply_text,
            "format": self.format,
            "attempts": self.attempts,
        }


class CRMClient(EndpointGroups):
    """A client for one CRM tenant. Typed methods hang off one attribute per group (``client.customer``,
    ``client.ecommerce`` …); :meth:`call` and :meth:`request` take any endpoint by path.

    ``CRMClient(config)``, or ``CRMClient(base_url=…, token=…)``, or both (keywords override the config's
    fields). Pass ``session=`` to route requests through your own ``requests.Session`` (the client then never
    closes it); otherwise :meth:`create_session` builds one, closed by :meth:`close` or ``with``.
    """

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        session: requests.Session | None = None,
        **config_fields: Any,
    ) -> None:
        if config is None:
            config = ClientConfig(**config_fields)
        elif config_fields:
            config = dataclasses.replace(config, **config_fields)
        self.config = config
        self._owns_session = session is None
        self.session = session if session is not None else self.create_session()
        self._bind_groups(self)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def create_session(self) -> requests.Session:
        """The one place a session is built; override to add proxies, certificates or adapters.

        Pooled connections (an ``HTTPAdapter`` mounted for http and https) and *no* urllib3 retries: the only
        retries are this client's own narrow ones, so a write is never re-sent behind delivery's back.
        """
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=10, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def close(self) -> None:
        """Close the session if this client built it (an injected or shared one is left open)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> CRMClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def with_options(self, **config_fields: Any) -> CRMClient:
        """A lightweight copy with some config fields replaced, sharing this client's session."""
        return type(self)(dataclasses.replace(self.config, **config_fields), session=self.session)

    def with_site_key(self, site_key: str) -> CRMClient:
        """A copy that authenticates the ``ECommerce`` handlers with ``site_key`` (each company Site has its
        own), sharing this client's session and connection pool."""
        return self.with_options(site_key=site_key)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config!r}>"

    # -- calls -----------------------------------------------------------------------------------------------

    def call(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call an endpoint by path (``"Customer/NameIsRepeat"``) with params keyed by wire name
        (``{"sName": "x", "id": 0}``); return its typed ``value`` (see :meth:`request`)."""
        return self.request(path, params).value

    def request(self, path: str, params: Mapping[str, Any] | None = None) -> CRMReply:
        """Call an endpoint and return the whole :class:`CRMReply`.

        Raises :class:`~.errors.CRMParamError` before sending when a param is unknown, missing or of the wrong
        type (or is a credential); :class:`~.errors.CRMAuthError` when the credential the endpoint needs is not
        configured; otherwise the class :func:`~.errors.error_for_reply` picks for the reply, or
        :class:`~.errors.CRMTimeout` / :class:`~.errors.CRMConnectionError` / :class:`~.errors.CRMBadReply`
        for transport failures. Errors carry ``endpoint``, ``http_status``, ``error_code``, a scrubbed
        ``reply_text``, ``elapsed``, ``sent`` and ``attempts``.
        """
        try:
            endpoint = get_endpoint(path)
        except KeyError:
            raise CRMRejected(f"no CRM endpoint {path!r} (see crm_bridge.crm.ENDPOINTS)", sent=False) from None
        try:
            form = codec.encode_params(endpoint, params)
        except CRMError as err:
            err.sent = False  # found before anything went out
            raise
        form[endpoint.auth] = self._credential(endpoint)
        form["format"] = self.config.format

        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = self._attempt(endpoint, form, started, attempt)
            except CRMError as err:
                if self._should_retry(endpoint, err, attempt):
                    delay = self._sleep_time_seconds(attempt)
                    logger.debug(
                        "CRM %s attempt %d failed (%s, status=%s); retrying in %.2f s",
                        endpoint.path,
                        attempt,
                        type(err).__name__,
                        err.http_status,
                        delay,
                    )
                    time.sleep(delay)
                    continue
                logger.info(
                    "CRM %s failed: %s status=%s error_code=%s in %d ms (attempts=%d)",
                    endpoint.path,
                    type(err).__name__,
                    err.http_status,
                    err.error_code,
                    (err.elapsed or 0) * 1000,
                    attempt,
                )
                raise
            logger.info(
                "CRM %s status=%s in %d ms (attempts=%d)",
                endpoint.path,
                reply.http_status,
                reply.elapsed * 1000,
                attempt,
            )
            return reply

    # -- internals -------------------------------------------------------------------------------------------

    def _credential(self, endpoint: Endpoint) -> str:
        if endpoint.auth == "siteKey":
            if not self.config.site_key:
                raise CRMAuthError(
                    f"ClientConfig.site_key is not set: {endpoint.path} authenticates with a site's siteKey "
                    "(use client.with_site_key(...))",
                    endpoint=endpoint.path,
                    sent=False,
                )
            return self.config.site_key
        if not self.config.token:
            raise CRMAuthError(
                f"ClientConfig.token is not set: {endpoint.path} authenticates with token",
                endpoint=endpoint.path,
                sent=False,
            )
        return self.config.token

    def _should_retry(self, endpoint: Endpoint, err: CRMError, attempt: int) -> bool:
        """Retry in-line only what is safe and likely to pass: a read-only call that failed in transport or
        with HTTP 5xx, while retries remain. (429 and CRM-level errors in a 200 are left to the caller.)"""
        if not endpoint.read_only or attempt > self.config.read_retries:
            return False
        if isinstance(err, CRMConnectionError | CRMTimeout):
            return True
        return isinstance(err, CRMServerError) and err.http_status is not None and err.http_status >= 500

    def _sleep_time_seconds(self, attempt: int) -> float:
        """Exponential back-off from ``retry_backoff``, capped at ``retry_backoff_max``, jittered into
        [half, full] so synchronised clients spread out, never below ``retry_backoff`` (stripe-python)."""
        base = min(self.config.retry_backoff * (2.0 ** (attempt - 1)), self.config.retry_backoff_max)
        jittered = base * 0.5 * (1 + random.uniform(0, 1))
        return max(min(self.config.retry_backoff, self.config.retry_backoff_max), jittered)

    @functools.cached_property
    def _secret_spellings(self) -> tuple[str, ...]:
        """Each configured secret as an echo could spell it: raw and through up to two encodings (form,
        URL, JSON, HTML — a JSON error quoting a URL-encoded form is two), longest first."""
        spellings: set[str] = set()
        for secret in (self.config.token, self.config.site_key):
            if secret:
                once = {encode(secret) for encode in _ENCODINGS}
                spellings |= once | {encode(s) for s in once for encode in _ENCODINGS}
        return tuple(sorted(spellings, key=len, reverse=True))

    def scrub(self, text: str, limit: int | None = None) -> str:
        """``text`` with every spelling of this client's token or siteKey (:attr:`_secret_spellings`)
        replaced by ``***``, cut to ``limit`` characters if given. Use it on anything reply-derived you show
        or log.

        With a limit, only a window of the text is scrubbed (replies can be megabytes), and the window's
        tail is dropped so that a secret cut in half at the window's edge cannot survive into the result.
        """
        spellings = self._secret_spellings
        window = None if limit is None else limit * 4
        cut = window is not None and len(text) > window
        if cut:
            text = text[:window]
        for spelling in spellings:
            text = text.replace(spelling, "***")
        if cut and spellings:
            text = text[: max(0, len(text) - len(spellings[0]))]
        return text if limit is None else text[:limit]

    def _error(
        self,
        cls: type[CRMError],
        message: str,
        endpoint: Endpoint,
        started: float,
        attempt: int,
        *,
        http_status: int | None = None,
        error_code: int | None = None,
        reply_text: str | None = None,
        sent: bool | None = True,
    ) -> CRMError:
        message = " ".join(self.scrub(message, _MESSAGE_CHARS).split())  # bounded, one line, secrets out
        return cls(
            message,
            endpoint=endpoint.path,
            http_status=http_status,
            error_code=error_code,
            reply_text=self.scrub(reply_text, EXCERPT_CHARS) if reply_text else reply_text,
            elapsed=time.monotonic() - started,
            sent=sent,
            attempts=attempt,
        )

    def _attempt(self, endpoint: Endpoint, form: dict[str, str], started: float, attempt: int) -> CRMReply:
        config = self.config
        headers = {
            "User-Agent": config.user_agent,
            "Accept": "application/json" if config.format == "json" else "application/xml, text/xml",
            # ASP.NET decodes the form with the charset named here (else the site's default, maybe GB2312).
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        }
        try:
            response = self.session.post(
                config.url_for(endpoint),
                data=form,
                headers=headers,
                timeout=(config.connect_timeout, config.read_timeout),
                allow_redirects=False,
                stream=True,  # read the body ourselves, bounded by max_reply_bytes
            )
            try:
                body = self._read_body(response, endpoint, started, attempt)
            finally:
                response.close()
        except requests.RequestException as err:
            raise self._transport_error(err, endpoint, started, attempt) from err
        return self._reply(endpoint, response, body, started, attempt)

    def _read_body(self, response: requests.Response, endpoint: Endpoint, started: float, attempt: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > self.config.max_reply_bytes:
                raise self._error(
                    CRMBadReply,
                    f"reply body larger than max_reply_bytes={self.config.max_reply_bytes}",
                    endpoint,
                    started,
                    attempt,
                    http_status=response.status_code,
                    reply_text=codec.reply_text(b"".join([*chunks, chunk])[: EXCERPT_CHARS * 4]),
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _transport_error(
        self, err: requests.RequestException, endpoint: Endpoint, started: float, attempt: int
    ) -> CRMError:
        """Map a requests exception to our classes. ``sent`` is False only when the connection was never made."""
        timeouts = f"connect {self.config.connect_timeout} s, read {self.config.read_timeout} s"
        reason: Any = err.args[0] if err.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        refused = isinstance(reason, NewConnectionError)  # also NameResolutionError: nothing was sent
        # urllib3's NewConnectionError subclasses ConnectTimeoutError (history): a refusal is not a timeout.
        if not refused and (isinstance(err, requests.ConnectTimeout) or isinstance(reason, ConnectTimeoutError)):
            return self._error(CRMTimeout, f"connect timed out ({timeouts})", endpoint, started, attempt, sent=False)
        if isinstance(err, requests.Timeout) or isinstance(reason, ReadTimeoutError):
            # requests raises ConnectionError(ReadTimeoutError) when the body (not the headers) stalls.
            return self._error(CRMTimeout, f"no reply in time ({timeouts})", endpoint, started, attempt, sent=True)
        if isinstance(err, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
            return self._error(
                CRMBadReply, f"reply body broken off or undecodable ({type(err).__name__})", endpoint, started, attempt
            )
        if isinstance(err, requests.ConnectionError):
            what = "could not connect" if refused else "connection broken"
            detail = type(reason).__name__ if reason is not None else type(err).__name__
            if reason is not None and "): " in str(reason):
                # "HTTPConnection(host=…, port=…): Failed to establish a new connection: [Errno 111] …"
                detail = f"{detail}: {str(reason).split('): ', 1)[1][:200]}"
            return self._error(
                CRMConnectionError,
                f"{what} to {urlsplit(self.config.base_url).netloc} ({detail})",
                endpoint,
                started,
                attempt,
                sent=False if refused else None,
            )
        return self._error(CRMError, f"request failed ({type(err).__name__})", endpoint, started, attempt, sent=None)

    def _reply(
        self, endpoint: Endpoint, response: requests.Response, body: bytes, started: float, attempt: int
    ) -> CRMReply:
        status = response.status_code
        content_type = response.headers.get("Content-Type")
        text = codec.reply_text(body, content_type)

        def fail(cls: type[CRMError], message: str, error_code: int | None = None) -> CRMError:
            return self._error(
                cls, message, endpoint, started, attempt, http_status=status, error_code=error_code, reply_text=text
            )

        if 300 <= status < 400:
            location = urlsplit(response.headers.get("Location", ""))
            # The target's path says what is wrong (http→https, another host); its query is not ours to log.
            target = location._replace(query="", fragment="").geturl() or "?"
            message = f"unexpected redirect (HTTP {status}) to {target}; check base_url"
            raise fail(error_for_reply(status, None), message)
        ok = 200 <= status < 300
        try:
            decoded = codec.decode_body(body, content_type)
        except CRMBadReply as err:
            if ok:
                raise fail(CRMBadReply, err.message) from err
            raise fail(error_for_reply(status, None), f"HTTP {status} {response.reason or ''}: {err.message}") from err
        if decoded.is_error:
            code = decoded.error_code
            message = decoded.error or f"the CRM answered with error_code {code}"
            raise fail(error_for_reply(status, code), message, code)
        if not ok:
            raise fail(error_for_reply(status, None), f"HTTP {status} {response.reason or ''}")
        try:
            value = codec.coerce_value(endpoint.reply, decoded.value, fmt=decoded.format)
        except CRMError as err:
            raise fail(type(err), err.message) from err
        return CRMReply(
            endpoint=endpoint.path,
            value=value,
            http_status=status,
            elapsed=time.monotonic() - started,
            reply_text=self.scrub(text, EXCERPT_CHARS),
            format=decoded.format,
            attempts=attempt,
        )

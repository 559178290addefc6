"""Origins: the one rule for writing and comparing ``scheme://host[:port]`` (docs/widget-api.md, "Origins").

A browser sends ``Origin`` in one canonical form: lower-case scheme and host, the host in IDNA (punycode), no
default port, no trailing slash (``https://例子.中国:443/`` arrives as ``https://xn--fsqu00a.xn--fiqs8s``). Every
place that stores an origin (the model's validation, the admin form, ``crm_bridge_site``) writes it through
:func:`normalise_origin`, and every place that compares one (CORS grants, the API's own ``Origin`` check,
``Site.origin_allowed``) reads both sides through :func:`origin_key`, so an allow-list entry matches exactly
what browsers send however it was typed.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

__all__ = ["normalise_origin", "origin_key"]

_HOST_LABEL_RE = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: A netloc with a bracketed host: an IPv6 address (no zone id) and at most a port after it.
_BRACKETED_RE = re.compile(r"\[[0-9A-Fa-f:.]+\](?::[0-9]*)?")


def normalise_origin(raw: str) -> str:
    """``raw`` as the origin a browser sends in its ``Origin`` header: ``scheme://host[:port]``, lower case,
    IDNA (punycode) host, default port dropped, no trailing slash.

    Raises ``ValidationError`` for anything else: another scheme, a path, query or fragment, credentials, a
    wildcard, a malformed host or port (a pattern would silently never match, and a path is never sent by a
    browser).
    """
    text = str(raw).strip()
    if "*" in text:
        raise ValidationError(_("%(origin)s: wildcards are not allowed; list each origin."), params={"origin": text})
    try:
        parts = urlsplit(text)
    except ValueError:  # an unbalanced "[" or "]", or a bracketed host that is no IPv6 address
        raise ValidationError(_("%(origin)s: the host name is not valid."), params={"origin": text}) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise ValidationError(
            _("%(origin)s: an origin looks like https://www.example.com (http or https, then the host)."),
            params={"origin": text},
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValidationError(_("%(origin)s: an origin carries no user name or password."), params={"origin": text})
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in text or "#" in text:
        raise ValidationError(
            _("%(origin)s: an origin has no path, query or fragment — just scheme://host[:port]."),
            params={"origin": text},
        )
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(_("%(origin)s: the port is not valid."), params={"origin": text}) from None
    if parts.netloc.startswith("[") and not _BRACKETED_RE.fullmatch(parts.netloc):
        # urlsplit would drop what follows "]" ("https://[::1]x") and take "[v1.x]" for a DNS name.
        raise ValidationError(_("%(origin)s: the host name is not valid."), params={"origin": text})
    host = _normalise_host(parts.hostname or "", text)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def origin_key(value: object) -> str | None:
    """The canonical form of ``value`` for comparing, or ``None`` when it is not an origin at all
    (``Origin: null`` from a sandboxed frame, junk): such a value matches nothing."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return normalise_origin(value)
    except ValidationError:
        return None


def _normalise_host(host: str, original: str) -> str:
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        ascii_host = ""
    labels = ascii_host.split(".")
    if not ascii_host or len(ascii_host) > 253 or not all(_HOST_LABEL_RE.fullmatch(label) for label in labels):
        raise ValidationError(_("%(origin)s: the host name is not valid."), params={"origin": original})
    return ascii_host

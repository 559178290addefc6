"""Which ``token`` and ``siteKey`` values the sandbox accepts.

Precedence, first that is set:

1. a runtime override in the database (:func:`set_override`, i.e. ``control.set_credentials``), so a test
   process can revoke or rotate credentials of a sandbox served by another process;
2. process defaults (:func:`configure_defaults`, used by ``manage.py crm_sandbox --token/--site-key``);
3. ``settings.CRM_SANDBOX = {"TOKENS": [...], "SITE_KEYS": [...]}``.

Only keyed digests (HMAC-SHA256 with ``SECRET_KEY``) are ever stored or compared, so neither the database
nor a repr holds a credential. A siteKey's digest is also what site-scoped rows (messages, hits) are keyed
by: :func:`digest` of the key a test knows finds its rows.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac

from .models import CredentialOverride

__all__ = [
    "Accepted",
    "accepted",
    "clear_override",
    "configure_defaults",
    "defaults",
    "digest",
    "fingerprint",
    "set_override",
]

_SALT = "crm_bridge.sandbox.credential"
_OVERRIDE_ID = 1


def digest(secret: str) -> str:
    """The stored form of a credential (hex HMAC-SHA256 keyed with ``SECRET_KEY``)."""
    return salted_hmac(_SALT, secret, algorithm="sha256").hexdigest()


def fingerprint(site_digest: str) -> str:
    """A short label for a site (its digest's first 8 hex digits), safe to show in listings."""
    return site_digest[:8]


@dataclass(frozen=True)
class Accepted:
    """Digests of the accepted credentials."""

    tokens: frozenset[str]
    site_keys: frozenset[str]

    def accepts(self, kind: str, presented: str) -> bool:
        """True if ``presented`` is an accepted ``token`` (kind ``"token"``) or ``siteKey``."""
        if not presented:
            return False
        candidate = digest(presented)
        pool = self.tokens if kind == "token" else self.site_keys
        # compare_digest over every entry: no early exit that would time which one matched.
        return any([hmac.compare_digest(candidate, d) for d in pool])


_process_defaults: Accepted | None = None


def _digests(values: Iterable[str]) -> frozenset[str]:
    return frozenset(digest(v) for v in values if v)


def configure_defaults(tokens: Iterable[str] | None = None, site_keys: Iterable[str] | None = None) -> None:
    """Replace this process's default credentials (``None`` keeps that half as configured)."""
    global _process_defaults
    base = defaults()
    _process_defaults = Accepted(
        tokens=base.tokens if tokens is None else _digests(tokens),
        site_keys=base.site_keys if site_keys is None else _digests(site_keys),
    )


def defaults() -> Accepted:
    """The credentials accepted when no runtime override is set."""
    if _process_defaults is not None:
        return _process_defaults
    conf = getattr(settings, "CRM_SANDBOX", {}) or {}
    return Accepted(tokens=_digests(conf.get("TOKENS", ())), site_keys=_digests(conf.get("SITE_KEYS", ())))


def accepted() -> Accepted:
    """The credentials accepted now (override, else defaults). One small query per call."""
    row = CredentialOverride.objects.filter(pk=_OVERRIDE_ID).first()
    if row is None:
        return defaults()
    return Accepted(tokens=frozenset(row.token_digests), site_keys=frozenset(row.site_key_digests))


def set_override(tokens: Iterable[str] | None = None, site_keys: Iterable[str] | None = None) -> None:
    """Store a runtime override; ``None`` keeps that half as currently accepted."""
    current = accepted()
    CredentialOverride.objects.update_or_create(
        pk=_OVERRIDE_ID,
        defaults={
            "token_digests": sorted(current.tokens if tokens is None else _digests(tokens)),
            "site_key_digests": sorted(current.site_keys if site_keys is None else _digests(site_keys)),
        },
    )


def clear_override() -> None:
    """Back to the process defaults."""
    CredentialOverride.objects.filter(pk=_OVERRIDE_ID).delete()

"""How the sandbox decides two phone numbers are "the same" (Customer/TelIsRepeat).

The vendor does not say; this is the rule, documented in README.md:

1. NFKC-normalise (full-width ``１３８`` → ``138``) and keep ASCII digits only (spaces, dashes, brackets,
   ``+`` go).
2. Drop the country code 86 when it is written as one: a leading ``0086``; a leading ``+86``; or a bare
   ``86`` in front of an 11-digit mobile number (13 digits starting ``861``).
3. If a country code was dropped and what is left is a landline (does not start with ``1``), put back the
   trunk prefix ``0`` that international notation omits: ``+86 21 6234 5678`` ≡ ``021-62345678``.

Two numbers repeat when their keys are equal and not empty. Extensions and other countries are not
understood (their digits simply have to match).
"""

from __future__ import annotations

import unicodedata

__all__ = ["phone_key"]


def phone_key(raw: str) -> str:
    """The comparison key of a phone number ("" when it holds no digits)."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    digits = "".join(ch for ch in text if "0" <= ch <= "9")
    national = None
    if digits.startswith("0086"):
        national = digits[4:]
    elif text.startswith("+86") or (digits.startswith("861") and len(digits) == 13):
        national = digits[2:]
    if national is None:
        return digits
    if national and not national.startswith(("0", "1")):
        national = "0" + national
    return national

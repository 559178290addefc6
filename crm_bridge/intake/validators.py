"""Normalisation of what visitors type: free text and Chinese phone numbers.

Both functions are pure (no Django models, no settings), raise :class:`django.core.exceptions.ValidationError`
with a stable ``code`` on bad input, and are what the widget API's serializers call.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

__all__ = ["CNPhone", "clean_text", "normalize_cn_phone"]

# Bidirectional overrides and isolates are format characters (Cf), not controls, but they make stored text
# render other than it reads ("Trojan Source"); a name or message in the CRM has no use for them. Other format
# characters stay: zero-width joiners are part of emoji sequences.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\x85\x0b\x0c]")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Return ``value`` NFC-normalised, with control characters removed.

    ``multiline`` text keeps newlines (every line-break form becomes ``\\n``) and tabs; single-line text turns
    them into spaces so words do not run together. Leading and trailing whitespace is kept (the caller trims).
    Raises ``ValidationError(code="null_characters_not_allowed")`` if the text holds a NUL: that is never a
    typing slip, and silently dropping it would hide a probe.
    """
    if "\x00" in value:
        raise ValidationError(_("Null characters are not allowed."), code="null_characters_not_allowed")
    value = unicodedata.normalize("NFC", value)
    value = _LINE_BREAKS.sub("\n", value)
    kept = []
    for ch in value:
        if ch in "\n\t":
            kept.append(ch if multiline else " ")
        elif unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:
            continue
        else:
            kept.append(ch)
    return "".join(kept)


@dataclass(frozen=True)
class CNPhone:
    """A valid phone number in mainland China.

    ``national`` is what a Chinese salesperson dials: digits only, with the trunk ``0`` and area code for a
    landline (``02112345678``) and the bare 11 digits for a mobile (``13800138000``). ``e164`` is the
    international form (``+8613800138000``).
    """

    national: str
    e164: str


# What people put in a phone field besides digits: separators, brackets, a leading plus. Anything else
# (letters, which phonenumbers would read as a vanity number; an extension marker) is refused up front.
_PHONE_CHARS = re.compile(r"^[0-9+\-\s().\u00b7/]+$")


def normalize_cn_phone(raw: str) -> CNPhone:
    """Parse a phone number as people in China type it and return it normalised.

    Accepts mobiles (``13800138000``, ``138 0013 8000``, ``138-0013-8000``, ``+86 138…``, ``0086 138…``,
    ``86 138…``) and landlines with their area code (``021-12345678``, ``(010) 1234 5678``,
    ``0755 1234 5678``), full-width digits included. Raises ``ValidationError(code="invalid_phone")`` for
    anything that is not a valid number in mainland China (too short, unknown prefix, a foreign number; Hong
    Kong, Macau and Taiwan have their own country codes and are refused too, since the CRM's callers dial
    mainland numbers).
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    invalid = ValidationError(_("Enter a valid phone number in mainland China."), code="invalid_phone")
    if not text or not _PHONE_CHARS.match(text):
        raise invalid
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as err:
        raise invalid from err
    if not phonenumbers.is_valid_number(number) or phonenumbers.region_code_for_number(number) != "CN":
        raise invalid
    national = re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    return CNPhone(national=national, e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

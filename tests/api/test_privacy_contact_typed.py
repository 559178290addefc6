"""A data-subject search must find a phone number in a message's free-form contact as visitors in China type it
(docs/privacy.md: "however it was typed there"). Intake stores the contact NFC-normalised only
(``intake.validators.clean_text``), so what a Chinese input method types in full-width mode — full-width digits,
``－``, ``（）``, the ideographic space — is stored as typed; and ``/`` and ``·`` are separators intake's own
phone validator accepts (``normalize_cn_phone``). A number missed here is personal data an erasure leaves behind.

The messages go through the real widget API, so the test sees exactly what intake stores.
"""

from __future__ import annotations

import pytest

from crm_bridge.models import Submission
from crm_bridge.privacy import requests

pytestmark = pytest.mark.django_db

TYPED = [
    "１３８００１３８０００",  # full-width digits (IME full-width mode)
    "１３８－００１３－８０００",  # full-width digits and hyphens
    "138　0013　8000",  # ideographic spaces (U+3000)
    "138/0013/8000",  # a separator normalize_cn_phone accepts
    "138·0013·8000",  # likewise (U+00B7)
    "（+86）138 0013 8000",  # full-width brackets
]


@pytest.mark.parametrize("contact", TYPED)
def test_a_contact_typed_with_an_input_methods_characters_is_found(post, message, contact):
    assert post("messages", {**message, "contact": contact}).status_code == 202
    post("messages", {**message, "contact": "13900139000"})  # someone else
    stored = Submission.objects.get(payload__contact=contact)  # intake kept it as typed
    assert [s.pk for s in requests.find(phone="138 0013 8000")] == [stored.pk]


@pytest.mark.parametrize("contact", ["（010）1234 5678", "０１０－１２３４５６７８"])
def test_a_landline_typed_full_width_is_found(post, message, contact):
    assert post("messages", {**message, "contact": contact}).status_code == 202
    stored = Submission.objects.get(payload__contact=contact)
    assert [s.pk for s in requests.find(phone="010 1234 5678")] == [stored.pk]


def test_a_longer_number_is_still_not_found(post, message):
    for contact in ("９１３８００１３８０００", "1380013800０1"):
        assert post("messages", {**message, "contact": contact}).status_code == 202
    assert list(requests.find(phone="138 0013 8000")) == []

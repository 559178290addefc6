"""Phone numbers as people in China type them, and free-text cleaning."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm_bridge.intake.validators import CNPhone, clean_text, normalize_cn_phone


@pytest.mark.parametrize(
    ("typed", "national", "e164"),
    [
        ("13800138000", "13800138000", "+8613800138000"),
        ("138 0013 8000", "13800138000", "+8613800138000"),
        ("138-0013-8000", "13800138000", "+8613800138000"),
        ("+86 138 0013 8000", "13800138000", "+8613800138000"),
        ("+86-13800138000", "13800138000", "+8613800138000"),
        ("0086 13800138000", "13800138000", "+8613800138000"),
        ("008613800138000", "13800138000", "+8613800138000"),
        ("86 138 0013 8000", "13800138000", "+8613800138000"),
        ("１３８００１３８０００", "13800138000", "+8613800138000"),  # full-width digits from a Chinese IME
        ("  199 1234 5678 ", "19912345678", "+8619912345678"),
        ("021-12345678", "02112345678", "+862112345678"),
        ("(010) 1234 5678", "01012345678", "+861012345678"),
        ("0755 1234 5678", "075512345678", "+8675512345678"),
        ("+86 21 1234 5678", "02112345678", "+862112345678"),
        ("０２１－１２３４５６７８", "02112345678", "+862112345678"),
    ],
)
def test_valid_numbers_are_normalised(typed, national, e164):
    assert normalize_cn_phone(typed) == CNPhone(national=national, e164=e164)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "12345",
        "1380013800",  # one digit short
        "138001380001",  # one digit long
        "23800138000",
        "021 1234 567",  # landline one digit short
        "+1 650 253 0000",  # a US number
        "+852 2123 4567",  # Hong Kong has its own country code
        "138OO138OOO",  # letters would be read as a vanity number
        "13800138000 ext 12",
        "tel:13800138000",
        "13800138000\x00",
    ],
)
def test_invalid_numbers_are_refused(typed):
    with pytest.raises(ValidationError) as info:
        normalize_cn_phone(typed)
    assert info.value.code == "invalid_phone"


def test_clean_text_refuses_nul():
    with pytest.raises(ValidationError) as info:
        clean_text("a\x00b")
    assert info.value.code == "null_characters_not_allowed"


def test_clean_text_normalises_and_strips():
    assert clean_text("e\u0301") == "\u00e9"
    assert clean_text("a\x1b[31mb\x7f\u0085c") == "a[31mb c"
    assert clean_text("one\r\ntwo\rthree\u2028four\tfive", multiline=True) == "one\ntwo\nthree\nfour\tfive"
    assert clean_text("one\r\ntwo\tthree") == "one two three"
    assert clean_text("abc\u202edef\u2066") == "abcdef"
    assert clean_text("👨\u200d👩\u200d👧") == "👨\u200d👩\u200d👧"  # zero-width joiners are kept


@pytest.mark.django_db
class TestLeadPhoneThroughTheAPI:
    def test_landline_is_stored_with_area_code(self, post, lead):
        from crm_bridge.models import Submission

        assert post("leads", {**lead, "tel": "(010) 1234 5678"}).status_code == 202
        payload = Submission.objects.get().payload
        assert (payload["tel"], payload["tel_e164"]) == ("01012345678", "+861012345678")

    def test_invalid_is_a_field_error(self, post, lead):
        r = post("leads", {**lead, "tel": "12345"})
        assert r.status_code == 400
        assert r.json() == {"tel": ["Enter a valid phone number in mainland China."]}

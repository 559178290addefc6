"""Field errors come back in the language the widget shows (its Accept-Language), not always the site's."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("en", "Enter a valid email address."),
        ("zh-CN", "请输入合法的邮件地址。"),
        ("zh-Hans", "请输入合法的邮件地址。"),
    ],
)
def test_errors_follow_accept_language(post, lead, settings, accept, expected):
    settings.LANGUAGE_CODE = "en" if accept != "en" else "zh-hans"  # never the answer by accident
    response = post("leads", {**lead, "email": "not-an-email"}, HTTP_ACCEPT_LANGUAGE=accept)
    assert response.status_code == 400
    assert response.json()["email"] == [expected]


def test_unsupported_language_falls_back_to_the_site_default(post, lead, settings):
    settings.LANGUAGE_CODE = "en"
    response = post("leads", {**lead, "email": "x"}, HTTP_ACCEPT_LANGUAGE="fr-FR")
    assert response.json()["email"] == ["Enter a valid email address."]

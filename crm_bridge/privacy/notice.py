"""The privacy notice a site shows next to the submit button, and its version.

PIPL Art. 17 asks the notice to say who collects, how to reach them, for what purpose, which data and for how
long. A site's own text (admin) wins; an empty text means the default below, which names the site, its privacy
contact and its retention period, so a new site is never without a lawful notice.

The version is derived, not stored: the first 12 hex digits of the SHA-256 of both effective texts. It changes
exactly when a text the visitor could read changes (including a default that follows a new site name or
retention period), cannot be forgotten on save, and needs no migration of its own. A visitor's consent names
the version they saw; intake refuses a stale one (:mod:`crm_bridge.intake.serializers`).

No model imports here: :mod:`crm_bridge.models` uses this module.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

__all__ = ["LANGUAGES", "default_notice", "notice_text", "notice_version", "text_sha256"]

LANGUAGES = ("zh-CN", "en")

_DEFAULT_CONTACT = {"zh-CN": "本网站公布的联系方式", "en": "the contact details published on this website"}

_DEFAULT = {
    "zh-CN": (
        "{site}（以下简称“我们”）收集您在本表单中填写的个人信息（姓名、电话、公司、邮箱及留言内容），"
        "仅用于回复您的咨询并与您联系。这些信息将传送至我们的客户关系管理（CRM）系统，"
        "在本网站系统中保存 {days} 天后删除。您可以通过{contact}联系我们，查阅、复制、更正或删除您的个人信息，"
        "或撤回您的同意；撤回不影响撤回前基于您的同意已进行的处理。"
    ),
    "en": (
        "{site} (“we”) collects the personal information you enter in this form (name, phone number, company, "
        "e-mail and your message) only to answer your enquiry and contact you. It is passed to our customer "
        "relationship management (CRM) system and kept in this website's system for {days} days, then deleted. "
        "To access, copy, correct or delete your information, or to withdraw your consent, contact us via "
        "{contact}; withdrawing does not affect what was done with your consent before."
    ),
}


class _NoticeSite(Protocol):
    name: str
    privacy_contact: str
    retention_days: int
    privacy_notice_zh: str
    privacy_notice_en: str


def default_notice(site: _NoticeSite, lang: str) -> str:
    """The default notice in ``lang`` (``zh-CN`` or ``en``) for ``site``: its name, contact and retention."""
    contact = (site.privacy_contact or "").strip() or _DEFAULT_CONTACT[lang]
    return _DEFAULT[lang].format(site=site.name, days=site.retention_days, contact=contact)


def notice_text(site: _NoticeSite, lang: str) -> str:
    """The notice a visitor of ``site`` reads in ``lang``: the site's own text, else the default."""
    own = site.privacy_notice_zh if lang == "zh-CN" else site.privacy_notice_en
    return (own or "").strip() or default_notice(site, lang)


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of a notice text as shown, UTF-8: what a consent record keeps as proof of the wording."""
    return hashlib.sha256(text.encode()).hexdigest()


def notice_version(site: _NoticeSite) -> str:
    """12 hex digits that change whenever either language's effective text changes (see the module docstring)."""
    joined = "\x1f".join(notice_text(site, lang) for lang in LANGUAGES)
    return text_sha256(joined)[:12]

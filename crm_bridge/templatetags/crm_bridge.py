"""``{% load crm_bridge %}``: the widget on Django-rendered pages.

``{% crm_widget %}``
    The widget's ``<script>`` (floating feedback button and panel) plus, inside ``<noscript>``, a plain HTML
    message form that works without JavaScript.
``{% crm_widget "lead" %}`` / ``{% crm_widget "message" %}``
    An inline form: ``<div data-crm-form="lead">`` holding the plain HTML form, which the widget replaces once it
    runs (the form stays usable if it never does), plus the ``<script>`` if this page has not had it yet.

Options: ``key="pk_…"`` (default: the only active site), ``lang="en"`` (default: the browser's, for the widget;
Django's active language for the plain form), ``button=False`` (no floating button).

The script is rendered once per request, whatever the number of tags, after the site's widget config as a
``<script type="application/json">`` data block (so the widget makes no config request); it carries
``data-crm-api`` as an absolute URL (so a ``STATIC_URL`` on a CDN still reaches this site's API) and the
request's CSP nonce when there is one (``request.csp_nonce``, as django-csp sets it, or ``csp_nonce`` in the
context). The inline form's ``<div>`` keeps its height when the widget replaces the plain form in it, so the
page does not move (give it a ``min-height`` in your CSS, README "The widget"). The plain forms post to this
site (``crm_bridge:fallback-form``) with a CSRF token; they need ``request`` in the context. Without a usable site
the tag renders an HTML comment that says why, never an error page.
"""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString, mark_safe

from ..intake.fallback import active_site, fallback_context
from ..intake.serializers import widget_config
from ..models import Site

register = template.Library()
logger = logging.getLogger("crm_bridge.widget")

_RENDERED_FLAG = "_crm_bridge_widget_script"


def _site(key: str | None) -> Site | None:
    if key:
        return active_site(key)
    sites = list(Site.objects.filter(is_active=True)[:2])
    return sites[0] if len(sites) == 1 else None


def _script(context: template.Context, site: Site, lang: str | None, button: bool) -> SafeString:
    request = context.get("request")
    # Once per request (once per template render without one): several tags, one script, one loader.
    seen = request.__dict__ if request is not None else context.render_context
    if seen.get(_RENDERED_FLAG):
        return mark_safe("")
    seen[_RENDERED_FLAG] = True
    api = reverse("crm_bridge:widget-config").removesuffix("widget/v1/config")
    src = static("crm_bridge/widget.js")
    if request is not None:
        api, src = request.build_absolute_uri(api), request.build_absolute_uri(src)
    nonce = getattr(request, "csp_nonce", None) or context.get("csp_nonce")
    return format_html(
        '{}<script src="{}" data-crm-key="{}" data-crm-api="{}"{}{}{} async></script>',
        # The site's widget config carried in the page (what GET widget/v1/config would answer), so the widget
        # is ready as soon as its script runs, without a round trip of its own. A data block: never executed,
        # so a strict CSP needs no nonce for it; json_script escapes <, > and & against breaking out of it.
        json_script(widget_config(site), f"crm-config-{site.public_key}"),
        src,
        site.public_key,
        api,
        format_html(' data-crm-lang="{}"', lang) if lang else "",
        "" if button else mark_safe(' data-crm-button="off"'),
        format_html(' nonce="{}"', nonce) if nonce else "",
    )


def _fallback(context: template.Context, site: Site, kind: str, lang: str | None) -> SafeString:
    request = context.get("request")
    if request is None:
        return mark_safe("")  # no request, no CSRF token: no plain form
    form = fallback_context(request, site, kind, lang=lang)
    html = render_to_string("crm_bridge/widget/form.html", {"form": form}, request=request)
    return mark_safe(html.strip())  # noqa: S308 (an autoescaped template's output; strip() drops the SafeString)


@register.simple_tag(takes_context=True)
def crm_widget(
    context: template.Context, form: str | None = None, *, key: str | None = None, lang: str | None = None,
    button: bool = True,
) -> SafeString:  # fmt: skip
    """Render the widget (see the module docstring); ``form`` is ``None``, ``"lead"`` or ``"message"``."""
    if form not in (None, "lead", "message"):
        raise template.TemplateSyntaxError(f'crm_widget: form must be "lead" or "message", not {form!r}')
    site = _site(key)
    if site is None:
        why = "no active site with that key" if key else "no key given and not exactly one active site"
        logger.warning("{%% crm_widget %%} rendered nothing: %s", why)
        return format_html("<!-- crm_widget: {} -->", why)
    script = _script(context, site, lang, button)
    if form is None:
        plain = _fallback(context, site, "message", lang) if site.feature("messages") else ""
        return format_html("{}<noscript>{}</noscript>", script, plain) if plain else script
    plain = _fallback(context, site, form, lang) if site.feature(_feature(form)) else ""
    return format_html('<div data-crm-form="{}"{}>{}</div>{}', form, _lang_attr(lang), plain, script)


def _feature(form: str) -> str:
    return "leads" if form == "lead" else "messages"


def _lang_attr(lang: str | None) -> Any:
    return format_html(' data-crm-lang="{}"', lang) if lang else ""

"""Intake: the public side — the widget's HTTP API and the no-JS form, which validate, store and answer, and
never call the CRM (docs/architecture.md, "Intake").

One module per concern, in the order a request meets them:

* :mod:`.api` — the widget API's views (``widget/v1/…``), their gates and answers;
* :mod:`.parsers` — JSON bodies only, size-capped; :mod:`.throttling` — per-IP and per-site rate limits;
* :mod:`.cors` — CORS grants per site allow-list (origins compared by :mod:`crm_bridge.origins`, the one rule);
* :mod:`.sites` — which site a public key names; :mod:`.serializers` and :mod:`.validators` — the fields;
* :mod:`.idempotency` — ``Idempotency-Key`` replay; :mod:`.store` — the outbox row and the hand-off to the broker;
* :mod:`.fallback` — the plain HTML form of ``{% crm_widget %}`` for visitors without JavaScript.

Nothing is imported here: a caller names the module it needs.
"""

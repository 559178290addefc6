"""``manage.py crm``: call any CRM endpoint, list them, describe one.

    manage.py crm call Customer/Get id=5
    manage.py crm call Customer/Save json=@customer.json
    manage.py crm call ECommerce/AddMessageBoard custID=1 content=你好 --site-key K --format xml
    manage.py crm list
    manage.py crm describe Customer/Save

``call`` takes params as ``wireName=value``, typed by the spec (``id=5`` is the int 5); ``name=@path`` reads the
value from a UTF-8 file (``name=@@x`` is the literal ``@x``). It prints the reply's ``value`` as JSON. On failure
it writes one line to stderr (error class, message, endpoint, HTTP status, CRM error_code) and exits with 1.
The token comes from ``CRM_BRIDGE``; credentials are never printed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm_bridge.connection import get_client
from crm_bridge.crm import ENDPOINTS, CRMError, get_endpoint
from crm_bridge.crm.codec import from_text
from crm_bridge.crm.naming import group_attribute, method_params
from crm_bridge.crm.spec import Endpoint

logger = logging.getLogger("crm_bridge.crm")


class Command(BaseCommand):
    help = "Call any CRM Web API endpoint (call), list the endpoints (list), or describe one (describe)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{call,list,describe}")
        call = actions.add_parser("call", help="call an endpoint and print the reply's value as JSON")
        call.add_argument("path", help="the endpoint, e.g. Customer/Get")
        call.add_argument(
            "params", nargs="*", metavar="name=value", help="params by wire name; name=@file reads a file"
        )
        call.add_argument("--site-key", dest="site_key", help="the siteKey, for the two ECommerce endpoints")
        call.add_argument("--format", dest="reply_format", choices=("json", "xml"), help="ask the CRM for this format")
        actions.add_parser("list", help="list every endpoint: path, summary, params")
        describe = actions.add_parser("describe", help="show one endpoint's params, reply and Python method")
        describe.add_argument("path", help="the endpoint, e.g. Customer/Save")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list()
        elif action == "describe":
            self._describe(self._endpoint(options["path"]))
        else:
            self._call(options)

    # -- call ------------------------------------------------------------------------------------------------

    def _call(self, options: dict[str, Any]) -> None:
        endpoint = self._endpoint(options["path"])
        client = get_client()
        overrides = {}
        if options.get("site_key"):
            overrides["site_key"] = options["site_key"]
        if options.get("reply_format"):
            overrides["format"] = options["reply_format"]
        if overrides:
            client = client.with_options(**overrides)
        # The client's per-call log line would repeat what this command prints; show it only with -v 2.
        quiet = options["verbosity"] < 2
        previous_level = logger.level
        if quiet:
            logger.setLevel(logging.WARNING)
        try:
            reply = client.request(endpoint.path, self._params(endpoint, options["params"]))
        except CRMError as err:
            line = (
                f"{type(err).__name__}: {err.message} "
                f"(endpoint={err.endpoint or endpoint.path} http_status={err.http_status} error_code={err.error_code})"
            )
            self.stderr.write(client.scrub(" ".join(line.split())))
            raise SystemExit(1) from None
        finally:
            if quiet:
                logger.setLevel(previous_level)
        if not quiet:
            self.stderr.write(
                f"{reply.endpoint}: HTTP {reply.http_status}, {reply.format}, {reply.elapsed * 1000:.0f} ms, "
                f"attempts={reply.attempts}"
            )
        # A reply's data could echo a credential back; scrub what we print like every excerpt.
        self.stdout.write(client.scrub(json.dumps(reply.value, ensure_ascii=False, indent=2)))

    def _params(self, endpoint: Endpoint, items: list[str]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for item in items:
            name, sep, text = item.partition("=")
            if not sep or not name:
                raise CommandError(f"expected name=value, got {item.split('=')[0]!r}")
            if text.startswith("@@"):
                text = text[1:]
            elif text.startswith("@"):
                try:
                    text = Path(text[1:]).read_text(encoding="utf-8")
                except OSError as err:
                    raise CommandError(f"{name}: cannot read {text[1:]!r}: {err.strerror}") from None
            param = endpoint.by_name.get(name)
            # Unknown names and credentials go through as text: the client refuses them with a clear message.
            params[name] = from_text(param, text) if param is not None and param.role == "input" else text
        return params

    # -- list / describe -------------------------------------------------------------------------------------

    def _list(self) -> None:
        width = max(len(e.path) for e in ENDPOINTS)
        for e in ENDPOINTS:
            params = ", ".join(f"{p.name}:{p.type}{'' if p.required else '?'}" for p in e.inputs) or "-"
            flags = ("read-only" if e.read_only else "write") + (", siteKey" if e.auth == "siteKey" else "")
            self.stdout.write(f"{e.path:<{width}}  {e.summary}  [{flags}]  {params}")

    def _describe(self, e: Endpoint) -> None:
        args = ", ".join(f"{name}=…" for name, _ in method_params(e))
        reply = e.reply + (f" ({e.entity})" if e.entity else "")
        lines = [
            f"{e.path}: {e.summary}",
            f"  url:     {{base_url}}{e.path}.ashx  (POST, form fields)",
            f"  auth:    {e.auth}",
            f"  kind:    {'read-only (retried in-line on transport errors and 5xx)' if e.read_only else 'write'}",
            f"  reply:   {reply}",
            f"  python:  client.{group_attribute(e.group)}.{e.python_name}({args})",
            "  params:" if e.inputs else "  params:  (none besides the credential)",
        ]
        for name, p in method_params(e):
            need = "required" if p.required else "optional"
            lines.append(f"    {p.name:<16} {p.type:<9} {need:<9} {p.description}  (python: {name})".rstrip())
        self.stdout.write("\n".join(lines))

    def _endpoint(self, path: str) -> Endpoint:
        try:
            return get_endpoint(path)
        except KeyError:
            raise CommandError(f"no CRM endpoint {path!r}; `manage.py crm list` shows them all") from None

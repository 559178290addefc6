"""Generate ``crm_bridge/crm/endpoints.py`` (the client's typed methods) from ``crm_bridge/crm/spec.py``.

    python -m tools.codegen           # rewrite crm_bridge/crm/endpoints.py (from the repository's root)
    python -m tools.codegen --check   # exit 1 if the committed file is stale
    python tools/codegen.py [--check] # the same, as a script

A development tool of this repository, not part of the installed package (it needs ruff, a dev extra). One
class per group (``CustomerAPI`` …), one keyword-only method per endpoint, named by ``spec.python_name``;
each method is a single ``self._client.call("Group/Name", {wire: python, …})``. The output is committed (so
readers, IDEs and type checkers see real code, as botocore's docs do) and formatted with ruff, which this
generator runs; ``tests/crm/test_codegen.py`` checks the committed file is exactly what it produces.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script (python tools/codegen.py): make crm_bridge importable
    sys.path.insert(0, str(REPO))

# The naming rules live in the package: the shipped `manage.py crm describe` needs them too.
from crm_bridge.crm.naming import group_attribute, group_class_name, method_params  # noqa: E402
from crm_bridge.crm.spec import ENDPOINTS, Endpoint  # noqa: E402

__all__ = ["COMMAND", "TARGET", "generate", "group_attribute", "group_class_name", "method_params", "render"]

TARGET = REPO / "crm_bridge" / "crm" / "endpoints.py"
#: How to regenerate, as written into the generated file and the stale-file messages.
COMMAND = "python -m tools.codegen"

_ANNOTATIONS = {
    "string": "str",
    "int32": "int",
    "datetime": "datetime | date | str",
    "json": "Mapping[str, Any] | str",
}
_RETURNS = {
    "bool": "bool",
    "count": "int",
    "status": "int",
    "int": "int",
    "object": "dict[str, Any]",
    "list": "list[dict[str, Any]]",
}


def _groups() -> dict[str, list[Endpoint]]:
    groups: dict[str, list[Endpoint]] = {}
    for endpoint in ENDPOINTS:
        groups.setdefault(endpoint.group, []).append(endpoint)
    return groups


def _doc_text(text: str) -> str:
    # Docstrings are emitted inside """…""": keep the spec's text from ending or escaping them.
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _width(text: str) -> int:
    # ruff measures line length in display columns: CJK characters take two.
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _wrap(text: str, first_indent: str, rest_indent: str, limit: int = 116) -> list[str]:
    """``text`` as lines no wider than ``limit`` columns, breaking at a space when one is near, else between
    characters (Chinese has no spaces to break at)."""
    lines: list[str] = []
    indent = first_indent
    while _width(indent + text) > limit:
        cut = 0
        while _width(indent + text[: cut + 1]) <= limit:
            cut += 1
        # Prefer a space, else just after punctuation, within the last few columns; else cut where it is full.
        breaks = [i for i in range(max(1, cut - 20), cut) if text[i] == " " or text[i - 1] in ":;,)，。：；）"]
        if breaks:
            cut = breaks[-1]
        lines.append((indent + text[:cut]).rstrip())
        text = text[cut:].lstrip()
        indent = rest_indent
    lines.append(indent + text)
    return lines


def _returns_doc(endpoint: Endpoint) -> str:
    entity = f"``{endpoint.entity}``" if endpoint.entity else "the entity"
    return {
        "bool": "``bool``: the reply's ``value``.",
        "count": "``int``: a count (rows affected, or a number).",
        "status": "``int``: ``1`` done, ``-1`` failed.",
        "int": "``int``: the code the reply holds.",
        "object": f"``dict``: one {entity} object (``CRMNotFound`` when the CRM has none).",
        "list": f"``list`` of {entity} objects (``[]`` when there are none).",
    }[endpoint.reply]


def _method(endpoint: Endpoint) -> list[str]:
    params = method_params(endpoint)
    signature = ["self"]
    if params:
        signature.append("*")
    for name, param in params:
        annotation = _ANNOTATIONS[param.type]
        signature.append(f"{name}: {annotation}" if param.required else f"{name}: {annotation} | None = None")
    mode = "read-only" if endpoint.read_only else "writes"
    doc = [
        f"{_doc_text(endpoint.summary)}",
        "",
        f"``{endpoint.path}`` ({mode}; authenticates with ``{endpoint.auth}``).",
    ]
    if params:
        doc += ["", "Args:"]
        for name, param in params:
            need = "required" if param.required else "optional, omitted when None"
            description = f": {_doc_text(param.description)}" if param.description else ""
            line = f"{name}: ``{param.name}`` ({param.doc_type or param.type}, {need}){description}"
            doc += _wrap(line, " " * 4, " " * 8, limit=116 - 8)
    doc += [
        "",
        "Returns:",
        *_wrap(_returns_doc(endpoint), " " * 4, " " * 8, limit=116 - 8),
        "",
        "Raises:",
        "    CRMError: a subclass by cause, see ``CRMClient.request``.",
    ]
    body = ", ".join(f'"{param.name}": {name}' for name, param in params)
    lines = [
        f"    def {endpoint.python_name}({', '.join(signature)}) -> {_RETURNS[endpoint.reply]}:",
        f'        """{doc[0]}',
        *[f"        {line}" if line else "" for line in doc[1:]],
        '        """',
        f'        return self._client.call("{endpoint.path}", {{{body}}})',
    ]
    return lines


def _class(group: str, endpoints: Iterable[Endpoint]) -> list[str]:
    endpoints = list(endpoints)
    names = [e.python_name for e in endpoints]
    if len(set(names)) != len(names):
        raise ValueError(f"group {group}: two endpoints map to one method name: {names}")
    auth = {e.auth for e in endpoints}
    lines = [
        f"class {group_class_name(group)}(_Group):",
        f'    """The ``{group}/*`` handlers ({len(endpoints)}), as ``client.{group_attribute(group)}.<method>``'
        f' (authenticate with ``{"`` / ``".join(sorted(auth))}``)."""',
    ]
    for endpoint in endpoints:
        lines += ["", *_method(endpoint)]
    return lines


_HEADER = '''\
# File generated from crm_bridge/crm/spec.py (ENDPOINTS) by tools/codegen.py. DO NOT EDIT.
# Change the spec or the generator, then run `{COMMAND}` from the repository's root.
"""Typed methods for every CRM endpoint, one class per group (generated: see the lines above).

``tests/crm/test_codegen.py`` fails when this file differs from the generator's output.

Every method takes keyword-only params named like the wire names in snake_case (``sName`` → ``s_name``); an
optional param left as ``None`` is not sent. Each method is one ``client.call("Group/Name", {wire names})``, so
validation, credentials, retries and errors are the client's (``CRMClient.request``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Protocol
'''.replace("{COMMAND}", COMMAND)

_BASE = '''\
class _Caller(Protocol):
    def call(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...


class _Group:
    """Base of the group classes: holds the client whose ``call`` every method goes through."""

    __slots__ = ("_client",)

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"
'''


def render() -> str:
    """The module's source, before formatting."""
    groups = _groups()
    class_names = [group_class_name(g) for g in groups]
    out = [_HEADER]
    exported = sorted([*class_names, "GROUPS", "EndpointGroups"], key=lambda n: (not n.isupper(), n))
    out.append("__all__ = [" + ", ".join(f'"{n}"' for n in exported) + "]")
    out += ["", "", _BASE]
    for group, endpoints in groups.items():
        out += ["", "", *_class(group, endpoints)]
    out += [
        "",
        "",
        "#: Client attribute name → group class.",
        "GROUPS: dict[str, type[_Group]] = {",
        *[f'    "{group_attribute(g)}": {group_class_name(g)},' for g in groups],
        "}",
        "",
        "",
        "class EndpointGroups:",
        '    """Mixin for the client: one attribute per group, bound to the client by ``_bind_groups``."""',
        "",
        *[f"    {group_attribute(g)}: {group_class_name(g)}" for g in groups],
        "",
        "    def _bind_groups(self, client: _Caller) -> None:",
        *[f"        self.{group_attribute(g)} = {group_class_name(g)}(client)" for g in groups],
        "",
    ]
    return "\n".join(out)


def format_source(source: str, path: Path = TARGET) -> str:
    """``source`` formatted by ``ruff format`` with the project's settings (found from ``path``)."""
    try:
        done = subprocess.run(  # noqa: S603 — fixed argv
            [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
            input=source,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except FileNotFoundError as err:  # pragma: no cover
        raise RuntimeError("ruff is needed to generate endpoints.py (pip install -e '.[dev]')") from err
    if done.returncode != 0:
        raise RuntimeError(f"ruff format failed: {done.stderr.strip()}")
    return done.stdout


def generate() -> str:
    """The module's source exactly as it should be committed."""
    return format_source(render())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if endpoints.py is not up to date")
    args = parser.parse_args(argv)
    source = generate()
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if args.check:
        if current != source:
            print(f"{TARGET} is stale: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    if current != source:
        TARGET.write_text(source, encoding="utf-8")
        print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Generate the reference pages in ``docs/reference/`` from the code they describe, so they cannot drift.

    python -m tools.docgen           # rewrite docs/reference/*.md (from the repository's root)
    python -m tools.docgen --check   # exit 1 if a committed page is stale
    python tools/docgen.py [--check] # the same, as a script

A development tool of this repository, not part of the installed package (like ``tools/codegen.py``). Each
page is built from one source of truth:

* ``settings.md``: the ``Setting`` declarations of ``crm_bridge/conf.py`` (``BridgeSettings``) and
  ``ALERT_DEFAULTS`` of ``crm_bridge/alerts/conf.py``; a key's description is the comment block above its
  declaration (read with ``ast`` and the source lines). A declaration with no comment directly above it, on
  the line right after another declaration, shares that one's comment (``CONNECT_TIMEOUT`` and
  ``READ_TIMEOUT``); a comment line ``--- title ---`` starts a section. A key with no comment is an error.
* ``widget-api.md`` (and ``widget-api.openapi.json``): the OpenAPI schema of the widget API, made by
  drf-spectacular's generator with ``WidgetSchemaView.custom_settings``, the app mounted at ``crm/``.
* ``sandbox.md``: ``spec.ERROR_CODES``, the fault kinds (``Fault.Kind``, described in the docstring of
  ``crm_bridge/sandbox/faults.py``), ``control.inject_fault``'s options, the ``_sandbox/`` routes of
  ``crm_bridge/sandbox/urls.py`` (described by the table in ``control_views``'s docstring) and the public
  functions of ``crm_bridge.sandbox.control``.
* ``widget.md``: the doc blocks in ``widget/src/*.js``, one per attribute, event and method::

      /** @attribute data-crm-key          (or @event crm:ready, or @method CRMWidget.open())
       * @on <script>, [data-crm-form]     (@target / @detail for events, @returns for methods)
       * What it does, in sentences; a tag's value continues on lines indented further.
       */

  The build (``widget/build.mjs``) drops every comment, so these change nothing in ``widget.js``.
* ``testing.md``: ``crm_bridge.testing``'s public names with their signatures and docstrings, and the source
  of ``tests/test_reference_example.py``, an integrator's test that the suite runs.

``tests/test_docs.py`` checks the committed pages are exactly this output, and — reading the sources its own
way — that every setting, ``data-crm-*`` attribute, ``crm:`` event and public testing name is in them.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script (python tools/docgen.py): make crm_bridge importable
    sys.path.insert(0, str(REPO))

__all__ = ["COMMAND", "OUT", "PAGES", "Doc", "generate", "main", "setting_groups", "widget_docs"]

OUT = REPO / "docs" / "reference"
#: How to regenerate, as written into the pages and the stale-page messages.
COMMAND = "python -m tools.docgen"
#: Where the example pages mount the app, as the README and the demo do.
MOUNT = "crm/"


def _header(source: str) -> str:
    return (
        f"<!-- Generated from {source} by tools/docgen.py. DO NOT EDIT: change the source, then run "
        f"`{COMMAND}` from the repository's root. -->\n"
    )


def setup_django() -> None:
    """Configure just enough Django to import the app, unless a project (the test run) already has."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="docgen",  # noqa: S106 (never used to sign anything)
            INSTALLED_APPS=[
                "django.contrib.auth",
                "django.contrib.contenttypes",
                "rest_framework",
                "corsheaders",
                "crm_bridge",
                "crm_bridge.sandbox",
            ],
            USE_TZ=True,
            LANGUAGE_CODE="en",
            LANGUAGES=[("zh-hans", "简体中文"), ("en", "English")],
            DATABASES={},
            CELERY_BROKER_URL="memory://",
        )
    django.setup()


def _rst(text: str) -> str:
    """reST markup of docstrings and comments as Markdown: ````x```` and ``:func:`x``` become code."""
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    return re.sub(r":(?:func|class|data|mod|attr|meth|exc):`~?([^`]+)`", r"`\1`", text)


def _md(text: str) -> str:
    """``text`` on one line, safe inside a Markdown table cell."""
    return _rst(" ".join(str(text).split())).replace("|", "\\|")


def _py(value: Any) -> str:
    """``value`` as you would write it in Python source (double-quoted strings, like ruff format)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    return repr(value)


def _code(value: Any) -> str:
    text = value if isinstance(value, str) and value.startswith("`") else f"`{value}`"
    return text.replace("|", "\\|")


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(head)
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _paragraphs(doc: str | None) -> str:
    """A docstring as Markdown text: dedented, reST literals as code, ``::`` blocks as fenced code."""
    text = _rst(inspect.cleandoc(doc or ""))
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            out.append(line.rstrip()[:-1])  # "…like this::" → "…like this:"
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            out += ["", "```python", textwrap.dedent("\n".join(block)).strip("\n"), "```", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out).strip()


# --- comments above declarations (settings) ----------------------------------------------------------------


@dataclass
class Group:
    """Keys declared together under one comment, in one section."""

    section: str
    description: str
    keys: list[str] = field(default_factory=list)


_SECTION = re.compile(r"^---\s*(?P<title>.*?)\s*(?:---\s*$|:\s*(?P<rest>.*)$|$)")


def _comment_groups(path: Path, declarations: list[tuple[str, int, int]], first_section: str) -> list[Group]:
    """Group ``declarations`` (name, first line, last line; 1-based) of the file at ``path`` by the comment
    blocks above them. Raises ``ValueError`` naming the keys that have no comment."""
    lines = path.read_text(encoding="utf-8").splitlines()
    groups: list[Group] = []
    section = first_section
    previous_end = -1
    missing: list[str] = []
    for name, start, end in declarations:
        block: list[str] = []
        n = start - 2  # 0-based index of the line above
        while n >= 0 and lines[n].strip().startswith("#"):
            block.insert(0, lines[n].strip().lstrip("#").strip())
            n -= 1
        if not block and groups and previous_end == start - 1:
            groups[-1].keys.append(name)
        else:
            description: list[str] = []
            for text in block:
                match = _SECTION.match(text)
                if match:
                    section = match.group("title")
                    if match.group("rest"):
                        description.append(match.group("rest"))
                elif text.startswith("#:"):
                    description.append(text[2:].strip())
                else:
                    description.append(text)
            if not description:
                missing.append(name)
            groups.append(Group(section, " ".join(description), [name]))
        previous_end = end
    if missing:
        raise ValueError(f"{path.relative_to(REPO)}: no comment above {', '.join(missing)}: say what it is for")
    return groups


def setting_groups() -> list[Group]:
    """The keys of ``BridgeSettings`` by comment group, in declaration order."""
    from crm_bridge import conf

    path = Path(inspect.getfile(conf))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "BridgeSettings")
    declarations = []
    for node in cls.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(node, ast.AnnAssign):
            target = node.target
        if isinstance(target, ast.Name) and target.id in conf.SETTINGS:
            declarations.append((target.id, node.lineno, node.end_lineno or node.lineno))
    found = [name for name, _, _ in declarations]
    if found != list(conf.SETTINGS):
        raise ValueError(f"conf.py: declarations {found} differ from SETTINGS {list(conf.SETTINGS)}")
    return _comment_groups(path, declarations, "the CRM")


def alert_groups() -> list[Group]:
    """The keys of ``ALERT_DEFAULTS`` by comment group."""
    from crm_bridge.alerts import conf as alerts_conf

    path = Path(inspect.getfile(alerts_conf))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    value = next(
        n.value
        for n in tree.body
        if (isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == "ALERT_DEFAULTS")
        or (isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ALERT_DEFAULTS" for t in n.targets))
    )
    if not isinstance(value, ast.Dict):
        raise ValueError("alerts/conf.py: ALERT_DEFAULTS is not a dict literal")
    declarations = [
        (k.value, k.lineno, v.end_lineno or v.lineno)
        for k, v in zip(value.keys, value.values, strict=True)
        if isinstance(k, ast.Constant) and isinstance(k.value, str)
    ]
    if [d[0] for d in declarations] != list(alerts_conf.ALERT_DEFAULTS):
        raise ValueError("alerts/conf.py: ALERT_DEFAULTS has keys that are not plain strings")
    return _comment_groups(path, declarations, "alerts")


# What a parser of conf.py accepts, in words; a parser not listed shows its name.
_ACCEPTS = {
    "_seconds": "seconds, > 0",
    "_seconds_or_zero": "seconds, ≥ 0",
    "_count": "whole number ≥ 0",
    "_non_negative": "number ≥ 0",
    "_share": "number, 0 to 1",
    "_format": '`"json"` or `"xml"`',
    "_secret": "string (a secret)",
    "_base_url": "http(s) URL",
    "_token": "string: empty (off) or ≥ 16 characters (a secret)",
    "_networks": "list of IP addresses or networks",
    "_rates": 'dict: `"ip"`, `"site"` → rate like `"30/min"` or `None`',
    "_options": "dict",
}


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f" ({seconds / size:g} {unit})"
    return ""


def _default(key: str, value: Any, parser_name: str) -> str:
    shown = _code(_py(value))
    if parser_name.startswith("_seconds") and isinstance(value, int | float):
        shown += _duration(float(value))
    if key.endswith("_BYTES") and isinstance(value, int) and value % 1024 == 0:
        shown += f" ({value // 1024} KiB)"
    return shown


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _section(title: str) -> list[str]:
    """A section heading; a trailing ``(docs/page.md)`` becomes a link under it."""
    match = re.match(r"^(.*?)\s*\(docs/([\w./-]+)\)$", title)
    name, page = (match.group(1), match.group(2)) if match else (title, None)
    lines = [f"## {_md(name[:1].upper() + name[1:])}", ""]
    if page:
        lines += [f"See [../{page}](../{page}).", ""]
    return lines


def render_settings() -> str:
    from crm_bridge import conf
    from crm_bridge.alerts.conf import ALERT_DEFAULTS

    out = [
        _header("crm_bridge/conf.py and crm_bridge/alerts/conf.py"),
        "# Settings reference",
        "",
        "Everything the app reads from your settings is one dict, `CRM_BRIDGE`; each key below is optional",
        "except the required ones. An unknown key or a malformed value is an error that `manage.py check`",
        "reports (`crm_bridge.E0xx`), naming the key. The demo site in `config/` reads the required keys from",
        "the `CRM_BRIDGE_<KEY>` environment variables.",
        "",
        "```python",
        "CRM_BRIDGE = {",
        '    "BASE_URL": "https://crm.example.com/WebApi/Handler/1.0/CRM/",',
        '    "TOKEN": env("CRM_TOKEN"),  # a secret: from the environment, never in the repository',
        '    "ALERTS": {"RATE_PER_MINUTE": 10},',
        "}",
        "```",
        "",
        f'{len(conf.SETTINGS)} keys, plus {len(ALERT_DEFAULTS)} in `CRM_BRIDGE["ALERTS"]`.',
    ]
    section = None
    for group in setting_groups():
        if group.section != section:
            section = group.section
            out += ["", *_section(section), *_table(["key", "default", "accepts", "meaning"], [])]
        settings_ = [conf.SETTINGS[k] for k in group.keys]
        out.append(
            "| "
            + " | ".join(
                [
                    "<br>".join(f"[`{k}`](#crm_bridgealerts)" if k == "ALERTS" else f"`{k}`" for k in group.keys),
                    "<br>".join(
                        "**required**" if s.required else _default(s.name, s.default, s.parser.__name__)
                        for s in settings_
                    ),
                    "<br>".join(_ACCEPTS.get(s.parser.__name__, _md(s.parser.__name__.strip("_"))) for s in settings_),
                    _md(_sentence(group.description)),
                ]
            )
            + " |"
        )
    out += [
        "",
        '## `CRM_BRIDGE["ALERTS"]`',
        "",
        "A dict merged over these defaults (`crm_bridge.alerts.conf.ALERT_DEFAULTS`); an unknown key is an error.",
        "Where alerts go (robots, mail) is set in the admin, not here: see [../alerts.md](../alerts.md).",
        "",
        *_table(["key", "default", "meaning"], []),
    ]
    for group in alert_groups():
        out.append(
            "| "
            + " | ".join(
                [
                    "<br>".join(f"`{k}`" for k in group.keys),
                    "<br>".join(_code(_py(ALERT_DEFAULTS[k])) for k in group.keys),
                    _md(group.description),
                ]
            )
            + " |"
        )
    return "\n".join(out) + "\n"


# --- the widget HTTP API (OpenAPI) ---------------------------------------------------------------------------


def widget_schema() -> dict[str, Any]:
    """The widget API's OpenAPI document, as ``GET widget/v1/schema`` serves it for the app under ``crm/``."""
    setup_django()
    from django.urls import include, path
    from django.utils import translation
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import patched_settings

    from crm_bridge.intake.api import WidgetSchemaView

    with patched_settings(WidgetSchemaView.custom_settings), translation.override("en"):
        generator = SchemaGenerator(patterns=[path(MOUNT, include("crm_bridge.urls"))])
        schema = generator.get_schema(request=None, public=True)
    # Lazy translation strings and the like become plain JSON values.
    plain: dict[str, Any] = json.loads(json.dumps(schema, ensure_ascii=False, default=str))
    return plain


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _anchor(name: str) -> str:
    return f"[`{name}`](#{name.lower()})"


def _type(schema: Mapping[str, Any]) -> str:
    """A schema's type in a few words: ``string (email)``, ``array of Hit``, ``Source`` …"""
    if "$ref" in schema:
        return _anchor(_ref_name(schema["$ref"]))
    for combinator, word in (("allOf", " and "), ("oneOf", " or "), ("anyOf", " or ")):
        if combinator in schema:
            # drf-spectacular's "or an empty string" alternative is told by _limits ("may be empty").
            options = [s for s in schema[combinator] if s.get("maxLength") != 0] or schema[combinator]
            parts = list(dict.fromkeys(_type(s) for s in options))
            return word.join(parts)
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and "properties" not in schema:
        return "object"
    if "format" in schema:
        kind += f" ({schema['format']})"
    return kind


def _limits(schema: Mapping[str, Any]) -> str:
    """Constraints of a property: lengths, ranges, choices, default, nullable."""
    parts: list[str] = []
    for option in schema.get("oneOf", []):
        if option.get("maxLength") == 0:
            parts.append("may be empty")
    merged: dict[str, Any] = {}
    for option in [schema, *schema.get("oneOf", [])[:1], *schema.get("allOf", [])]:
        merged.update({k: v for k, v in option.items() if k not in merged})
    low, high = merged.get("minLength"), merged.get("maxLength")
    if low is not None and high is not None:
        parts.insert(0, f"{low}–{high} characters")
    elif high is not None:
        parts.insert(0, f"≤ {high} characters")
    elif low is not None:
        parts.insert(0, f"≥ {low} character{'s' if low != 1 else ''}")
    low, high = merged.get("minimum"), merged.get("maximum")
    if low is not None and high is not None:
        parts.append(f"{low}–{high}")
    elif low is not None:
        parts.append(f"≥ {low}")
    elif high is not None:
        parts.append(f"≤ {high}")
    if "enum" in merged:
        parts.append("one of " + ", ".join(f"`{v}`" for v in merged["enum"]))
    if "pattern" in merged:
        parts.append(f"matches `{merged['pattern']}`")
    if merged.get("nullable"):
        parts.append("may be `null`")
    if "default" in merged:
        parts.append(f"default `{json.dumps(merged['default'], ensure_ascii=False)}`")
    return ", ".join(parts)


def _schema_of(content: Mapping[str, Any]) -> str:
    by_schema: dict[str, list[str]] = {}
    for media_type, body in content.items():
        by_schema.setdefault(_type(body.get("schema", {})), []).append(f"`{media_type}`")
    return "; ".join(f"{schema} as {', '.join(types)}" for schema, types in by_schema.items())


def render_widget_api(schema: Mapping[str, Any]) -> str:
    info = schema["info"]
    out = [
        _header("the drf-spectacular schema of crm_bridge/intake/api.py (WidgetSchemaView)"),
        "# Widget HTTP API reference",
        "",
        f"{_md(info['title'])}, version {info['version']}: {_md(info.get('description', ''))}",
        f"The same OpenAPI {schema['openapi']} document is served at `GET /{MOUNT}widget/v1/schema` (JSON; YAML",
        "with `Accept: application/vnd.oai.openapi`) and committed as",
        "[widget-api.openapi.json](widget-api.openapi.json). Paths assume the app is mounted at",
        f'`path("{MOUNT}", include("crm_bridge.urls"))`. How the API behaves (origins, idempotency, throttling,',
        "errors) is explained in [../widget-api.md](../widget-api.md).",
        "",
        "No endpoint needs authentication, sessions or cookies; the site's public `key` identifies the site.",
        "Every answer is JSON.",
        "",
        "## Operations",
        "",
        *_table(
            ["method", "path", "summary"],
            [
                [f"`{method.upper()}`", f"[`{p}`](#{_op_anchor(method, p)})", _md(op.get("summary", ""))]
                for p, ops in schema["paths"].items()
                for method, op in ops.items()
            ],
        ),
    ]
    for p, ops in schema["paths"].items():
        for method, op in ops.items():
            out += ["", f"### {method.upper()} {p}", ""]
            out.append(_md(op.get("summary", "")))
            params = op.get("parameters", [])
            if params:
                out += [
                    "",
                    "Parameters:",
                    "",
                    *_table(
                        ["name", "in", "required", "type", "description"],
                        [
                            [
                                f"`{prm['name']}`",
                                prm["in"],
                                "yes" if prm.get("required") else "no",
                                _type(prm.get("schema", {})),
                                _md(prm.get("description", "")),
                            ]
                            for prm in params
                        ],
                    ),
                ]
            body = op.get("requestBody")
            if body:
                need = "required" if body.get("required") else "optional"
                out += ["", f"Request body ({need}): {_schema_of(body['content'])}."]
            out += [
                "",
                "Responses:",
                "",
                *_table(
                    ["status", "body", "meaning"],
                    [
                        [
                            f"`{status}`",
                            _schema_of(r.get("content", {})) or "none",
                            _md(r.get("description") or HTTPStatus(int(status)).phrase),
                        ]
                        for status, r in op["responses"].items()
                    ],
                ),
            ]
    out += ["", "## Schemas"]
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        out += ["", f"### {name}", ""]
        if component.get("description"):
            out += [_md(component["description"]), ""]
        if "enum" in component:
            out.append(f"A {component.get('type', 'value')}: " + ", ".join(f"`{v}`" for v in component["enum"]) + ".")
            continue
        required = set(component.get("required", []))
        out += _table(
            ["field", "type", "required", "limits", "description"],
            [
                [
                    f"`{prop}`",
                    _type(sub),
                    "yes" if prop in required else "no",
                    _limits(sub),
                    _md(sub.get("description", "")),
                ]
                for prop, sub in component.get("properties", {}).items()
            ],
        )
    return "\n".join(out) + "\n"


def _op_anchor(method: str, path: str) -> str:
    # GitHub's heading anchors: lower case, spaces to "-", punctuation other than "-" and "_" dropped.
    return re.sub(r"[^\w\- ]", "", f"{method} {path}".lower()).replace(" ", "-")


# --- the sandbox -------------------------------------------------------------------------------------------


def _fault_kinds() -> dict[str, str]:
    """Fault kind → what it answers, from the docstring of ``crm_bridge.sandbox.faults``."""
    from crm_bridge.sandbox import faults
    from crm_bridge.sandbox.models import Fault

    described: dict[str, str] = {}
    current = None
    for line in (faults.__doc__ or "").splitlines():
        match = re.match(r"^``(\w+)``\s{2,}(.*)$", line)
        if match:
            current = match.group(1)
            described[current] = match.group(2).strip()
        elif current and line.startswith(" " * 8) and line.strip():
            described[current] += " " + line.strip()
        else:
            current = None
    missing = [k for k in Fault.Kind.values if k not in described]
    if missing:
        raise ValueError(f"crm_bridge/sandbox/faults.py: the docstring does not describe fault kind(s) {missing}")
    return {k: described[k] for k in Fault.Kind.values}


def _control_routes() -> list[tuple[str, str, str]]:
    """(method, path, answer) rows of the table in ``control_views``'s docstring, checked against the
    ``_sandbox/`` routes of ``crm_bridge/sandbox/urls.py``."""
    from crm_bridge.sandbox import control_views, urls

    rows = []
    for line in (control_views.__doc__ or "").splitlines():
        match = re.match(r"^(GET|POST|DELETE|PUT|PATCH)\s+(/_sandbox/\S+)\s+(.*)$", line)
        if match:
            rows.append((match.group(1), match.group(2), match.group(3).strip()))
    routes = {"/" + str(p.pattern) for p in urls.urlpatterns if str(p.pattern).startswith("_sandbox/")}
    documented = {path for _, path, _ in rows}
    if routes != documented:
        raise ValueError(
            f"crm_bridge/sandbox/control_views.py: its docstring's table lists {sorted(documented)}, "
            f"urls.py routes {sorted(routes)}"
        )
    return rows


def _signature(obj: Callable[..., Any], name: str) -> str:
    """``name(params) -> return`` with the annotations as written (they are strings here)."""
    sig = inspect.signature(obj)
    params: list[str] = []
    star = False
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star:
            params.append("*")
            star = True
        if p.kind is p.VAR_POSITIONAL:
            star = True
        prefix = "*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else ""
        text = prefix + p.name
        if p.annotation is not p.empty:
            text += f": {p.annotation if isinstance(p.annotation, str) else inspect.formatannotation(p.annotation)}"
        if p.default is not p.empty:
            text += f" = {_py(p.default)}" if p.annotation is not p.empty else f"={_py(p.default)}"
        params.append(text)
    ret = sig.return_annotation
    tail = "" if ret is sig.empty else f" -> {ret if isinstance(ret, str) else inspect.formatannotation(ret)}"
    return f"{name}({', '.join(params)}){tail}"


def _first_paragraph(doc: str | None) -> str:
    return inspect.cleandoc(doc or "").split("\n\n")[0]


def render_sandbox() -> str:
    setup_django()
    from crm_bridge.crm.spec import ENDPOINTS, ERROR_CODES
    from crm_bridge.sandbox import control

    out = [
        _header(
            "crm_bridge/crm/spec.py (ERROR_CODES) and crm_bridge/sandbox/ (faults.py, control.py, control_views.py,"
            " urls.py)"
        ),
        "# Sandbox reference",
        "",
        f"`crm_bridge.sandbox` emulates the 全程云 CRM Web API: all {len(ENDPOINTS)} `.ashx` handlers, JSON and XML,",
        "with state in its own tables and faults on request. How to run it and use it in tests:",
        "[../sandbox.md](../sandbox.md). Each handler's behaviour, the validation order and the seed data:",
        "[crm_bridge/sandbox/README.md](../../crm_bridge/sandbox/README.md).",
        "",
        "**What it does not emulate** is listed in that README's section",
        '["Features and limitations"](../../crm_bridge/sandbox/README.md#features-and-limitations): it is not the',
        "vendor's server (entity fields, error codes and messages are our reading of the reference), it has no",
        "users, permissions or rate limits, sends no SMS, and drops connections (fault `reset`) only from its own",
        "server.",
        "",
        "## Error codes",
        "",
        "The one table (`crm_bridge.crm.spec.ERROR_CODES`) the sandbox answers with and the client understands;",
        "the client maps any other code by its HTTP status. Errors are JSON",
        '`{"error_code": …, "error": "…", "request": "/WebApi/…/Save.ashx"}` or the same in XML.',
        "",
        *_table(
            ["code", "HTTP", "category", "message"],
            [
                [f"`{e.code}`", str(e.http_status), e.category, f"`{e.message}`"]
                for e in sorted(ERROR_CODES.values(), key=lambda e: e.code)
            ],
        ),
        "",
        "## Faults",
        "",
        _paragraphs(_first_paragraph(control.inject_fault.__doc__)),
        "",
        f"`{_signature(control.inject_fault, 'control.inject_fault')}`",
        "",
        _paragraphs(inspect.cleandoc(control.inject_fault.__doc__ or "").split("\n\n", 1)[-1]),
        "",
        *_table(["kind", "what the request gets"], [[f"`{k}`", _md(v)] for k, v in _fault_kinds().items()]),
        "",
        "## Control API over HTTP",
        "",
        "Every call needs a sandbox token (header `X-Sandbox-Token`, or a `token` field): one the sandbox accepts",
        "now, or one it was configured with. Bodies and answers are JSON; failures use the CRM's error shape",
        "(21301 refused token, 10017 naming a bad field, 10008 a body that is not a JSON object).",
        "",
        *_table(["method", "path", "answer"], [[f"`{m}`", f"`{p}`", _md(a)] for m, p, a in _control_routes()]),
        "",
        "## Control API in Python (`crm_bridge.sandbox.control`)",
        "",
        "It works on the database, so it also steers a sandbox another process serves with the same database.",
        "",
        *_table(
            ["function", "what it does"],
            [
                [f"`{_signature(obj, name)}`", _md(_first_paragraph(obj.__doc__))]
                for name in control.__all__
                if inspect.isfunction(obj := getattr(control, name))
            ],
        ),
    ]
    return "\n".join(out) + "\n"


# --- the widget's attributes, events and JS API ----------------------------------------------------------


@dataclass
class Doc:
    """One doc block of widget/src: ``kind`` is ``attribute``, ``event`` or ``method``."""

    kind: str
    name: str
    source: str
    tags: dict[str, str]
    text: str


_BLOCK = re.compile(r"/\*\*(.*?)\*/", re.S)
_KINDS = ("attribute", "event", "method")


def widget_docs(src: Path | None = None) -> list[Doc]:
    """Every ``@attribute`` / ``@event`` / ``@method`` block in ``widget/src/*.js``, by kind then name."""
    src = src or REPO / "widget" / "src"
    docs: list[Doc] = []
    for path in sorted(src.glob("*.js")):
        for block in _BLOCK.findall(path.read_text(encoding="utf-8")):
            lines = [re.sub(r"^\s*\*?", "", line).rstrip() for line in block.splitlines()]
            lines = [line[1:] if line.startswith(" ") else line for line in lines]
            head = re.match(r"^@(\w+)\s+(.+)$", lines[0].strip()) if lines else None
            if not head or head.group(1) not in _KINDS:
                continue
            tags: dict[str, str] = {}
            text: list[str] = []
            tag = None
            for line in lines[1:]:
                match = re.match(r"^@(\w+)\s+(.*)$", line)
                if match:
                    tag = match.group(1)
                    tags[tag] = match.group(2).strip()
                elif tag and line.startswith("  ") and line.strip():
                    tags[tag] += " " + line.strip()  # a tag's value goes on, indented
                elif line.strip():
                    tag = None
                    text.append(line.strip())
            docs.append(Doc(head.group(1), head.group(2).strip(), path.name, tags, " ".join(text)))
    seen: set[tuple[str, str]] = set()
    for doc in docs:
        if (doc.kind, doc.name) in seen:
            raise ValueError(f"widget/src/{doc.source}: a second @{doc.kind} block for {doc.name}")
        seen.add((doc.kind, doc.name))
        if not doc.text:
            raise ValueError(f"widget/src/{doc.source}: @{doc.kind} {doc.name} says nothing about it")
    # Attributes and methods by name; events in the order they are declared (the order they happen).
    return sorted(docs, key=lambda d: (_KINDS.index(d.kind), "" if d.kind == "event" else d.name))


def _js(text: str) -> str:
    """Doc text as Markdown: element names and selectors as code, so they are not taken for HTML."""
    return _md(re.sub(r"(<[\w-]+>|\[data-crm-[\w-]+\]|\b(?:CRMWidget|crm:)[\w.:]*(?:\([^)]*\))?)", r"`\1`", text))


def render_widget() -> str:
    docs = widget_docs()
    by_kind = {k: [d for d in docs if d.kind == k] for k in _KINDS}
    out = [
        _header("the @attribute, @event and @method comment blocks in widget/src/*.js"),
        "# Widget reference",
        "",
        "The embed code, one script tag per site key (see the [README](../../README.md)):",
        "",
        "```html",
        '<script src="https://www.example.com/static/crm_bridge/widget.js" data-crm-key="pk_…" async></script>',
        "```",
        "",
        "## Attributes",
        "",
        *_table(
            ["attribute", "on", "meaning"],
            [[f"`{d.name}`", _js(d.tags.get("on", "")), _js(d.text)] for d in by_kind["attribute"]],
        ),
        "",
        "## JavaScript API",
        "",
        "`window.CRMWidget`, shared by every copy of the widget on the page (the first loader creates it). Call it",
        "after the script has run (`async` scripts: on `crm:ready`, or check `window.CRMWidget`).",
        "",
        *_table(
            ["call", "returns", "what it does"],
            [[f"`{d.name}`", _js(d.tags.get("returns", "")), _js(d.text)] for d in by_kind["method"]],
        ),
        "",
        "## Events",
        "",
        "`CustomEvent`s that bubble (a listener on `document` hears every form), with the same pushed to the",
        'page\'s `dataLayer` as `{event: "crm:…", ...detail}` when it has one. Details carry ids and states, never',
        "what the visitor typed.",
        "",
        "```js",
        'document.addEventListener("crm:submitted", (e) => console.log(e.detail.kind, e.detail.id, e.detail.status));',
        "```",
        "",
        *_table(
            ["event", "fired on", "detail", "when"],
            [
                [f"`{d.name}`", _js(d.tags.get("target", "")), _js(d.tags.get("detail", "")), _js(d.text)]
                for d in by_kind["event"]
            ],
        ),
    ]
    return "\n".join(out) + "\n"


# --- crm_bridge.testing ------------------------------------------------------------------------------------

EXAMPLE = REPO / "tests" / "test_reference_example.py"


def _constant_comment(module: Any, name: str) -> str:
    """The ``#:`` comment above a module constant."""
    lines = Path(inspect.getfile(module)).read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^{name}\s*[:=]", line):
            block: list[str] = []
            n = i - 1
            while n >= 0 and re.match(r"^[A-Z_]+\s*[:=]", lines[n]):  # declared together: one comment
                n -= 1
            while n >= 0 and lines[n].startswith("#:"):
                block.insert(0, lines[n][2:].strip())
                n -= 1
            return " ".join(block)
    return ""


def render_testing() -> str:
    setup_django()
    from crm_bridge import testing

    out = [
        _header("crm_bridge/testing.py and tests/test_reference_example.py"),
        "# `crm_bridge.testing` reference",
        "",
        _paragraphs(_first_paragraph(testing.__doc__)),
        "",
        "Its public names (`__all__`) are below. The sandbox's own controls",
        "(`crm_bridge.sandbox.control`: `reset`, `inject_fault`, `calls`, `customers` …) are in",
        "[sandbox.md](sandbox.md#control-api-in-python-crm_bridgesandboxcontrol).",
    ]
    constants = []
    for name in testing.__all__:
        obj = getattr(testing, name)
        if callable(obj):
            out += ["", f"## `{name}`", "", "```python", _signature(obj, name), "```", "", _paragraphs(obj.__doc__)]
        else:
            constants.append([f"`{name}`", _code(_py(obj)), _md(_constant_comment(testing, name))])
    if constants:
        out += ["", "## Constants", "", *_table(["name", "value", "meaning"], constants)]
    example = EXAMPLE.read_text(encoding="utf-8")
    out += [
        "",
        "## An integrator's test",
        "",
        "A test as a site using crm_bridge would write it: the sandbox served by pytest-django's `live_server`,",
        "a lead posted to the widget API, delivered in-process, and a fault injected. This is",
        "`tests/test_reference_example.py`, which the suite runs, so it cannot go stale.",
        "",
        "```python",
        example.rstrip("\n"),
        "```",
    ]
    return "\n".join(out) + "\n"


# --- driver ------------------------------------------------------------------------------------------------


def _openapi_json() -> str:
    return json.dumps(widget_schema(), indent=2, ensure_ascii=False) + "\n"


#: Page → its renderer.
PAGES: dict[str, Callable[[], str]] = {
    "settings.md": render_settings,
    "widget-api.md": lambda: render_widget_api(widget_schema()),
    "widget-api.openapi.json": _openapi_json,
    "sandbox.md": render_sandbox,
    "widget.md": render_widget,
    "testing.md": render_testing,
}


def generate() -> dict[str, str]:
    """Every page's text, exactly as it should be committed."""
    setup_django()
    return {name: render() for name, render in PAGES.items()}


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page in docs/reference/ is stale")
    args = parser.parse_args(argv)
    pages = generate()
    stale = []
    for name, text in pages.items():
        target = OUT / name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(target)
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {_shown(target)}")
    if args.check and stale:
        for target in stale:
            print(f"{_shown(target)} is stale: run {COMMAND}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

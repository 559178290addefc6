"""How the spec's endpoints and params are named in Python: the client's group attributes, the generated
classes and the keyword-only method params.

One place for the rules the generated ``endpoints.py`` was written with (by ``tools/codegen.py``, a development
tool that is not shipped) and that the installed package still needs at run time (``manage.py crm describe``
prints each endpoint's Python call).
"""

from __future__ import annotations

import keyword

from .spec import Endpoint, Param

__all__ = ["group_attribute", "group_class_name", "method_params"]


def group_attribute(group: str) -> str:
    """The client attribute for a group: ``CustomerSign`` → ``customersign``."""
    return group.lower()


def group_class_name(group: str) -> str:
    """The class for a group: ``CustomerSign`` → ``CustomerSignAPI``."""
    return f"{group}API"


def method_params(endpoint: Endpoint) -> list[tuple[str, Param]]:
    """``(python keyword, param)`` for the caller's inputs, in the doc's order. A name that is a Python
    keyword gets a trailing underscore; two params mapping to one name is an error (the spec must change)."""
    result: list[tuple[str, Param]] = []
    seen: dict[str, str] = {}
    for param in endpoint.inputs:
        name = param.python_name
        if keyword.iskeyword(name) or name == "self":
            name += "_"
        if name in seen:
            raise ValueError(f"{endpoint.path}: params {seen[name]!r} and {param.name!r} both map to {name!r}")
        seen[name] = param.name
        result.append((name, param))
    return result

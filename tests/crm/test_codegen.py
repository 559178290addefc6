"""The generated typed methods (``crm_bridge/crm/endpoints.py``) against the spec and the generator
(``tools/codegen.py``, a development tool outside the package)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import typing
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from crm_bridge.crm import CRMClient, endpoints, naming, spec
from tools import codegen

REPO = Path(__file__).resolve().parents[2]

ANNOTATION = {
    "string": str,
    "int32": int,
    "datetime": datetime | date | str,
    "json": Mapping[str, Any] | str,
}
RETURNS = {
    "bool": bool,
    "count": int,
    "status": int,
    "int": int,
    "object": dict[str, Any],
    "list": list[dict[str, Any]],
}
GROUP_ATTRIBUTES = [
    "basetype",
    "contacthistory",
    "contactplan",
    "contract",
    "customer",
    "customersign",
    "customertype",
    "ecommerce",
    "linkman",
    "sale",
]
SAMPLE = {"string": "x", "int32": 1, "datetime": "2013-05-05 10:25:30", "json": {"a": 1}}


class Recorder:
    """Stands in for the client: records what a generated method asks it to call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.calls.append((path, dict(params or {})))
        return "sentinel"


@pytest.fixture(scope="module")
def client():
    with CRMClient(base_url="http://127.0.0.1:9/CRM/", token="t") as c:
        yield c


def method_for(client: CRMClient, endpoint: spec.Endpoint):
    return getattr(getattr(client, endpoint.group.lower()), endpoint.python_name)


def test_committed_file_is_the_generators_output():
    pytest.importorskip("ruff")
    committed = codegen.TARGET.read_text(encoding="utf-8")
    assert committed == codegen.generate(), "endpoints.py is stale: run `python -m tools.codegen`"


def test_generated_file_says_so_at_its_top():
    first = Path(endpoints.__file__).read_text(encoding="utf-8").splitlines()[:2]
    assert first == [
        "# File generated from crm_bridge/crm/spec.py (ENDPOINTS) by tools/codegen.py. DO NOT EDIT.",
        "# Change the spec or the generator, then run `python -m tools.codegen` from the repository's root.",
    ]
    assert Path(endpoints.__file__).resolve() == codegen.TARGET


@pytest.mark.parametrize("argv", [["-m", "tools.codegen"], ["tools/codegen.py"]], ids=["module", "script"])
def test_check_mode_passes_on_the_committed_file(argv):
    pytest.importorskip("ruff")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the script finds the repository itself
    if argv[0] == "-m":
        env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(  # noqa: S603 (our interpreter, fixed arguments)
        [sys.executable, *argv, "--check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_check_mode_fails_on_a_stale_file(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ruff")
    stale = tmp_path / "endpoints.py"
    stale.write_text(codegen.TARGET.read_text(encoding="utf-8").replace("DO NOT EDIT", "edited"), encoding="utf-8")
    monkeypatch.setattr(codegen, "TARGET", stale)
    assert codegen.main(["--check"]) == 1
    assert "stale: run python -m tools.codegen" in capsys.readouterr().err


def test_the_package_does_not_ship_the_generator():
    assert not (REPO / "crm_bridge" / "crm" / "codegen.py").exists()
    assert codegen.method_params is naming.method_params  # one naming rule for the generator and the CLI


def test_group_attributes(client):
    assert sorted(endpoints.GROUPS) == GROUP_ATTRIBUTES
    for name, cls in endpoints.GROUPS.items():
        assert type(getattr(client, name)) is cls
    assert {e.group.lower() for e in spec.ENDPOINTS} == set(GROUP_ATTRIBUTES)


def test_every_endpoint_has_one_method(client):
    methods = {
        (attribute, name)
        for attribute, cls in endpoints.GROUPS.items()
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_")
    }
    assert len(methods) == len(spec.ENDPOINTS) == 39
    assert methods == {(e.group.lower(), e.python_name) for e in spec.ENDPOINTS}


@pytest.mark.parametrize("endpoint", spec.ENDPOINTS, ids=lambda e: e.path)
def test_method_signature_annotations_and_docstring(client, endpoint):
    method = method_for(client, endpoint)
    signature = inspect.signature(method)
    params = list(signature.parameters.values())
    hints = typing.get_type_hints(method)

    assert [p.name for p in params] == [p.python_name for p in endpoint.inputs]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    for param, wire in zip(params, endpoint.inputs, strict=True):
        if wire.required:
            assert param.default is inspect.Parameter.empty, param.name
            assert hints[param.name] == ANNOTATION[wire.type], param.name
        else:
            assert param.default is None, param.name
            assert hints[param.name] == ANNOTATION[wire.type] | None, param.name
    assert hints["return"] == RETURNS[endpoint.reply]

    doc = inspect.getdoc(method)
    assert doc.splitlines()[0] == endpoint.summary
    assert f"``{endpoint.path}``" in doc
    for wire in endpoint.inputs:
        assert f"{wire.python_name}: ``{wire.name}`` ({wire.doc_type}, " in doc
    assert "``tran``" not in doc and "``token``: " not in doc
    assert method.__name__ == endpoint.python_name


@pytest.mark.parametrize("endpoint", spec.ENDPOINTS, ids=lambda e: e.path)
def test_each_method_is_one_call_with_wire_names(endpoint):
    recorder = Recorder()
    group = endpoints.GROUPS[endpoint.group.lower()](recorder)
    kwargs = {p.python_name: SAMPLE[p.type] for p in endpoint.inputs}

    assert getattr(group, endpoint.python_name)(**kwargs) == "sentinel"

    assert recorder.calls == [(endpoint.path, {p.name: SAMPLE[p.type] for p in endpoint.inputs})]


def test_optional_params_default_to_none_and_are_passed_as_none():
    recorder = Recorder()
    endpoints.ECommerceAPI(recorder).add_message_board(cust_id=1, content="你好")
    assert recorder.calls == [("ECommerce/AddMessageBoard", {"custID": 1, "content": "你好", "contact": None})]


@pytest.mark.parametrize("endpoint", spec.ENDPOINTS, ids=lambda e: e.path)
def test_no_two_params_share_a_python_name(endpoint):
    names = [p.python_name for p in endpoint.inputs]
    assert len(names) == len(set(names))
    assert [name for name, _ in codegen.method_params(endpoint)] == names


def test_the_briefs_examples(client):
    assert str(inspect.signature(client.customer.name_is_repeat)) == "(*, s_name: 'str', id: 'int') -> 'bool'"
    assert str(inspect.signature(client.linkman.insert_link_man)) == ("(*, man: 'Mapping[str, Any] | str') -> 'bool'")
    assert str(inspect.signature(client.ecommerce.add_message_board)) == (
        "(*, cust_id: 'int', content: 'str', contact: 'str | None' = None) -> 'bool'"
    )


def test_generator_refuses_colliding_names():
    clash = spec.Endpoint(
        path="X/Y",
        summary="s",
        reply="bool",
        params=(spec.Param("custId", "int32", required=True), spec.Param("cust_id", "int32", required=True)),
    )
    with pytest.raises(ValueError, match=r"X/Y: params 'custId' and 'cust_id' both map to 'cust_id'"):
        codegen.method_params(clash)


def test_generator_escapes_python_keywords():
    endpoint = spec.Endpoint(
        path="X/Y", summary="s", reply="bool", params=(spec.Param("class", "string", required=True),)
    )
    assert [name for name, _ in codegen.method_params(endpoint)] == ["class_"]

"""GET widget/v1/schema: the OpenAPI document of the five endpoints (drf-spectacular)."""

from __future__ import annotations

import json

import pytest
from drf_spectacular.validation import validate_schema

from .conftest import BASE

pytestmark = pytest.mark.django_db


def test_schema_documents_exactly_the_widget_endpoints(client):
    r = client.get(BASE + "schema")
    assert r.status_code == 200
    schema = json.loads(r.content)
    validate_schema(schema)
    paths = schema["paths"]
    assert set(paths) == {
        BASE + "config",
        BASE + "messages",
        BASE + "leads",
        BASE + "hits",
        BASE + "submissions/{submission_id}",
    }
    assert set(paths[BASE + "messages"]) == {"post"}
    assert set(paths[BASE + "config"]) == {"get"}
    messages = paths[BASE + "messages"]["post"]
    assert {"202", "400", "403", "413", "415", "422", "429"} <= set(messages["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in messages["parameters"])
    assert set(paths[BASE + "hits"]["post"]["requestBody"]["content"]) == {"application/json", "text/plain"}
    assert any(p["name"] == "key" and p["in"] == "query" for p in paths[BASE + "config"]["get"]["parameters"])
    lead = schema["components"]["schemas"]["Lead"]
    assert set(lead["required"]) == {"key", "name", "tel"}
    assert lead["properties"]["name"]["maxLength"] == 50
    assert lead["properties"]["message"]["maxLength"] == 2000
    # No security schemes: the widget API is unauthenticated by design.
    assert "securitySchemes" not in schema.get("components", {})

"""The OpenAPI document describes every answer of the API (issue 15): a JSON route declares its response model, so
``/openapi.json`` — not a job's ``to_dict()`` — is the contract, and schemathesis (test_openapi_fuzz.py) checks
the answers against it. A route without one documents what its return annotation says, for a job's dict any
object at all (``{"type": "object", "additionalProperties": true}``)."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from serving.app import create_app

PREFIXES = ("/v1/", "/dashboard/api/")
METHODS = {"get", "post", "put", "patch", "delete"}
JSON = "application/json"
# Among them, the answers that were plain dicts before they had a model
TYPED = {
    "GET /v1/attribution",
    "GET /v1/recommendations/audiences",
    "GET /v1/recommendations/budget",
    "GET /v1/recommendations/creatives",
    "GET /v1/reports/effectiveness",
    "GET /v1/reports/campaigns",
    "GET /dashboard/api/trend",
    "GET /dashboard/api/model-health",
}


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        if path.startswith(PREFIXES)
        for method, operation in item.items()
        if method in METHODS
    }


def _object_schema(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema with properties that ``schema`` is or refers to (None for anything else: ``{}``, any
    object)."""
    if "$ref" in schema:
        schema = components[schema["$ref"].removeprefix("#/components/schemas/")]
    return schema if schema.get("type") == "object" and schema.get("properties") else None


def test_every_json_answer_has_a_schema(settings: Settings) -> None:
    document = create_app(settings).openapi()
    components = document["components"]["schemas"]
    operations = _operations(document)
    undescribed, without_answer, with_json = [], [], set()
    for label, operation in operations.items():
        successes = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        if not successes:
            without_answer.append(label)
        for status, response in successes.items():
            content = response.get("content", {})
            if JSON in content:
                with_json.add(label)
                if _object_schema(content[JSON].get("schema", {}), components) is None:
                    undescribed.append(f"{label} → {status}: {content[JSON].get('schema')}")
            elif not content and status != "204":
                without_answer.append(f"{label} → {status}")
    assert not undescribed, "JSON answers without a response model:\n" + "\n".join(undescribed)
    assert not without_answer, "2xx answers that document no content:\n" + "\n".join(without_answer)
    assert with_json >= TYPED, TYPED - with_json
    assert len(with_json) >= 25  # not vacuous: most of the API answers JSON


def test_an_answer_documents_the_keys_a_request_may_add(settings: Settings) -> None:
    """Keys a job writes only for some requests are optional in the schema, never dropped from it."""
    components = create_app(settings).openapi()["components"]["schemas"]
    row = components["EffectivenessRow"]
    assert {"campaign_id", "creative_id", "channel", "segment", "segment_value"} <= set(row["properties"])
    assert "campaign_id" not in row.get("required", []) and "sessions" in row["required"]
    budget = components["BudgetRecommendationOut"]
    assert {"expected_conversions_baseline", "expected_value_baseline"} <= set(budget["properties"])
    move = components["BudgetMove"]
    assert {"from", "to"} <= set(move["required"])  # the JSON's keys, not the Python names

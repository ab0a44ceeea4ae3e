"""OpenAPI pieces for routes that read their body raw (to verify the signature first)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from alpine.validation import OutcomeIn, SignalBatchIn, SignalIn

ERROR_BODY = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "identical signal already stored (`status: duplicate`)"},
    201: {"description": "created"},
    400: {"description": "sha256 does not match the fields", **ERROR_BODY},
    401: {"description": "API key or signature missing or wrong", **ERROR_BODY},
    409: {"description": "same signal_id or sha256 stored with other content", **ERROR_BODY},
    413: {"description": "body larger than ALPINE_MAX_BODY_BYTES", **ERROR_BODY},
    422: {"description": "body is not JSON or a field is invalid", **ERROR_BODY},
    429: {"description": "rate limited; see Retry-After", **ERROR_BODY},
    503: {"description": "database unavailable; retry", **ERROR_BODY},
}


def request_body(model: str) -> dict[str, Any]:
    """`openapi_extra` declaring a JSON body of component `model`."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        }
    }


def document_schemas(app: FastAPI) -> None:
    """Add the body models and Error to the OpenAPI components."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (SignalIn, SignalBatchIn, OutcomeIn):
                doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(doc.pop("$defs", {}))
                components[model.__name__] = doc
            components["Error"] = {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

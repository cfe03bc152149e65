"""The OpenAPI document: every status an operation can answer, in its context's error shape.

Endpoints declare the domain errors they raise (`responses=error_responses(...)`); the statuses
that core itself produces are added here for every operation, so a route added later is
documented with no extra work: 400 (a body that cannot be read), 401 and 403 (an operation
that needs credentials), 413 (a body over the limit), 422 (parameters or a body to validate)
and 429 (rate limiting).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from backoffice.core.auth.dependencies import PLATFORM
from backoffice.core.envelope import ERROR_MODELS, ErrorStyle
from backoffice.core.pagination import SORT_FIELDS
from backoffice.core.ratelimit import EXEMPT_PATHS
from backoffice.core.routing import needs_credentials, route_contexts, security_schemes

CORE_STATUSES = {
    "400": "The body could not be read (not UTF-8, or not the declared content type)",
    "401": "Missing or wrong credentials (`WWW-Authenticate` says which schemes)",
    "403": "The caller's role does not allow this",
    "413": "The body is larger than the limit (`MAX_BODY_BYTES`, 1 MiB by default)",
    "422": "A parameter or the body breaks a rule; `errors` lists each field and reason",
    "429": "Too many requests from this client; `Retry-After` says when to retry",
}


# An operation's rules across fields or against stored rows, which JSON Schema cannot state.
RULES = "x-rules"


def rules_beyond_schema(*rules: str | tuple[str, int], status: int = 422) -> dict[str, Any]:
    """`openapi_extra` for an operation that refuses some schema-valid input, and why.

    The document keeps the rules (`x-rules`, and a line of the description each), so a client
    knows them and the fuzz run expects their statuses for such input there, and nowhere else.
    A rule is refused with `status`, or with its own when given as `(rule, status)` (a seed
    route that keeps its original's status).
    """
    said = [rule if isinstance(rule, str) else f"{rule[0]} ({rule[1]})" for rule in rules]
    statuses = sorted({status, *(rule[1] for rule in rules if not isinstance(rule, str))})
    return {RULES: {"status": status, "statuses": statuses, "rules": said}}


def install_openapi(app: FastAPI) -> None:
    """Serve the document built by `build_openapi` (once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with security schemes and every status core can answer."""
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {})
    documented = components["securitySchemes"] = {
        scheme.name: dict(scheme.definition) for scheme in PLATFORM
    }
    schemas = components.setdefault("schemas", {})
    for model in ERROR_MODELS.values():
        _add_component(schemas, model)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schema["security"] = [{scheme.name: []} for scheme in PLATFORM]
    _document_no_nul(schema)
    styles: dict[int, ErrorStyle] = getattr(app.state, "error_styles", {})
    for served in route_contexts(app):
        route = served.original_route
        if isinstance(route, APIRoute) and served.include_in_schema and served.path_format:
            style = styles.get(id(route), ErrorStyle.ENVELOPE)
            schemes = security_schemes(route)
            documented.update((scheme.name, dict(scheme.definition)) for scheme in schemes)
            for method in served.methods or ():
                operation = schema["paths"][served.path_format][method.lower()]
                # Each operation says which schemes it takes: none, the platform's, a context's.
                operation["security"] = [{scheme.name: []} for scheme in schemes]
                _document_core_statuses(operation, served.path_format, route, style)
    return schema


# What `core.routing` refuses in every string of a request, said where a schema says nothing.
NO_NUL = "^[^\\x00]*$"


# Any JSON value without a NUL in a string or a key: what an object that ignores unknown
# properties (a seed contract's body) admits in them.
ANY_JSON = "JsonWithoutNul"
_ANY_JSON_REF = {"$ref": f"#/components/schemas/{ANY_JSON}"}


def _document_no_nul(document: dict[str, Any]) -> None:
    """Give every request string without a pattern, format or enum the pattern `NO_NUL`.

    NUL is refused in the path, the query and every string of a JSON body, unknown properties
    included; a schema that admitted it would promise what the API refuses. Schemas shared with
    responses get it too: nothing stored can hold a NUL.
    """
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components[ANY_JSON] = {
        "description": "Any JSON value; no string in it (keys included) holds a NUL",
        "anyOf": [
            {"type": "string", "pattern": NO_NUL},
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": _ANY_JSON_REF},
            {
                "type": "object",
                "propertyNames": {"pattern": NO_NUL},
                "additionalProperties": _ANY_JSON_REF,
            },
        ],
    }
    seen: set[str] = {ANY_JSON}

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                visit(components.get(name))
        if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(node):
            node["pattern"] = NO_NUL
        if node.get("type") == "object" and node.get("additionalProperties", True) is True:
            node["propertyNames"] = {"pattern": NO_NUL}
            node["additionalProperties"] = dict(_ANY_JSON_REF)
        for key, value in list(node.items()):
            if key not in ("$ref", "example", "examples", "default", "enum", "const"):
                visit(value)

    for item in document.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                visit(parameter.get("schema"))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                visit(media.get("schema"))


def _not_nullable(parameter: dict[str, Any]) -> None:
    """A path or query parameter is absent or a value, never null: drop pydantic's null branch."""
    schema = parameter["schema"]
    branches = schema.get("anyOf")
    if not branches or {"type": "null"} not in branches:
        return
    kept = [b for b in branches if b != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    parameter["schema"] = {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}


def _sort_as_enum(parameter: dict[str, Any]) -> None:
    """`sort=a,-b`: an array of whitelisted fields, comma-separated (form, not exploded)."""
    schema = parameter["schema"]
    fields = schema.pop(SORT_FIELDS, None)
    if fields is None:
        return
    default = schema.get("default")
    parameter["schema"] = {
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "enum": [v for f in fields for v in (f, f"-{f}")]},
        **({"default": default.split(",")} if default else {}),
    }
    parameter["style"] = "form"
    parameter["explode"] = False


def _add_component(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    document = model.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    schemas.update(document.pop("$defs", {}))
    schemas[model.__name__] = document


def _document_core_statuses(
    operation: dict[str, Any], path: str, route: APIRoute, style: ErrorStyle
) -> None:
    for parameter in operation.get("parameters", []):
        _not_nullable(parameter)
        _sort_as_enum(parameter)
    authenticated = needs_credentials(route)
    validated = bool(operation.get("parameters")) or "requestBody" in operation
    statuses = {
        "400": "requestBody" in operation,
        "401": authenticated,
        "403": authenticated,
        "413": "requestBody" in operation,
        "422": validated,
        "429": path not in EXEMPT_PATHS,
    }
    rules = operation.get(RULES)
    if rules:
        said = "\n".join(f"- {rule}" for rule in rules["rules"])
        refused = " or ".join(str(status) for status in rules["statuses"])
        intro = f"Refused with a {refused} although the schema admits it:"
        operation["description"] = f"{operation.get('description', '')}\n\n{intro}\n{said}".strip()
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, applies in statuses.items():
        if applies:
            responses.setdefault(status, {"description": CORE_STATUSES[status]})
    error_schema = {"$ref": f"#/components/schemas/{ERROR_MODELS[style].__name__}"}
    for status, response in responses.items():
        if status[0] in "45":
            response["content"] = {"application/json": {"schema": error_schema}}

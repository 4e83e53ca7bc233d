"""Structured output: check a requested JSON Schema, and validate what an engine wrote against it."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as JsonSchemaError

from loreweave.serve.errors import BadRequest, InvalidOutput


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def _key(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)


def check_schema(schema: dict[str, Any]) -> None:
    """Refuse a schema that is not valid JSON Schema (draft 2020-12).

    Raises:
        BadRequest: naming ``json_schema`` and the problem.
    """
    try:
        Draft202012Validator.check_schema(schema)
    except JsonSchemaError as exc:
        raise BadRequest("json_schema", f"is not a valid JSON Schema: {exc.message}") from None
    if schema.get("type") not in (None, "object"):
        raise BadRequest("json_schema", f"must describe an object, got type {schema.get('type')!r}")


def parse_output(text: str, schema: dict[str, Any]) -> Any:
    """Parse ``text`` as JSON and validate it against ``schema``; return the value.

    Raises:
        InvalidOutput: naming the failing JSON path and why.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidOutput("output", f"is not JSON: {exc.msg} at {exc.pos}") from None
    error = next(iter(_validator(_key(schema)).iter_errors(value)), None)
    if error is not None:
        where = ".".join(["output", *(str(part) for part in error.absolute_path)])
        raise InvalidOutput(where, error.message)
    return value

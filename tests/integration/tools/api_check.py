#!/usr/bin/env python3
"""Checks a logwarden query API response against docs/openapi.json.

usage: api_check.py OPENAPI METHOD PATH_TEMPLATE STATUS < body.json
Finds the operation PATH_TEMPLATE/METHOD, its response schema for STATUS, turns the OpenAPI 3.0
schema into JSON Schema (nullable -> a null type, $ref resolved against components) and
validates the body with jsonschema. Exit 0 valid, 1 invalid (the reason on stderr), 77 when
python3-jsonschema is missing.
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("skip: python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(77)


def convert(node, comps):
    if isinstance(node, list):
        return [convert(x, comps) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return convert(comps[name], comps)
    out = {k: convert(v, comps) for k, v in node.items() if k not in ("nullable", "format")}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
        if "type" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def main():
    spec_path, method, path, status = sys.argv[1:5]
    spec = json.load(open(spec_path))
    op = spec["paths"][path][method.lower()]
    resp = op["responses"].get(status)
    if resp is None:
        print(f"{method} {path}: status {status} is not documented", file=sys.stderr)
        return 1
    body = sys.stdin.read()
    if "content" not in resp:
        if body.strip():
            print(f"{method} {path} {status}: documented without a body", file=sys.stderr)
            return 1
        return 0
    schema = convert(resp["content"]["application/json"]["schema"],
                     spec["components"]["schemas"])
    try:
        jsonschema.validate(json.loads(body), schema)
    except (jsonschema.ValidationError, json.JSONDecodeError) as e:
        print(f"{method} {path} {status}: {str(e)[:800]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

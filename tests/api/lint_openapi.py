#!/usr/bin/env python3
"""Lints host/api/openapi.json: valid OpenAPI 3.1 and the project's own rules.

1. The document validates against the OpenAPI Initiative's JSON Schema of OAS 3.1
   (iteration 2022-10-07, vendored in vendor/oas-3.1/, see its README), with
   python3-jsonschema's Draft 2020-12 validator.
2. What that schema cannot see:
   - every "$ref" in the document resolves to a node of the document;
   - every Schema Object is a valid JSON Schema 2020-12 schema;
   - every operation has a unique operationId and an x-crm-scope of none, read,
     write or admin; its security matches the scope (none: [], otherwise the
     bearer scheme with that scope); scoped operations answer 401 and 403;
   - every path template parameter is declared as a path parameter, and back;
   - every 4xx/5xx JSON answer is application/problem+json with ProblemDetails;
   - operations that take a JSON body answer 400, 413 and 415.

Usage: lint_openapi.py [--document FILE]   (exit 0 when clean; problems on stderr)
       lint_openapi.py --self-test         (the checks find what they look for)
"""

import argparse
import copy
import json
import pathlib
import re
import sys
import unittest

try:
    import jsonschema
except ImportError:  # pragma: no cover - the message is the point
    sys.exit("lint_openapi.py: python3-jsonschema is missing: install Debian's python3-jsonschema (scripts/lib.sh does)")

HERE = pathlib.Path(__file__).resolve().parent
SOURCE_DIR = HERE.parent.parent
DEFAULT_DOCUMENT = SOURCE_DIR / "host" / "api" / "openapi.json"
OAS_SCHEMA = HERE / "vendor" / "oas-3.1" / "schema-2022-10-07.json"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SCOPES = ("none", "read", "write", "admin")
SECURITY_SCHEME = "bearerAuth"


def resolve_pointer(document, ref):
    """The node a local reference ("#/a/b") names, or raises KeyError naming it."""
    if not ref.startswith("#"):
        raise KeyError(f"{ref}: only references inside the document are used here")
    node = document
    pointer = ref[1:]
    if pointer in ("", "/"):
        return node
    for raw in pointer.lstrip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise KeyError(f"{ref}: no '{token}'")
    return node


def walk(node, where="#"):
    """Every (location, dict) in the document, depth first."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}/{index}")


def deref(document, node):
    while isinstance(node, dict) and "$ref" in node:
        node = resolve_pointer(document, node["$ref"])
    return node


def schema_objects(document):
    """(location, schema) of every Schema Object the document holds at the top of a schema."""
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        yield f"#/components/schemas/{name}", schema
    for where, node in walk(document):
        if "/components/schemas/" in where:
            continue
        if isinstance(node.get("schema"), (dict, bool)) and ("in" in node or "/content/" in where + "/"):
            yield f"{where}/schema", node["schema"]
        elif isinstance(node.get("schema"), (dict, bool)) and "/headers/" in where:
            yield f"{where}/schema", node["schema"]


def operations(document):
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item, item[method]


def lint(document, oas_schema):
    """The document's problems, as sentences naming where."""
    problems = []
    validator = jsonschema.Draft202012Validator(oas_schema)
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        location = "/".join(str(part) for part in error.absolute_path)
        problems.append(f"OAS 3.1 schema: at '{location}': {error.message[:300]}")

    for where, node in walk(document):
        ref = node.get("$ref")
        if isinstance(ref, str):
            try:
                resolve_pointer(document, ref)
            except KeyError as missing:
                problems.append(f"{where}: $ref does not resolve: {missing}")

    for where, schema in schema_objects(document):
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as error:
            problems.append(f"{where}: not a valid JSON Schema 2020-12 schema: {error.message[:300]}")

    schemes = document.get("components", {}).get("securitySchemes", {})
    scheme = schemes.get(SECURITY_SCHEME, {})
    if scheme.get("type") != "http" or scheme.get("scheme") != "bearer":
        problems.append(f"components/securitySchemes/{SECURITY_SCHEME}: must be an http bearer scheme")

    seen_ids = {}
    for path, method, item, operation in operations(document):
        name = f"{method.upper()} {path}"
        op_id = operation.get("operationId")
        if not op_id:
            problems.append(f"{name}: no operationId")
        elif op_id in seen_ids:
            problems.append(f"{name}: operationId '{op_id}' is also {seen_ids[op_id]}'s")
        else:
            seen_ids[op_id] = name
        scope = operation.get("x-crm-scope")
        if scope not in SCOPES:
            problems.append(f"{name}: x-crm-scope is {scope!r}, not one of {', '.join(SCOPES)}")
        security = operation.get("security")
        if scope == "none":
            if security != []:
                problems.append(f"{name}: scope none must declare security [] (it overrides the document's)")
        elif scope in SCOPES:
            if security != [{SECURITY_SCHEME: [scope]}]:
                problems.append(f"{name}: security must be [{{'{SECURITY_SCHEME}': ['{scope}']}}] for scope {scope}")
        responses = operation.get("responses", {})
        if scope in ("read", "write", "admin"):
            for status in ("401", "403"):
                if status not in responses:
                    problems.append(f"{name}: scope {scope} but no {status} answer")
        if not any(status.startswith("2") for status in responses):
            problems.append(f"{name}: no 2xx answer")

        declared = set()
        for parameter in item.get("parameters", []) + operation.get("parameters", []):
            parameter = deref(document, parameter)
            if parameter.get("in") == "path":
                declared.add(parameter.get("name"))
                if parameter.get("required") is not True:
                    problems.append(f"{name}: path parameter '{parameter.get('name')}' must be required")
        templated = set(re.findall(r"{([^}]+)}", path))
        for missing in sorted(templated - declared):
            problems.append(f"{name}: path parameter '{missing}' is not declared")
        for extra in sorted(declared - templated):
            problems.append(f"{name}: parameter '{extra}' is declared in path but the path has no {{{extra}}}")

        body = deref(document, operation.get("requestBody", {}))
        if "application/json" in body.get("content", {}):
            for status in ("400", "413", "415"):
                if status not in responses:
                    problems.append(f"{name}: takes a JSON body but has no {status} answer")

        for status, response in responses.items():
            response = deref(document, response)
            content = response.get("content", {})
            if status[0] in "45":
                if "application/json" in content:
                    problems.append(f"{name}: answer {status} is application/json; errors are application/problem+json")
                problem = content.get("application/problem+json")
                if problem is not None and problem.get("schema") != {"$ref": "#/components/schemas/ProblemDetails"}:
                    problems.append(f"{name}: answer {status} must use the ProblemDetails schema")
                if not content:
                    problems.append(f"{name}: answer {status} has no body")
            elif status in ("200", "201", "202") and not content:
                problems.append(f"{name}: answer {status} has no content")
            elif status == "204" and content:
                problems.append(f"{name}: answer 204 has content")
    return problems


def load(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


class LintFindsWhatItLooksFor(unittest.TestCase):
    """The checks fail on documents with the faults they look for (and pass the real one)."""

    @classmethod
    def setUpClass(cls):
        cls.oas = load(OAS_SCHEMA)
        cls.document = load(DEFAULT_DOCUMENT)

    def problems_after(self, change):
        document = copy.deepcopy(self.document)
        change(document)
        return "\n".join(lint(document, self.oas))

    def test_the_document_is_clean(self):
        self.assertEqual(lint(self.document, self.oas), [])

    def test_the_oas_schema_refuses_a_parameter_in_no_known_place(self):
        def change(document):
            document["paths"]["/api/v1/alerts"]["get"]["parameters"][0]["in"] = "body"
        self.assertIn("OAS 3.1 schema", self.problems_after(change))

    def test_a_dangling_ref(self):
        def change(document):
            document["paths"]["/api/v1/alerts"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
                "$ref": "#/components/schemas/NoSuchThing"}
        self.assertIn("$ref does not resolve", self.problems_after(change))

    def test_an_invalid_schema(self):
        def change(document):
            document["components"]["schemas"]["Alert"]["properties"]["id"] = {"type": "integr"}
        self.assertIn("not a valid JSON Schema 2020-12 schema", self.problems_after(change))

    def test_an_operation_without_operation_id_or_scope(self):
        def change(document):
            del document["paths"]["/api/v1/alerts"]["get"]["operationId"]
            del document["paths"]["/api/v1/runs"]["get"]["x-crm-scope"]
        problems = self.problems_after(change)
        self.assertIn("GET /api/v1/alerts: no operationId", problems)
        self.assertIn("GET /api/v1/runs: x-crm-scope is None", problems)

    def test_a_duplicate_operation_id(self):
        def change(document):
            document["paths"]["/api/v1/runs"]["get"]["operationId"] = "listAlerts"
        self.assertIn("operationId 'listAlerts' is also", self.problems_after(change))

    def test_a_scoped_operation_without_401_or_403(self):
        def change(document):
            del document["paths"]["/api/v1/tokens"]["get"]["responses"]["403"]
        self.assertIn("GET /api/v1/tokens: scope admin but no 403 answer", self.problems_after(change))

    def test_security_that_disagrees_with_the_scope(self):
        def change(document):
            document["paths"]["/api/v1/tokens"]["get"]["security"] = [{SECURITY_SCHEME: ["read"]}]
        self.assertIn("GET /api/v1/tokens: security must be", self.problems_after(change))

    def test_an_undeclared_path_parameter(self):
        def change(document):
            document["paths"]["/api/v1/alerts/{id}"]["get"]["parameters"] = []
        self.assertIn("path parameter 'id' is not declared", self.problems_after(change))

    def test_an_error_that_is_not_a_problem(self):
        def change(document):
            document["paths"]["/api/v1/alerts/{id}"]["get"]["responses"]["404"] = {
                "description": "x", "content": {"application/json": {"schema": {"type": "object"}}}}
        self.assertIn("errors are application/problem+json", self.problems_after(change))

    def test_a_json_body_without_413(self):
        def change(document):
            del document["paths"]["/api/v1/events"]["post"]["responses"]["413"]
        self.assertIn("POST /api/v1/events: takes a JSON body but has no 413 answer", self.problems_after(change))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--document", default=str(DEFAULT_DOCUMENT))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        program = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
        return 0 if program.result.wasSuccessful() else 1
    problems = lint(load(args.document), load(OAS_SCHEMA))
    for problem in problems:
        print(f"{args.document}: {problem}", file=sys.stderr)
    count = sum(1 for _ in operations(load(args.document)))
    if problems:
        print(f"{len(problems)} problem(s) in {args.document}", file=sys.stderr)
        return 1
    print(f"{args.document}: valid OpenAPI 3.1 ({count} operations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Validate the requests a connector sends against a CRM's official OpenAPI 3.0 files.

Fakes call `OpenApiValidator.validate(request)` on every request they serve and
reply 400 with the problems it returns, so a connector test fails loudly when
the connector sends something the real API would reject.

Official specs are not part of this repository. They are found through the
`LEADSCORE_SPECS_DIR` environment variable, else in `<repo>/../shared/specs`.
When they are absent, `load_validator` returns None and fakes skip validation;
tests that exist only to check spec conformance call `require_validator`,
which skips them.

Request bodies are checked with `jsonschema` (Draft 4 rules, which OpenAPI 3.0
schemas follow, after turning `nullable: true` into a `null` type). The specs
are known to be wrong in places, so callers pass `Patch` edits applied at load
time, and `path_aliases` that map a path the API accepts onto the one the spec
documents.

openapi-core loads the HubSpot specs too, but it brings about twenty packages
(Werkzeug, PyYAML, openapi-spec-validator and others) for what is here a path
matcher, a parameter check and one `jsonschema` call per body.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import pytest
import referencing
import referencing.jsonschema
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def specs_dir() -> Path | None:
    """Return the directory of the official specs, or None when it is absent."""
    configured = os.environ.get("LEADSCORE_SPECS_DIR")
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared" / "specs"
    return candidate if candidate.is_dir() else None


@dataclass(frozen=True, slots=True)
class Patch:
    """One edit to a loaded spec, addressed by a JSON pointer (`/components/schemas/X`).

    `op` is `replace` or `add` (set the value), `remove` (delete the key or list
    item) or `merge` (update a mapping). `file` limits the patch to one spec
    file by name; without it the patch applies to every file where the parent
    of the pointer exists. A patch that applies nowhere raises, so a patch
    never silently goes stale when the spec is updated.
    """

    pointer: str
    op: str = "replace"
    value: Any = None
    file: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented operation, found for a request."""

    method: str
    template: str
    spec_file: Path
    definition: Mapping[str, Any]
    path_params: Mapping[str, str]
    parameters: tuple[Mapping[str, Any], ...] = ()

    @property
    def operation_id(self) -> str | None:
        return self.definition.get("operationId")

    def scopes(self) -> tuple[str, ...]:
        """Return the OAuth scopes the `security` block lists (any one suffices)."""
        found: list[str] = []
        for requirement in self.definition.get("security") or ():
            for scopes in requirement.values():
                found.extend(scope for scope in scopes if scope not in found)
        return tuple(found)


@dataclass
class _Route:
    method: str
    template: str
    regex: re.Pattern[str]
    literal_length: int
    spec_file: Path
    definition: Mapping[str, Any]
    parameters: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)


def _split_pointer(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer must start with '/', got {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _resolve_parent(document: Any, parts: list[str]) -> Any:
    node = document
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _apply_patch(document: Any, patch: Patch) -> bool:
    parts = _split_pointer(patch.pointer)
    parent = _resolve_parent(document, parts)
    if parent is None:
        return False
    key: Any = parts[-1]
    if isinstance(parent, list):
        key = len(parent) if key == "-" else int(key)
    if patch.op in ("replace", "add"):
        if isinstance(parent, list) and key == len(parent):
            parent.append(copy.deepcopy(patch.value))
        else:
            parent[key] = copy.deepcopy(patch.value)
        return True
    if patch.op == "remove":
        if isinstance(parent, dict) and key not in parent:
            return False
        del parent[key]
        return True
    if patch.op == "merge":
        target = parent.get(key) if isinstance(parent, dict) else parent[key]
        if not isinstance(target, dict):
            return False
        target.update(copy.deepcopy(patch.value))
        return True
    raise ValueError(f"unknown patch op {patch.op!r}: use replace, add, remove or merge")


def _openapi_to_jsonschema(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 schema keywords that Draft 4 reads differently, in place."""
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        for value in node.values():
            _openapi_to_jsonschema(value)
    elif isinstance(node, list):
        for item in node:
            _openapi_to_jsonschema(item)
    return node


def _template_regex(template: str) -> tuple[re.Pattern[str], int]:
    pattern = ""
    literal = 0
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{") and piece.endswith("}"):
            pattern += f"(?P<{_group_name(piece[1:-1])}>[^/]+)"
        else:
            pattern += re.escape(piece)
            literal += len(piece)
    return re.compile(f"^{pattern}/?$"), literal


def _group_name(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


class OpenApiValidator:
    """Find the documented operation for a request and list what is wrong with it."""

    def __init__(
        self,
        files: Iterable[Path],
        *,
        patches: Sequence[Patch] = (),
        path_aliases: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._documents: dict[Path, dict] = {}
        pending = [Path(path).resolve() for path in files]
        while pending:
            path = pending.pop()
            if path in self._documents:
                continue
            document = json.loads(path.read_text(encoding="utf-8"))
            self._documents[path] = document
            pending.extend(self._referenced_files(path, document))

        for patch in patches:
            applied = False
            for path, document in self._documents.items():
                if patch.file is not None and path.name != patch.file:
                    continue
                applied = _apply_patch(document, patch) or applied
            if not applied:
                raise ValueError(f"spec patch {patch.op} {patch.pointer} matched no spec file")

        for document in self._documents.values():
            _openapi_to_jsonschema(document)

        self._registry = referencing.Registry().with_resources(
            (path.as_uri(), referencing.jsonschema.DRAFT4.create_resource(document))
            for path, document in self._documents.items()
        )
        # Validators by the identity of their schema, which lives as long as the documents.
        self._validators: dict[int, jsonschema.Validator] = {}
        self._aliases = [
            (re.compile(pattern), replacement) for pattern, replacement in path_aliases
        ]
        self._routes = self._build_routes(files)

    @staticmethod
    def _referenced_files(path: Path, document: Any) -> list[Path]:
        found: list[Path] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and not ref.startswith("#"):
                    target = ref.split("#", 1)[0]
                    if target and "://" not in target:
                        found.append((path.parent / target).resolve())
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(document)
        return found

    def _build_routes(self, files: Iterable[Path]) -> list[_Route]:
        routes: list[_Route] = []
        for path in (Path(file).resolve() for file in files):
            document = self._documents[path]
            for template, item in (document.get("paths") or {}).items():
                shared = tuple(self._deref(path, p) for p in item.get("parameters") or ())
                for method in HTTP_METHODS:
                    definition = item.get(method)
                    if definition is None:
                        continue
                    own = tuple(self._deref(path, p) for p in definition.get("parameters") or ())
                    own_keys = {(p.get("in"), p.get("name")) for p in own}
                    merged = own + tuple(
                        p for p in shared if (p.get("in"), p.get("name")) not in own_keys
                    )
                    regex, literal = _template_regex(template)
                    routes.append(
                        _Route(method.upper(), template, regex, literal, path, definition, merged)
                    )
        # The most literal template wins: `/contacts/search` before `/contacts/{id}`.
        routes.sort(key=lambda route: -route.literal_length)
        return routes

    def _deref(self, base: Path, node: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while isinstance(node, Mapping) and "$ref" in node and seen < 20:
            resolved = self._registry.resolver(base_uri=base.as_uri()).lookup(node["$ref"])
            node = resolved.contents
            seen += 1
        return node

    def find_operation(self, method: str, path: str) -> Operation | None:
        """Return the operation documented for `method` and `path`, or None."""
        for pattern, replacement in self._aliases:
            path = pattern.sub(replacement, path)
        method = method.upper()
        for route in self._routes:
            if route.method != method:
                continue
            match = route.regex.match(path)
            if match is None:
                continue
            names = re.findall(r"\{([^}]+)\}", route.template)
            params = {name: match.group(_group_name(name)) for name in names}
            return Operation(
                method=method,
                template=route.template,
                spec_file=route.spec_file,
                definition=route.definition,
                path_params=params,
                parameters=route.parameters,
            )
        return None

    def validate(self, request: requests.PreparedRequest, *, base_path: str = "") -> list[str]:
        """Return every way `request` breaks the spec; an empty list means it conforms."""
        url = urlsplit(request.url or "")
        path = url.path
        if base_path and path.startswith(base_path):
            path = path[len(base_path) :] or "/"
        method = (request.method or "GET").upper()
        operation = self.find_operation(method, path)
        if operation is None:
            return [f"{method} {path}: no operation in the spec matches this method and path"]

        where = f"{method} {operation.template}"
        problems: list[str] = []
        query: dict[str, list[str]] = {}
        for key, value in parse_qsl(url.query, keep_blank_values=True):
            query.setdefault(key, []).append(value)
        headers = {key.lower(): value for key, value in (request.headers or {}).items()}

        documented_query: set[str] = set()
        for parameter in operation.parameters:
            location = parameter.get("in")
            name = parameter.get("name", "")
            schema = parameter.get("schema") or {}
            if location == "path":
                value = operation.path_params.get(name)
                values = [value] if value is not None else []
            elif location == "query":
                documented_query.add(name)
                values = query.get(name, [])
            elif location == "header":
                value = headers.get(name.lower())
                values = [value] if value is not None else []
            else:
                continue
            if not values:
                if parameter.get("required"):
                    problems.append(f"{where}: missing required {location} parameter {name!r}")
                continue
            for value in values:
                problems.extend(
                    f"{where}: {location} parameter {name!r}: {message}"
                    for message in self._check_parameter(operation.spec_file, schema, value)
                )

        for name in query:
            if name not in documented_query:
                problems.append(f"{where}: query parameter {name!r} is not documented")

        problems.extend(self._check_body(operation, request, headers, where))
        return problems

    def _check_parameter(self, base: Path, schema: Mapping[str, Any], raw: str) -> list[str]:
        schema = self._deref(base, schema)
        kind = schema.get("type")
        value: Any = raw
        if kind == "integer":
            if not re.fullmatch(r"-?\d+", raw):
                return [f"expected an integer, got {raw!r}"]
            value = int(raw)
        elif kind == "number":
            try:
                value = float(raw)
            except ValueError:
                return [f"expected a number, got {raw!r}"]
        elif kind == "boolean":
            if raw not in ("true", "false"):
                return [f"expected true or false, got {raw!r}"]
            value = raw == "true"
        elif kind == "array":
            value = raw.split(",") if raw else []
        return self._schema_errors(base, schema, value)

    def _check_body(
        self,
        operation: Operation,
        request: requests.PreparedRequest,
        headers: Mapping[str, str],
        where: str,
    ) -> list[str]:
        body_spec = self._deref(operation.spec_file, operation.definition.get("requestBody") or {})
        raw = request.body
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        if not body_spec:
            return [f"{where}: the operation takes no request body"] if raw else []
        if not raw:
            return [f"{where}: missing required request body"] if body_spec.get("required") else []

        content = body_spec.get("content") or {}
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        media = content.get(content_type)
        if media is None:
            wildcard = [key for key in content if key.endswith("/*") or key == "*/*"]
            if not wildcard:
                expected = ", ".join(sorted(content)) or "none"
                return [
                    f"{where}: content type {content_type!r} not accepted (expected {expected})"
                ]
            media = content[wildcard[0]]

        if content_type == "application/json":
            try:
                value: Any = json.loads(raw)
            except ValueError as exc:
                return [f"{where}: request body is not valid JSON: {exc}"]
        elif content_type == "application/x-www-form-urlencoded":
            value = dict(parse_qsl(raw, keep_blank_values=True))
        else:
            return []
        schema = media.get("schema")
        if schema is None:
            return []
        return [
            f"{where}: body {message}"
            for message in self._schema_errors(operation.spec_file, schema, value)
        ]

    def _schema_errors(self, base: Path, schema: Mapping[str, Any], value: Any) -> list[str]:
        validator = self._validators.get(id(schema))
        if validator is None:
            validator = self._build_validator(base, schema)
            self._validators[id(schema)] = validator
        messages = []
        for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
            location = "/".join(str(part) for part in error.absolute_path) or "(root)"
            messages.append(f"at {location}: {error.message}")
        return messages

    def _build_validator(self, base: Path, schema: Mapping[str, Any]) -> jsonschema.Validator:
        resolver_schema = dict(schema)
        if "$ref" in resolver_schema and not resolver_schema["$ref"].startswith(("file:", "http")):
            reference = resolver_schema["$ref"]
            if reference.startswith("#"):
                resolver_schema["$ref"] = base.as_uri() + reference
            else:
                resolver_schema["$ref"] = (base.parent / reference).resolve().as_uri()
        # Draft 4 takes the base URI from `id`, so relative `#/components/...`
        # references inside an inline schema resolve against its spec file.
        resolver_schema.setdefault("id", base.as_uri())
        return jsonschema.Draft4Validator(resolver_schema, registry=self._registry)


def load_validator(
    crm_dir: str,
    files: Sequence[str],
    *,
    patches: Sequence[Patch] = (),
    path_aliases: Sequence[tuple[str, str]] = (),
) -> OpenApiValidator | None:
    """Load the named spec files under `<specs>/<crm_dir>`, or return None when specs are absent."""
    root = specs_dir()
    if root is None:
        return None
    paths = [root / crm_dir / name for name in files]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        return None
    return OpenApiValidator(paths, patches=patches, path_aliases=path_aliases)


def require_validator(validator: OpenApiValidator | None) -> OpenApiValidator:
    """Return `validator`, or skip the calling test when the specs are absent."""
    if validator is None:
        pytest.skip("official OpenAPI specs not found: set LEADSCORE_SPECS_DIR")
    return validator


def problems_response_body(problems: Sequence[str]) -> dict[str, Any]:
    """Build the 400 body a fake returns for a request that breaks the spec."""
    return {
        "status": "error",
        "message": "Request does not match the OpenAPI spec: " + "; ".join(problems),
        "category": "VALIDATION_ERROR",
        "errors": [{"message": problem} for problem in problems],
    }

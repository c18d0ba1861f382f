"""The OpenAPI 3.1 description of the console's JSON API, served at ``/api/openapi.json`` (no
login: it holds no data)."""

from __future__ import annotations

from typing import Any

from toolchain_sdk._version import version

__all__ = ["openapi_document"]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_ERRORS = {
    "401": _error("no bearer token, or one that is not valid (a removed user's token included)"),
    "403": _error("the token's user has the wrong role"),
    "429": _error("this client failed 10 times in the last minute; see Retry-After"),
}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _decide(verb: str, summary: str, body: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "description": "Reviewers only. The approver recorded is the token's user. Bound to the request id and "
            "its subject hash: send subject_sha256 to refuse a request that changed since you read it.",
            "operationId": f"{verb}Approval",
            "parameters": [{"$ref": "#/components/parameters/Id"}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
            },
            "responses": {
                "200": _ok("Approval", "the request as stored after the decision"),
                **_ERRORS,
                "404": _error("no request with this id"),
                "409": _error(
                    "the request is no longer pending (decided, timed out, cancelled), expired, changed, "
                    "or its caller is gone"
                ),
                "422": _error("a missing or blank reason, or an edit that does not fit the output's type"),
            },
        }
    }


def _flag(verb: str, summary: str) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": _ok("FlagEntry", "the entry as now stored (restore: the removed entry, state 'restored')"),
        **_ERRORS,
        "422": _error("a missing or blank reason or pattern, or a bad ttl"),
    }
    if verb == "restore":
        responses["404"] = _error("no flag-file entry with exactly this pattern")
    return {
        "post": {
            "summary": summary,
            "description": "Flag owners only. Written through the same flag-file code as `toolchain kill` (locked, "
            "atomic, change-logged); the changer recorded is the token's user.",
            "operationId": f"{verb}Flag",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FlagChange"}}},
            },
            "responses": responses,
        }
    }


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document."""
    nullable = {"type": ["string", "null"]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "toolchain console API",
            "version": version(),
            "description": "Approvals and kill switches for bots and scripts. Authenticate with "
            "`Authorization: Bearer <token>` (from `toolchain console users add`); a session cookie grants nothing "
            'here. Lists are {"items": [...]}; errors are {"error": "message"}.',
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/health": {
                "get": {
                    "summary": "readiness probe (no login, no data)",
                    "security": [],
                    "operationId": "health",
                    "responses": {"200": {"description": "the console is serving"}},
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "this document (no login)",
                    "security": [],
                    "operationId": "openapi",
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
            "/api/approvals": {
                "get": {
                    "summary": "approval requests, newest first",
                    "operationId": "listApprovals",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"enum": ["pending", "decided"], "default": "pending"},
                            "description": "decided: every request no longer pending (timeouts, cancellations too)",
                        },
                        {"name": "surface", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _ok("ApprovalList", "the requests"),
                        **_ERRORS,
                        "422": _error("an unknown status"),
                    },
                }
            },
            "/api/approvals/{id}": {
                "get": {
                    "summary": "one approval request",
                    "operationId": "getApproval",
                    "parameters": [{"$ref": "#/components/parameters/Id"}],
                    "responses": {"200": _ok("Approval", "the request"), **_ERRORS, "404": _error("no such request")},
                }
            },
            "/api/approvals/{id}/approve": _decide("approve", "approve a pending request", "Reason"),
            "/api/approvals/{id}/deny": _decide("deny", "deny a pending request (the call fails closed)", "Reason"),
            "/api/approvals/{id}/edit": _decide("edit", "replace the output of a pending after-call request", "Edit"),
            "/api/flags": {
                "get": {
                    "summary": "the flag file's entries, and every known surface with its state",
                    "operationId": "listFlags",
                    "responses": {"200": _ok("FlagList", "entries and surfaces"), **_ERRORS},
                }
            },
            "/api/flags/kill": _flag("kill", "switch matching surfaces to their fallback"),
            "/api/flags/allow": _flag("allow", "pin matching surfaces on their model"),
            "/api/flags/restore": _flag("restore", "remove exactly the entry named by pattern"),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {"Id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Reason": {
                    "type": "object",
                    "required": ["reason"],
                    "properties": {
                        "reason": {"type": "string", "minLength": 1},
                        "subject_sha256": {"type": "string", "description": "refuse unless the request's hash is this"},
                    },
                },
                "Edit": {
                    "type": "object",
                    "required": ["reason", "output"],
                    "properties": {
                        "reason": {"type": "string", "minLength": 1},
                        "output": {"description": "the new output: text for text, base64 text for bytes, else JSON"},
                        "subject_sha256": {"type": "string"},
                    },
                },
                "Decision": {
                    "type": ["object", "null"],
                    "properties": {
                        "verdict": {"enum": ["approved", "denied", "edited"]},
                        "by": {"type": "string"},
                        "reason": {"type": "string"},
                        "decided_at": {"type": "string", "format": "date-time"},
                        "subject_sha256": {"type": "string"},
                        "output": {},
                    },
                },
                "Approval": {
                    "type": "object",
                    "required": ["id", "surface", "status"],
                    "properties": {
                        "id": {"type": "string"},
                        "surface": {"type": "string"},
                        "owner": nullable,
                        "risk": {"enum": ["low", "medium", "high"]},
                        "phase": {"enum": ["before", "after"]},
                        "status": {
                            "enum": ["pending", "approved", "denied", "edited", "timeout", "cancelled", "error"]
                        },
                        "model": nullable,
                        "prompt_name": nullable,
                        "prompt_version": nullable,
                        "created_at": {"type": "string", "format": "date-time"},
                        "expires_at": {"type": "string", "format": "date-time"},
                        "seconds_left": {"type": "number"},
                        "arguments": {"type": "object"},
                        "arguments_sha256": {"type": "string"},
                        "subject_sha256": {"type": "string"},
                        "hash_alg": {"type": "string"},
                        "trace_id": {"type": "string"},
                        "span_id": {"type": "string"},
                        "output": {},
                        "output_kind": nullable,
                        "output_sha256": nullable,
                        "decision": {"$ref": "#/components/schemas/Decision"},
                        "closed_at": nullable,
                        "close_reason": nullable,
                    },
                },
                "ApprovalList": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Approval"}}},
                },
                "FlagChange": {
                    "type": "object",
                    "required": ["pattern", "reason"],
                    "properties": {
                        "pattern": {"type": "string", "description": "a surface name, flag key or glob pattern"},
                        "reason": {"type": "string", "minLength": 1},
                        "ttl": {"type": "string", "description": "kill/allow: lapse after e.g. 30m, 2h, 1d"},
                    },
                },
                "FlagEntry": {
                    "type": "object",
                    "required": ["pattern", "state"],
                    "properties": {
                        "pattern": {"type": "string"},
                        "state": {"enum": ["killed", "allowed", "expired", "restored"]},
                        "killed": {"type": "boolean"},
                        "reason": {"type": "string"},
                        "by": {"type": "string"},
                        "since": nullable,
                        "until": nullable,
                    },
                },
                "Surface": {
                    "type": "object",
                    "properties": {
                        "surface": {"type": "string"},
                        "flag": nullable,
                        "state": {"enum": ["killed", "allowed", "on"]},
                        "source": {"type": "string"},
                        "origins": {"type": "array", "items": {"type": "string"}},
                        "owner": nullable,
                        "risk": nullable,
                    },
                },
                "FlagList": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/FlagEntry"}},
                        "surfaces": {"type": "array", "items": {"$ref": "#/components/schemas/Surface"}},
                        "file": {"type": "string"},
                        "note": nullable,
                    },
                },
            },
        },
    }

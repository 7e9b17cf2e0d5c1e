"""The OpenAPI 3.0 document of the local platform's REST API, written to match rest.py."""

from __future__ import annotations

from typing import Any

from tui.iotda.auth import AUTH_TOKEN_HEADER
from tui.iotda.paths import REST_BASE

_S = {"type": "string"}
_NS = {"type": "string", "nullable": True}
# yyyyMMdd'T'HHmmss'Z' with real ranges: published here, parsed by the REST API with it
COMPACT_TIME_PATTERN = (
    r"([0-9]{4})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3])([0-5][0-9])([0-5][0-9])Z"
)
_COMPACT = {"type": "string", "pattern": f"^{COMPACT_TIME_PATTERN}$"}
_MILLIS = {
    "type": "string",
    "nullable": True,
    "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
}
_DEVICE_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {"default": _json(_ref("Error"), "IoTDA error body")}


def _param(name: str, where: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema}


def _schemas() -> dict[str, Any]:
    connect_state = {
        "type": "object",
        "required": ["status", "last_update_time"],
        "properties": {
            "status": {"type": "string", "enum": ["CONNECTED", "DISCONNECTED"]},
            "last_update_time": _COMPACT,
        },
    }
    device_props = {
        "device_id": _S,
        "node_id": _S,
        "device_name": _NS,
        "product_id": _S,
        "product_name": _NS,
        "app_id": _NS,
        "app_name": _NS,
        "gateway_id": _NS,
        "node_type": {"type": "string", "enum": ["ENDPOINT", "GATEWAY", "UNKNOWN"]},
        "status": {
            "type": "string",
            "enum": ["ONLINE", "OFFLINE", "ABNORMAL", "INACTIVE", "FROZEN"],
        },
        "description": _NS,
        "fw_version": _NS,
        "sw_version": _NS,
        "device_sdk_version": _NS,
        "tags": {"type": "array", "items": _ref("Tag")},
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error_code", "error_msg"],
            "properties": {"error_code": _S, "error_msg": _S, "request_id": _S},
        },
        "Tag": {
            "type": "object",
            "required": ["tag_key"],
            "properties": {"tag_key": _S, "tag_value": _NS},
        },
        "Device": {
            "type": "object",
            "required": ["device_id", "node_id", "product_id", "status"],
            "properties": device_props,
        },
        "DeviceDetail": {
            "type": "object",
            "required": [
                "device_id",
                "node_id",
                "product_id",
                "status",
                "auth_info",
                "create_time",
            ],
            "properties": {
                **device_props,
                "auth_info": {"type": "object"},
                "create_time": _COMPACT,
                "connection_status_update_time": _MILLIS,
                "active_time": _MILLIS,
                "modules": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"module_name": _S, "module_version": _S},
                    },
                },
                "extension_info": {"type": "object"},
            },
        },
        "DevicePage": {
            "type": "object",
            "required": ["devices", "page"],
            "properties": {
                "devices": {"type": "array", "maxItems": 50, "items": _ref("Device")},
                "page": {
                    "type": "object",
                    "required": ["count"],
                    "properties": {
                        "count": {"type": "integer", "minimum": 0},
                        "marker": {"type": "string", "nullable": True, "pattern": "^[0-9a-f]{24}$"},
                    },
                },
            },
        },
        "AddTunnel": {
            "type": "object",
            "required": ["device_id"],
            "properties": {"device_id": _DEVICE_ID},
        },
        "TunnelCreated": {
            "type": "object",
            "required": ["tunnel_id", "tunnel_access_token", "expires_in", "tunnel_uri"],
            "properties": {
                "tunnel_id": _S,
                "tunnel_access_token": _S,
                "expires_in": {"type": "integer"},
                "tunnel_uri": _S,
            },
        },
        "TunnelInfo": {
            "type": "object",
            "required": [
                "tunnel_id",
                "device_id",
                "create_time",
                "closed_time",
                "status",
                "source_connect_state",
                "device_connect_state",
            ],
            "properties": {
                "tunnel_id": _S,
                "device_id": _S,
                "create_time": _COMPACT,
                "closed_time": _COMPACT,
                "status": {"type": "string", "enum": ["OPEN", "CLOSED"]},
                "source_connect_state": connect_state,
                "device_connect_state": connect_state,
            },
        },
        "TunnelList": {
            "type": "object",
            "required": ["tunnels"],
            "properties": {
                "tunnels": {"type": "array", "maxItems": 100, "items": _ref("TunnelInfo")}
            },
        },
        "TokenRequest": {
            "type": "object",
            "required": ["auth"],
            "properties": {"auth": {"type": "object"}},
        },
        "TokenAnswer": {
            "type": "object",
            "required": ["token"],
            "properties": {"token": {"type": "object"}},
        },
    }


def openapi_document(project_id: str) -> dict[str, Any]:
    """The document served at /openapi.json; project_id is pinned as the only valid value."""
    project = _param("project_id", "path", {"type": "string", "enum": [project_id]})
    device = _param("device_id", "path", _DEVICE_ID)
    tunnel = _param("tunnel_id", "path", {"type": "string", "minLength": 1, "maxLength": 128})
    # the SDK sends Instance-Id on every call (and signs it); accepted, not checked here
    instance = _param("Instance-Id", "header", {"type": "string", "maxLength": 36})
    device_query = [
        instance,
        _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 50}),
        _param("marker", "query", {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}),
        _param("offset", "query", {"type": "integer", "minimum": 0, "maximum": 500}),
        *(
            _param(n, "query", _S)
            for n in ("product_id", "node_id", "device_name", "gateway_id", "app_id")
        ),
        _param("start_time", "query", _COMPACT),
        _param("end_time", "query", _COMPACT),
        _param("is_cascade_query", "query", {"type": "boolean"}),
    ]
    secured = [{"token": []}, {"aksk": []}]
    base = REST_BASE
    return {
        "openapi": "3.0.3",
        "info": {"title": "iotunnel local IoTDA", "version": "5"},
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": AUTH_TOKEN_HEADER},
                "aksk": {"type": "apiKey", "in": "header", "name": "Authorization"},
            },
        },
        "security": secured,
        "paths": {
            "/v3/auth/tokens": {
                "post": {
                    "operationId": "KeystoneCreateUserTokenByPassword",
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("TokenRequest")}},
                    },
                    "responses": {
                        "201": _json(_ref("TokenAnswer"), "token in X-Subject-Token"),
                        **_ERRORS,
                    },
                }
            },
            f"{base}/devices": {
                "get": {
                    "operationId": "ListDevices",
                    "parameters": [project, *device_query],
                    "responses": {"200": _json(_ref("DevicePage"), "a page of devices"), **_ERRORS},
                }
            },
            f"{base}/devices/{{device_id}}": {
                "get": {
                    "operationId": "ShowDevice",
                    "parameters": [project, device, instance],
                    "responses": {"200": _json(_ref("DeviceDetail"), "the device"), **_ERRORS},
                }
            },
            f"{base}/tunnels": {
                "post": {
                    "operationId": "AddTunnel",
                    "parameters": [project, instance],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("AddTunnel")}},
                    },
                    "responses": {"201": _json(_ref("TunnelCreated"), "tunnel created"), **_ERRORS},
                },
                "get": {
                    "operationId": "ListDeviceTunnels",
                    "parameters": [project, instance, _param("device_id", "query", _DEVICE_ID)],
                    "responses": {"200": _json(_ref("TunnelList"), "tunnels"), **_ERRORS},
                },
            },
            f"{base}/tunnels/{{tunnel_id}}": {
                "get": {
                    "operationId": "ShowDeviceTunnel",
                    "parameters": [project, tunnel, instance],
                    "responses": {"200": _json(_ref("TunnelInfo"), "the tunnel"), **_ERRORS},
                },
                "put": {
                    "operationId": "CloseDeviceTunnel",
                    "parameters": [project, tunnel, instance],
                    "responses": {"204": {"description": "closed"}, **_ERRORS},
                },
                "delete": {
                    "operationId": "DeleteDeviceTunnel",
                    "parameters": [project, tunnel, instance],
                    "responses": {"204": {"description": "deleted"}, **_ERRORS},
                },
            },
        },
    }

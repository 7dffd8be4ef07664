"""`/docs`: the API's reference as one server-rendered page, built from its OpenAPI document.

No script and no asset from a CDN, so it works on machines without internet access.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #ccc }
.op { margin: 1.2rem 0; padding: .6rem 1rem; border-left: 4px solid #888; background: #f7f7f7 }
.method { font-weight: bold; text-transform: uppercase; margin-right: .6rem }
.get { border-color: #2a7ae2 } .post { border-color: #2a9d4b }
code, pre { font-family: ui-monospace, monospace; font-size: 13px }
pre { background: #fff; border: 1px solid #ddd; padding: .5rem; overflow-x: auto }
td, th { text-align: left; padding: .1rem .8rem .1rem 0; vertical-align: top }
"""


def _ref_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_ref_name(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_ref_name(schema.get('items', {}))}"
    return str(schema.get("type", "object"))


def _parameters(operation: dict[str, Any]) -> str:
    rows = []
    for param in operation.get("parameters", []):
        schema = param.get("schema", {})
        rows.append(
            f"<tr><td><code>{escape(param['name'])}</code></td><td>{escape(param['in'])}</td>"
            f"<td>{escape(_ref_name(schema))}</td>"
            f"<td>{escape(param.get('description') or schema.get('description') or '')}</td></tr>"
        )
    if not rows:
        return ""
    head = "<tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _body(operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return f"<p>body: <code>{escape(_ref_name(schema))}</code></p>" if schema else ""


def _responses(operation: dict[str, Any]) -> str:
    parts = []
    for status, response in sorted(operation.get("responses", {}).items()):
        media: dict[str, Any] = next(iter(response.get("content", {}).values()), {})
        schema = media.get("schema")
        what = f" <code>{escape(_ref_name(schema))}</code>" if schema else ""
        parts.append(f"<li>{escape(status)} {escape(response.get('description', ''))}{what}</li>")
    return f"<ul>{''.join(parts)}</ul>"


def render_docs(openapi: dict[str, Any]) -> str:
    """The reference page: every operation, its parameters, body and answers, then schemas."""
    info = openapi.get("info", {})
    sections: dict[str, list[str]] = {}
    for path, item in openapi.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            sections.setdefault(tag, []).append(
                f'<div class="op {method}"><div><span class="method">{method}</span>'
                f"<code>{escape(path)}</code></div>"
                f"<p>{escape(operation.get('description') or operation.get('summary') or '')}</p>"
                f"{_parameters(operation)}{_body(operation)}{_responses(operation)}</div>"
            )
    body = "".join(f"<h2>{escape(tag)}</h2>{''.join(ops)}" for tag, ops in sorted(sections.items()))
    schemas = openapi.get("components", {}).get("schemas", {})
    models = "".join(
        f'<h3 id="{escape(name)}">{escape(name)}</h3>'
        f"<pre>{escape(json.dumps(schema, indent=2))}</pre>"
        for name, schema in sorted(schemas.items())
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(info.get('title', 'API'))} API</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(info.get('title', 'API'))} {escape(info.get('version', ''))}</h1>"
        f"<p>{escape(info.get('description', ''))}</p>"
        "<p>The machine-readable document: <a href='/openapi.json'>/openapi.json</a>. "
        "Send <code>Authorization: Bearer TOKEN</code> with every request; errors are "
        "<code>application/problem+json</code>.</p>"
        f"{body}<h2>schemas</h2>{models}</body></html>"
    )

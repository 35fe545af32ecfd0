"""GET /openapi.json and the browsable docs page at / and /docs.

The page is our own and self-contained (inline CSS and script, no CDN): it must work where the
gateway runs, which is often a network with no way out. It reads /openapi.json and shows each
operation with its parameters, request/response schemas and example, and sends a request
from the browser ("Try it") showing the status, the X-Request-ID and the answer.
The document is built once per worker, on first use, from the routes and the loaded specs.
"""
from __future__ import annotations

import orjson
from sanic import response

from sanic_app.http import openapi

JSON = "application/json"


def document_bytes(app) -> bytes:
    cached = getattr(app.ctx, "openapi_json", None)
    if cached is None:
        settings = getattr(app.ctx, "settings", None)
        doc = openapi.build_document(
            getattr(app.ctx, "specs", {}) or {},
            app.router.routes,
            passthrough=bool(getattr(settings, "passthrough", False)),
        )
        cached = app.ctx.openapi_json = orjson.dumps(doc)
    return cached


async def openapi_json(request):
    """This API as an OpenAPI 3 document, generated from the routes and the model specs."""
    return response.raw(document_bytes(request.app), content_type=JSON)


async def docs(request):
    """The browsable API documentation (reads /openapi.json)."""
    return response.html(PAGE)


async def docs_root(request):
    """The browsable API documentation, also at /docs."""
    return response.html(PAGE)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API documentation</title>
<style>
 body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
 header{background:#1d2430;color:#fff;padding:18px 28px} header h1{margin:0;font-size:22px}
 header p{margin:6px 0 0;color:#c8cfdb;max-width:70em} main{padding:14px 28px 60px;max-width:1100px}
 h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d7dbe2;padding-bottom:4px}
 details.op{background:#fff;border:1px solid #d7dbe2;border-radius:6px;margin:6px 0}
 details.op>summary{cursor:pointer;padding:8px 12px;display:flex;gap:12px;align-items:baseline}
 .m{font:600 12px monospace;padding:2px 8px;border-radius:4px;color:#fff;min-width:44px;text-align:center}
 .get{background:#2f6fbf}.post{background:#2d8a4e}.put{background:#b7791f}.delete{background:#c0392b}
 .path{font-family:monospace;font-weight:600}.sum{color:#5a6578}
 .body{padding:4px 16px 14px;border-top:1px solid #eef0f3}
 pre{background:#f2f4f7;border-radius:4px;padding:8px 10px;overflow:auto;max-height:360px;font-size:12.5px}
 table{border-collapse:collapse;font-size:13.5px} td,th{border-bottom:1px solid #eef0f3;padding:3px 10px 3px 0;text-align:left}
 textarea{width:100%;min-height:130px;font:12.5px monospace} input{font:13px monospace}
 button{background:#1d2430;color:#fff;border:0;border-radius:4px;padding:6px 14px;cursor:pointer}
 .status{font-weight:600} .err{color:#c0392b}
</style></head>
<body><header><h1 id="title">API documentation</h1><p id="desc">Loading /openapi.json ...</p></header>
<main id="main"></main>
<script>
"use strict";
const el = (tag, attrs = {}, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) { if (k === "class") node.className = v; else node.setAttribute(k, v); }
  for (const kid of kids) node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  return node;
};
let DOC = null;
function resolve(schema, depth) {
  // Inline $refs so a schema reads top to bottom; recursion (Tensor) stops at a named stub.
  if (schema === null || typeof schema !== "object") return schema;
  if (Array.isArray(schema)) return schema.map(s => resolve(s, depth));
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    if (depth > 3) return {"$ref": name};
    return resolve(DOC.components.schemas[name], depth + 1);
  }
  const out = {};
  for (const [k, v] of Object.entries(schema)) out[k] = resolve(v, depth);
  return out;
}
const pretty = v => JSON.stringify(v, null, 2);
function operation(path, method, op) {
  const body = el("div", {class: "body"});
  if (op.description) body.append(el("p", {}, op.description));
  const params = op.parameters || [];
  const inputs = {};
  if (params.length) {
    const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "value")));
    for (const p of params) {
      inputs[p.name] = el("input", {size: "24", placeholder: p.name});
      table.append(el("tr", {}, el("td", {}, p.name), el("td", {}, p.in), el("td", {}, (p.schema || {}).type || ""), el("td", {}, inputs[p.name])));
    }
    body.append(el("h4", {}, "Parameters"), table);
  }
  let editor = null, kind = null;
  if (op.requestBody) {
    body.append(el("h4", {}, "Request body"));
    for (const [ctype, media] of Object.entries(op.requestBody.content)) {
      body.append(el("div", {}, el("b", {}, ctype)));
      if (media.schema) body.append(el("pre", {}, pretty(resolve(media.schema, 0))));
      if (ctype === "application/json" && !editor) {
        kind = ctype;
        editor = el("textarea", {}, media.example ? pretty(media.example) : "{\\n  \\"instances\\": []\\n}");
      }
    }
  }
  body.append(el("h4", {}, "Responses"));
  const rt = el("table");
  for (const [code, r] of Object.entries(op.responses || {})) rt.append(el("tr", {}, el("td", {class: "status"}, code), el("td", {}, r.description || "")));
  body.append(rt);
  const ok = (op.responses || {})["200"];
  const okSchema = ok && ok.content && (ok.content["application/json"] || {}).schema;
  if (okSchema && Object.keys(okSchema).length) body.append(el("pre", {}, pretty(resolve(okSchema, 0))));
  const result = el("pre", {}, "");
  const send = el("button", {}, "Send");
  send.onclick = async () => {
    let url = path;
    for (const p of params) {
      const value = inputs[p.name].value;
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(value));
    }
    const init = {method: method.toUpperCase(), headers: {}};
    if (editor) { init.body = editor.value; init.headers["Content-Type"] = kind; }
    result.textContent = "...";
    try {
      const t0 = performance.now();
      const res = await fetch(url, init);
      const text = await res.text();
      let shown = text;
      try { shown = pretty(JSON.parse(text)); } catch (e) { /* not JSON */ }
      result.textContent = `${res.status} ${res.statusText}  (${(performance.now() - t0).toFixed(1)} ms, X-Request-ID ${res.headers.get("X-Request-ID")})\\n\\n${shown}`;
    } catch (e) { result.textContent = String(e); }
  };
  body.append(el("h4", {}, "Try it"));
  if (editor) body.append(editor);
  body.append(el("div", {}, send), result);
  return el("details", {class: "op"},
    el("summary", {}, el("span", {class: "m " + method}, method.toUpperCase()), el("span", {class: "path"}, path), el("span", {class: "sum"}, op.summary || "")),
    body);
}
async function main() {
  const mainEl = document.getElementById("main");
  try {
    DOC = await (await fetch("openapi.json")).json();
  } catch (e) {
    document.getElementById("desc").replaceChildren(el("span", {class: "err"}, "Could not load openapi.json: " + e));
    return;
  }
  document.getElementById("title").textContent = `${DOC.info.title} ${DOC.info.version}`;
  document.getElementById("desc").textContent = DOC.info.description || "";
  mainEl.append(el("p", {}, "The machine-readable document: ", el("a", {href: "openapi.json"}, "openapi.json"), " (OpenAPI " + DOC.openapi + ")."));
  const byTag = new Map((DOC.tags || []).map(t => [t.name, []]));
  for (const [path, item] of Object.entries(DOC.paths)) for (const [method, op] of Object.entries(item)) {
    const tag = (op.tags || ["other"])[0];
    if (!byTag.has(tag)) byTag.set(tag, []);
    byTag.get(tag).push(operation(path, method, op));
  }
  const notes = new Map((DOC.tags || []).map(t => [t.name, t.description || ""]));
  for (const [tag, ops] of byTag) {
    if (!ops.length) continue;
    mainEl.append(el("h2", {}, tag), el("div", {class: "sum"}, notes.get(tag) || ""), ...ops);
  }
}
main();
</script></body></html>
"""

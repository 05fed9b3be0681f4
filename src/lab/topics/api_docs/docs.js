// The lab's API docs page script: loads /openapi.json from this origin and renders it with DOM
// calls only (every string from the document is shown as text, never parsed as HTML), so it runs
// under the page's strict Content-Security-Policy. Plain ES2020, no dependencies, no build step.
"use strict";

(() => {
  const SPEC_URL = "/openapi.json";
  const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
  const MAX_DEPTH = 8; // nesting shown inline before pointing at the Schemas section
  const SHOWN_BYTES = 256 * 1024; // most of a response body the Try-it panel prints
  let spec = {};
  let basePath = "";
  const creds = []; // { how, input } from components.securitySchemes
  let expanded = null; // named schemas already shown in full in the current operation

  const $ = (id) => document.getElementById(id);
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const own = (o, k) => isObj(o) && Object.prototype.hasOwnProperty.call(o, k);
  const entries = (o) => (isObj(o) ? Object.entries(o) : []);
  const str = (v) => (typeof v === "string" ? v : "");
  const show = (v) => (typeof v === "string" ? v : JSON.stringify(v));
  const slug = (s) => String(s).replace(/[^A-Za-z0-9_-]+/g, "_") || "_";

  // Appends children (nested arrays flattened, null/undefined/false skipped); strings become text.
  function add(node, ...kids) {
    for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined && kid !== false) node.append(kid);
    return node;
  }

  // el("p", { class: "x", text: "..." }, child, "text", [more])
  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    return add(node, ...kids);
  }

  // Plain-text paragraphs, split on blank lines; `backticked` runs shown as code.
  function paragraphs(text, cls) {
    const box = el("div", { class: cls || "desc" });
    for (const part of str(text).split(/\n[ \t]*\n/)) {
      if (!part.trim()) continue;
      const p = el("p");
      part.trim().split(/`([^`\n]+)`/).forEach((bit, i) => bit && p.append(i % 2 ? el("code", { text: bit }) : bit));
      box.append(p);
    }
    return box.childNodes.length ? box : null;
  }

  // The value a local JSON pointer (#/components/schemas/Task) names, or undefined.
  function lookup(ref) {
    if (typeof ref !== "string" || !ref.startsWith("#/")) return undefined;
    let cur = spec;
    for (let key of ref.slice(2).split("/")) {
      try { key = decodeURIComponent(key); } catch { /* keep as is */ }
      key = key.replace(/~1/g, "/").replace(/~0/g, "~");
      if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
      cur = cur[key];
    }
    return cur;
  }

  // Follows $ref chains (siblings of a $ref override the target, as in 3.1), never in circles.
  function deref(obj) {
    const seen = new Set();
    while (isObj(obj) && typeof obj.$ref === "string") {
      if (seen.has(obj.$ref)) return {};
      seen.add(obj.$ref);
      const target = lookup(obj.$ref);
      const { $ref, ...rest } = obj;
      obj = { ...(isObj(target) ? target : {}), ...rest };
    }
    return obj;
  }

  const refName = (ref) => ref.split("/").pop().replace(/~1/g, "/").replace(/~0/g, "~");
  const isSchemaRef = (ref) => typeof ref === "string" && ref.startsWith("#/components/schemas/");
  const pointer = (name) => "#/components/schemas/" + name.replace(/~/g, "~0").replace(/\//g, "~1");

  function types(s) {
    const t = s.type;
    const list = Array.isArray(t) ? t.filter((x) => typeof x === "string") : typeof t === "string" ? [t] : [];
    if (s.nullable === true && !list.includes("null")) list.push("null");
    if (!list.length) {
      if (s.properties || s.additionalProperties) list.push("object");
      else if (s.items || s.prefixItems) list.push("array");
      else if (own(s, "const")) list.push(s.const === null ? "null" : typeof s.const);
    }
    return list;
  }

  const typeLabel = (s) => types(s).join(" | ") || ["allOf", "oneOf", "anyOf"].filter((k) => Array.isArray(s[k])).join(", ");
  const isNullOnly = (s) => { const t = types(deref(s)); return t.length === 1 && t[0] === "null"; };
  const isBinary = (s) => isObj(s) && (s.format === "binary" ||
    (typeof s.contentMediaType === "string" && !s.contentEncoding && types(s)[0] !== "object"));

  const KEYWORDS = ["format", "minLength", "maxLength", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems",
    "minProperties", "maxProperties", "contentMediaType", "contentEncoding", "default", "const"];
  const FLAGS = { readOnly: "read-only", writeOnly: "write-only", deprecated: "deprecated" };

  function chip(key, value) {
    return el("span", { class: "chip" }, el("span", { class: "k", text: key }),
      value === undefined ? null : [" ", el("code", { text: value })]);
  }

  function chips(s) {
    const out = [];
    for (const k of KEYWORDS) if (own(s, k)) out.push(chip(k, show(s[k])));
    if (Array.isArray(s.enum)) out.push(chip("enum", s.enum.map(show).join(" | ")));
    if (Array.isArray(s.examples) && s.examples.length) out.push(chip("examples", s.examples.map(show).join(", ")));
    if (own(s, "example")) out.push(chip("example", show(s.example)));
    if (s.additionalProperties === false) out.push(chip("additionalProperties", "false"));
    for (const [k, label] of Object.entries(FLAGS)) if (s[k] === true) out.push(chip(label));
    return out;
  }

  function refLink(ref) {
    return el("a", { class: "ref", href: "#schema-" + slug(refName(ref)), text: refName(ref) });
  }

  // A readable tree: type, constraints, description, then properties / items / alternatives.
  function schemaView(schema, trail = [], depth = 0) {
    const box = el("div", { class: "schema" });
    const head = el("div", { class: "schema-head" });
    box.append(head);
    let s = schema;
    while (isObj(s) && typeof s.$ref === "string") {
      const ref = s.$ref;
      if (isSchemaRef(ref)) head.append(refLink(ref));
      if (trail.includes(ref)) return head.append(el("span", { class: "note", text: "(recursive, shown above)" })), box;
      if (depth >= MAX_DEPTH) return head.append(el("span", { class: "note", text: "(see Schemas)" })), box;
      const target = lookup(ref);
      if (target === undefined) return head.append(el("span", { class: "warn", text: "unresolved " + ref })), box;
      if (expanded && isSchemaRef(ref)) {
        if (expanded.has(ref)) return head.append(el("span", { class: "note", text: "(fields as above)" })), box;
        expanded.add(ref);
      }
      trail = trail.concat(ref);
      const { $ref, ...rest } = s;
      s = isObj(target) ? { ...target, ...rest } : target;
    }
    if (!isObj(s)) return head.append(el("span", { class: "type", text: s === false ? "nothing (false)" : "any" })), box;
    // oneOf/anyOf [X, null]: show X, nullable.
    const alts = Array.isArray(s.oneOf) ? s.oneOf : Array.isArray(s.anyOf) ? s.anyOf : null;
    if (alts && alts.length === 2 && alts.filter(isNullOnly).length === 1 && !s.properties) {
      const inner = schemaView(alts.find((a) => !isNullOnly(a)), trail, depth);
      add(inner.querySelector(".schema-head"), el("span", { class: "type", text: "| null" }), chips(s));
      add(inner, paragraphs(s.description));
      head.replaceWith(...inner.childNodes);
      return box;
    }
    const ts = types(s);
    if (ts.length || !(alts || s.allOf)) head.append(el("span", { class: "type", text: ts.length ? ts.join(" | ") : "any" }));
    if (s.title) head.append(el("span", { class: "title", text: s.title }));
    head.append(...chips(s));
    add(box, paragraphs(s.description));
    const sub = (label, node) => box.append(el("div", { class: "sub" }, el("span", { class: "label", text: label }), node));
    const required = Array.isArray(s.required) ? s.required : [];
    if (isObj(s.properties)) {
      box.append(el("ul", { class: "props" }, entries(s.properties).map(([name, p]) => el("li", {},
        el("span", { class: "prop-name" }, el("code", { text: name }), required.includes(name) ? el("span", { class: "req", text: "required" }) : null),
        schemaView(p, trail, depth + 1)))));
    }
    if (s.additionalProperties !== undefined && s.additionalProperties !== false) {
      sub("other properties:", schemaView(s.additionalProperties === true ? {} : s.additionalProperties, trail, depth + 1));
    }
    if (Array.isArray(s.prefixItems)) s.prefixItems.forEach((p, i) => sub(`item ${i}:`, schemaView(p, trail, depth + 1)));
    if (s.items !== undefined) sub("items:", schemaView(s.items, trail, depth + 1));
    for (const [k, label] of [["allOf", "all of:"], ["oneOf", "one of:"], ["anyOf", "any of:"]]) {
      if (Array.isArray(s[k])) sub(label, el("ol", { class: "alts" }, s[k].map((a) => el("li", {}, schemaView(a, trail, depth + 1)))));
    }
    if (s.not !== undefined) sub("not:", schemaView(s.not, trail, depth + 1));
    return box;
  }

  // The value a schema, parameter or media type gives itself: example, examples, const, default, enum[0].
  function explicitExample(s) {
    if (own(s, "example")) return s.example;
    if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
    const named = isObj(s) && isObj(s.examples) && deref(Object.values(s.examples)[0]); // a map of Example objects
    if (own(named, "value")) return named.value;
    for (const k of ["const", "default"]) if (own(s, k)) return s[k];
    return isObj(s) && Array.isArray(s.enum) && s.enum.length ? s.enum[0] : undefined;
  }

  const FORMATS = {
    "date-time": "2025-01-01T12:00:00Z", date: "2025-01-01", time: "12:00:00Z", email: "alice@example.com",
    uri: "https://example.com/", url: "https://example.com/", uuid: "3f2b8c1e-0c4a-4e8e-9a57-2d5b1f0a9c11",
    ipv4: "127.0.0.1", ipv6: "::1", hostname: "example.com", byte: "aGVsbG8=", binary: "",
  };

  function numberExample(s, integer) {
    const num = (k) => typeof s[k] === "number", step = integer ? 1 : 0.5;
    let v = num("minimum") ? s.minimum : num("exclusiveMinimum") ? s.exclusiveMinimum + step : 0;
    const hi = num("maximum") ? s.maximum : num("exclusiveMaximum") ? s.exclusiveMaximum - step : Infinity;
    if (v > hi) v = hi;
    if (num("multipleOf") && s.multipleOf > 0) v = Math.ceil(v / s.multipleOf) * s.multipleOf;
    return integer ? Math.ceil(v) : v;
  }

  // A value that fits the schema: its own example when it has one, else one built by type.
  function exampleOf(schema, trail = [], depth = 0) {
    let s = schema;
    while (isObj(s) && typeof s.$ref === "string") {
      if (trail.includes(s.$ref) || depth > MAX_DEPTH) return null;
      trail = trail.concat(s.$ref);
      const { $ref, ...rest } = s;
      s = { ...(isObj(lookup($ref)) ? lookup($ref) : {}), ...rest };
    }
    if (!isObj(s)) return null;
    const given = explicitExample(s);
    if (given !== undefined) return given;
    const next = (sub) => exampleOf(sub, trail, depth + 1);
    let base;
    if (Array.isArray(s.allOf)) {
      const parts = s.allOf.map(next);
      base = parts.some(isObj) ? Object.assign(Object.create(null), ...parts.filter(isObj)) : parts[0];
    }
    const alts = Array.isArray(s.oneOf) ? s.oneOf : Array.isArray(s.anyOf) ? s.anyOf : [];
    if (base === undefined && alts.length) base = next(alts.find((a) => !isNullOnly(a)) || alts[0]);
    const type = types(s).find((t) => t !== "null") || (base === undefined && types(s)[0]);
    switch (type) {
      case "object": {
        const out = Object.assign(Object.create(null), isObj(base) ? base : {}); // no prototype: "__proto__" stays a key
        for (const [name, p] of entries(s.properties)) if (deref(p).readOnly !== true) out[name] = next(p);
        return out;
      }
      case "array": {
        if (s.maxItems === 0) return [];
        const count = Math.min(Math.max(1, s.minItems | 0), 5);
        return Array.from({ length: count }, () => next(s.items === undefined ? {} : s.items));
      }
      case "string": {
        const v = (FORMATS[s.format] ?? "string").padEnd(s.minLength | 0, "x");
        return Number.isInteger(s.maxLength) ? v.slice(0, s.maxLength) : v;
      }
      case "integer": return numberExample(s, true);
      case "number": return numberExample(s, false);
      case "boolean": return false;
      case "null": return null;
      default: return base === undefined ? null : base;
    }
  }

  function collectOperations() {
    const ops = [];
    for (const [path, rawItem] of entries(spec.paths)) {
      const item = deref(rawItem);
      for (const method of Object.keys(item).filter((k) => METHODS.includes(k) && isObj(item[k]))) {
        const op = item[method];
        const params = new Map();
        for (const raw of [].concat(item.parameters || [], op.parameters || [])) {
          const p = deref(raw);
          if (isObj(p) && typeof p.name === "string") params.set(`${p.in}:${p.name}`, p);
        }
        const tag = Array.isArray(op.tags) && typeof op.tags[0] === "string" ? op.tags[0] : null;
        ops.push({ method, path, op, params: [...params.values()], tag });
      }
    }
    return ops;
  }

  const paramSchema = (p) => (isObj(p.schema) ? p.schema : (entries(p.content)[0] || [])[1]?.schema) || {};
  const statusClass = (code) => "s" + (String(code)[0] || "x");

  function mediaView(mt, media) {
    const m = deref(media);
    const box = el("div", { class: "media" }, el("p", { class: "media-type" }, "Content-Type ", el("code", { text: mt })));
    if (m.schema !== undefined) box.append(schemaView(m.schema));
    const ex = own(m, "example") || isObj(m.examples) ? explicitExample(m) : undefined;
    if (ex !== undefined) box.append(el("p", { class: "label", text: "Example:" }), el("pre", { class: "json", text: JSON.stringify(ex, null, 2) }));
    return box;
  }

  function paramsView(params) {
    const rows = params.map((p) => el("tr", {},
      el("td", {}, el("code", { text: p.name }), p.required ? el("span", { class: "req", text: "required" }) : null,
        p.deprecated ? chip("deprecated") : null),
      el("td", { "data-label": "In", text: str(p.in) }),
      el("td", { "data-label": "Schema" }, schemaView(paramSchema(p))),
      el("td", { "data-label": "Description" }, paragraphs(p.description))));
    return el("div", { class: "table-wrap" }, el("table", { class: "params" },
      el("thead", {}, el("tr", {}, ["Name", "In", "Schema", "Description"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows)));
  }

  function responsesView(responses) {
    return entries(responses).map(([code, raw]) => {
      const r = deref(raw);
      const box = el("div", { class: "response" }, el("p", { class: "response-head" },
        el("span", { class: "status " + statusClass(code), text: code }), " ", str(r.description)));
      const headers = entries(r.headers);
      if (headers.length) {
        add(box, el("p", { class: "label", text: "Headers:" }), el("ul", { class: "props" }, headers.map(([name, h]) => {
          const hd = deref(h);
          return el("li", {}, el("span", { class: "prop-name" }, el("code", { text: name })),
            el("div", {}, schemaView(paramSchema(hd)), paragraphs(hd.description)));
        })));
      }
      for (const [mt, media] of entries(r.content)) box.append(mediaView(mt, media));
      return box;
    });
  }

  function operationView(o, index) {
    const M = o.method.toUpperCase();
    const id = "op-" + slug(o.op.operationId || `${o.method}${o.path}`);
    expanded = new Set();
    const details = el("details", { class: "op", id, "data-operation": `${M} ${o.path}`, "data-method": o.method });
    details.dataset.filter = [M, o.path, str(o.op.summary), str(o.op.operationId)].join(" ").toLowerCase();
    details.append(el("summary", {}, el("h3", {},
      el("span", { class: "method m-" + (METHODS.includes(o.method) ? o.method : "other"), text: M }),
      el("code", { class: "path", text: o.path }),
      el("span", { class: "op-summary", text: str(o.op.summary) }),
      o.op.deprecated ? el("span", { class: "chip", text: "deprecated" }) : null)));
    const body = el("div", { class: "op-body" }, paragraphs(o.op.description));
    if (o.op.operationId) body.append(el("p", { class: "muted" }, "operationId ", el("code", { text: o.op.operationId })));
    if (o.params.length) body.append(el("h4", { text: "Parameters" }), paramsView(o.params));
    const rb = deref(o.op.requestBody);
    if (isObj(rb) && isObj(rb.content)) {
      add(body, el("h4", {}, "Request body", rb.required ? el("span", { class: "req", text: "required" }) : null),
        paragraphs(rb.description), entries(rb.content).map(([mt, m]) => mediaView(mt, m)));
    }
    if (isObj(o.op.responses)) add(body, el("h4", { text: "Responses" }), responsesView(o.op.responses));
    body.append(tryIt(o, rb, "t" + index));
    details.append(body);
    expanded = null;
    return details;
  }

  function paramInput(p, id) {
    const s = deref(paramSchema(p));
    const ex = explicitExample(p) ?? explicitExample(s);
    const choices = Array.isArray(s.enum) ? s.enum : types(s)[0] === "boolean" ? [true, false] : null;
    let input;
    if (choices) {
      input = el("select", { id, name: p.name }, p.required ? null : el("option", { value: "", text: "(not sent)" }),
        choices.map((c) => el("option", { value: show(c), text: show(c) })));
    } else {
      input = el("input", { id, name: p.name, type: "text", autocomplete: "off", spellcheck: "false" });
    }
    input.required = p.required === true || p.in === "path";
    const text = ex === undefined ? "" : Array.isArray(ex) ? ex.map(show).join(",") : show(ex);
    // A required value starts filled in; an optional one is sent only when typed.
    if (input.required && ex !== undefined) input.value = text;
    else if (!choices) input.placeholder = (text ? "e.g. " + text : types(s).join(" | ")) + (types(s)[0] === "array" ? " (comma-separated)" : "");
    return input;
  }

  // The body editor for one media type: { node, read() → { payload, type } }.
  function bodyEditor(mt, media, idp) {
    const m = deref(media) || {};
    const s = deref(m.schema) || {}; // a media type may name no schema: any body of that type
    const lower = mt.toLowerCase();
    const multipart = lower.startsWith("multipart/form-data");
    const props = entries(s.properties);
    if (multipart || (lower.startsWith("application/x-www-form-urlencoded") && props.length)) {
      if (!props.length) props.push(["file", { type: "string", format: "binary" }]);
      const required = Array.isArray(s.required) ? s.required : [];
      const inputs = props.map(([name, raw], i) => {
        const p = deref(raw);
        const file = multipart && (isBinary(p) || (types(p)[0] === "array" && isBinary(deref(p.items))));
        const input = el("input", { id: `${idp}-f${i}`, name, type: file ? "file" : "text", multiple: file && types(p)[0] === "array" });
        input.required = required.includes(name);
        if (!file) { // like parameters: a required field starts filled in, an optional one shows a hint
          const v = exampleOf(raw);
          if (input.required && v !== null) input.value = show(v);
          else input.placeholder = v === null || explicitExample(p) === undefined ? typeLabel(p) : "e.g. " + show(v);
        }
        return el("div", { class: "field" }, el("label", { for: input.id }, el("code", { text: name }),
          ` (${file ? "file" : types(p).join(" | ") || "text"}${input.required ? ", required" : ""})`), input);
      });
      const read = () => {
        const data = multipart ? new FormData() : new URLSearchParams();
        for (const f of inputs) {
          const input = f.querySelector("input");
          if (input.type === "file") for (const file of input.files) data.append(input.name, file, file.name);
          else if (input.value !== "") data.append(input.name, input.value);
        }
        return { payload: data, type: multipart ? undefined : "application/x-www-form-urlencoded" };
      };
      return { node: el("div", { class: "form-fields" }, inputs), read };
    }
    if (isBinary(s) || lower === "application/octet-stream" || /^(image|audio|video)\//.test(lower)) {
      const input = el("input", { id: idp + "-file", type: "file" });
      const node = el("div", { class: "field" }, el("label", { for: input.id, text: "File to send as the body" }), input);
      return { node, read: () => ({ payload: input.files[0] || "", type: mt }) };
    }
    const json = /[/+]json\b/i.test(lower);
    const given = explicitExample(m);
    const value = given !== undefined ? given : exampleOf(m.schema);
    const area = el("textarea", { id: idp + "-body", class: "body-input", rows: 8, spellcheck: "false" });
    area.value = json ? JSON.stringify(value, null, 2) : typeof value === "string" ? value : "";
    const hint = el("p", { class: "hint", "aria-live": "polite" });
    area.addEventListener("input", () => {
      try { if (json) JSON.parse(area.value); hint.textContent = ""; } catch (e) {
        hint.textContent = "Not valid JSON (it is sent as typed, so you can see how the server answers): " + e.message;
      }
    });
    const node = el("div", { class: "field wide" }, el("label", { for: area.id, text: `Body (${mt}), sent as typed` }), area, hint);
    return { node, read: () => ({ payload: area.value, type: mt }) };
  }

  const shq = (s) => "'" + String(s).replace(/'/g, "'\\''") + "'";
  function asCurl(method, url, headers, body) {
    const parts = [method === "HEAD" ? "curl -I" : method === "GET" ? "curl -i" : "curl -i -X " + method, shq(url)];
    headers.forEach((v, k) => parts.push("-H " + shq(`${k}: ${v}`)));
    if (body instanceof FormData) {
      for (const [k, v] of body) parts.push(typeof v === "string" ? "--form-string " + shq(`${k}=${v}`) : "-F " + shq(`${k}=@${v.name}`));
    } else if (body instanceof Blob) parts.push("--data-binary " + shq("@" + (body.name || "file")));
    else if (body !== undefined) parts.push("--data-raw " + shq(String(body)));
    return parts.join(" \\\n  ");
  }

  function tryIt(o, rb, idp) {
    const M = o.method.toUpperCase();
    const form = el("form", { class: "try-it", "aria-label": `Try ${M} ${o.path}` });
    const fields = [];
    const sendable = o.params.filter((p) => ["path", "query", "header"].includes(p.in));
    const cookies = o.params.filter((p) => p.in === "cookie");
    if (sendable.length || cookies.length) {
      const set = el("fieldset", {}, el("legend", { text: "Parameters" }));
      sendable.forEach((p, i) => {
        const input = paramInput(p, `${idp}-p${i}`);
        fields.push({ p, input });
        set.append(el("div", { class: "field" }, el("label", { for: input.id }, el("code", { text: p.name }),
          ` (${p.in}${input.required ? ", required" : ""})`), input));
      });
      for (const p of cookies) set.append(el("p", { class: "muted" }, "Cookie ", el("code", { text: p.name }), ": the browser sends cookies itself."));
      form.append(set);
    }
    let editor = null;
    const media = M === "GET" || M === "HEAD" || !isObj(rb) ? [] : entries(rb.content);
    if (media.length) {
      const set = el("fieldset", {}, el("legend", { text: "Request body" }));
      const slot = el("div");
      const pick = (i) => { editor = bodyEditor(media[i][0], media[i][1], `${idp}-b${i}`); slot.replaceChildren(editor.node); };
      if (media.length > 1) {
        const select = el("select", { id: idp + "-mt" }, media.map(([mt], i) => el("option", { value: i, text: mt })));
        select.addEventListener("change", () => pick(Number(select.value)));
        set.append(el("div", { class: "field" }, el("label", { for: select.id, text: "Content-Type" }), select));
      }
      pick(0);
      set.append(slot);
      form.append(set);
    }
    const button = el("button", { type: "submit", class: "send", text: `Send ${M}` });
    const out = el("div", { class: "result", "aria-live": "polite" });
    form.append(el("div", { class: "actions" }, button, el("span", { class: "muted", text: "to " + location.origin })), out);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const query = new URLSearchParams();
      const headers = new Headers();
      let path = o.path;
      for (const { p, input } of fields) {
        const v = input.value;
        if (p.in === "path") path = path.split(`{${p.name}}`).join(encodeURIComponent(v));
        else if (v === "") continue;
        else if (p.in === "header") headers.set(p.name, v);
        else if (types(deref(paramSchema(p)))[0] === "array" && p.explode !== false) v.split(",").forEach((x) => query.append(p.name, x.trim()));
        else query.append(p.name, v);
      }
      const init = { method: M, headers, credentials: "same-origin", cache: "no-store" };
      out.replaceChildren(el("p", { class: "muted", text: "Sending…" }));
      button.disabled = true;
      try {
        for (const { how, input } of creds) {
          const v = input.value.trim();
          if (v && how.query && !query.has(how.query)) query.set(how.query, v);
          else if (v && how.header && !headers.has(how.header)) headers.set(how.header, how.basic ? "Basic " + btoa(v) : (how.prefix || "") + v);
        }
        if (editor) {
          const { payload, type } = editor.read();
          init.body = payload;
          if (type && !headers.has("content-type")) headers.set("Content-Type", type);
        }
        const qs = query.toString();
        const url = basePath + path + (qs ? "?" + qs : "");
        const curl = asCurl(M, location.origin + url, headers, init.body);
        const started = performance.now();
        const res = await fetch(url, init);
        const bytes = await res.arrayBuffer();
        showResult(out, res, bytes, Math.round(performance.now() - started), curl);
      } catch (e) {
        out.replaceChildren(el("p", { class: "status-line s5", text: "No answer: " + e.message }));
        out.dataset.status = "failed";
      } finally {
        button.disabled = false;
      }
    });
    return el("section", { class: "try" }, el("h4", { text: "Try it" }), form);
  }

  function showResult(out, res, bytes, ms, curl) {
    out.dataset.status = String(res.status);
    const type = res.headers.get("content-type") || "";
    const lines = [];
    res.headers.forEach((v, k) => lines.push(`${k}: ${v}`));
    const id = res.headers.get("x-request-id");
    let text;
    if (!bytes.byteLength) text = "(no body)";
    else if (type === "" || /json|text|xml|javascript|urlencoded/i.test(type)) {
      text = new TextDecoder().decode(bytes.slice(0, SHOWN_BYTES));
      if (/json/i.test(type)) { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as is */ } }
      if (bytes.byteLength > SHOWN_BYTES) text += `\n… (${bytes.byteLength - SHOWN_BYTES} more bytes not shown)`;
    } else text = `(${bytes.byteLength} bytes of ${type}, not shown)`;
    add(out.replaceChildren() || out,
      el("p", { class: "status-line " + statusClass(res.status) }, el("strong", { text: `${res.status} ${res.statusText}`.trim() }),
        el("span", { class: "muted", text: ` · ${ms} ms · ${bytes.byteLength} bytes` + (res.redirected ? " · after a redirect to " + res.url : "") })),
      id ? el("p", { class: "request-id", "data-request-id": id }, "Request id ", el("code", { text: id }), ": ",
        el("code", { text: `reqlab trace ${id}` }), " shows this request's trace.") : null,
      el("details", { class: "headers" }, el("summary", { text: `Response headers (${lines.length})` }), el("pre", { text: lines.join("\n") })),
      el("p", { class: "label", text: "Body:" }),
      el("pre", { class: "body", tabindex: "0", text }),
      el("details", { class: "curl" }, el("summary", { text: "The same request with curl" }), el("pre", { text: curl })));
  }

  function credentialsView() {
    const box = $("credentials");
    const schemes = entries(spec.components && spec.components.securitySchemes);
    if (!box || !schemes.length) return;
    schemes.forEach(([name, raw], i) => {
      const s = deref(raw);
      let how = null;
      const scheme = str(s.scheme).toLowerCase();
      if (s.type === "http" && scheme === "basic") how = { header: "Authorization", basic: true, what: "user:password, sent as Authorization: Basic" };
      else if (s.type === "http" || s.type === "oauth2" || s.type === "openIdConnect") how = { header: "Authorization", prefix: "Bearer ", what: "a token, sent as Authorization: Bearer" };
      else if (s.type === "apiKey" && s.in === "header") how = { header: str(s.name), what: `sent as the ${s.name} header` };
      else if (s.type === "apiKey" && s.in === "query") how = { query: str(s.name), what: `sent as ?${s.name}=` };
      if (!how || (!how.header && !how.query)) return box.append(el("p", { class: "muted" }, el("code", { text: name }), ": a cookie, which the browser sends itself."));
      const input = el("input", { id: "cred-" + i, type: "text", autocomplete: "off", spellcheck: "false" });
      creds.push({ how, input });
      add(box, el("div", { class: "field" }, el("label", { for: input.id }, el("code", { text: name }), ` (${how.what})`), input,
        paragraphs(s.description)));
    });
    box.hidden = false;
  }

  function render() {
    const info = isObj(spec.info) ? spec.info : {};
    if (info.title) { $("title").textContent = info.title; document.title = info.title + " · API docs"; }
    $("version").textContent = info.version !== undefined ? "version " + show(info.version) : "";
    $("oas-version").textContent = spec.openapi ? "OpenAPI " + show(spec.openapi) : "";
    const desc = paragraphs(info.description);
    if (desc) $("description").replaceChildren(...desc.childNodes);

    // A server on this origin under a path prefix (servers: [{ url: "/api" }]) is honoured; others are not reachable.
    try {
      const u = new URL(str(Array.isArray(spec.servers) && isObj(spec.servers[0]) && spec.servers[0].url) || "/", location.href);
      if (u.origin === location.origin) basePath = u.pathname.replace(/\/+$/, "");
    } catch { /* a templated or odd URL: use the paths as they are */ }

    const ops = collectOperations();
    const groups = new Map();
    for (const t of Array.isArray(spec.tags) ? spec.tags : []) if (isObj(t) && typeof t.name === "string") groups.set(t.name, { tag: t, ops: [] });
    for (const o of ops) {
      const key = o.tag ?? "\u0000other";
      if (!groups.has(key)) groups.set(key, { tag: { name: o.tag ?? "other" }, ops: [] });
      groups.get(key).ops.push(o);
    }
    if (groups.has("\u0000other")) { const g = groups.get("\u0000other"); groups.delete("\u0000other"); groups.set("\u0000other", g); }

    const container = $("operations");
    const toc = $("toc");
    let index = 0;
    const used = new Set();
    for (const [key, g] of groups) {
      if (!g.ops.length) continue;
      const gid = "tag-" + slug(key === "\u0000other" ? "other" : key);
      const section = el("section", { class: "tag-group", id: gid, "aria-labelledby": gid + "-h" },
        el("h2", { id: gid + "-h", text: g.tag.name }), paragraphs(g.tag.description));
      for (const o of g.ops) {
        const view = operationView(o, index++);
        while (used.has(view.id)) view.id += "_";
        used.add(view.id);
        section.append(view);
      }
      container.append(section);
      toc.append(el("li", {}, el("a", { href: "#" + gid, text: g.tag.name }), el("span", { class: "count", text: ` ${g.ops.length}` })));
    }
    if (!ops.length) container.append(el("p", { class: "muted", text: "The document describes no operations." }));

    const schemas = entries(spec.components && spec.components.schemas);
    for (const [name, s] of schemas) {
      const resolved = deref(s);
      $("schema-list").append(el("details", { class: "schema-def", id: "schema-" + slug(name) },
        el("summary", {}, el("code", { class: "schema-name", text: name }),
          el("span", { class: "type", text: isObj(resolved) ? typeLabel(resolved) : "" })),
        schemaView(s, [pointer(name)])));
    }
    $("schemas").hidden = !schemas.length;
    if (schemas.length) toc.append(el("li", {}, el("a", { href: "#schemas", text: "Schemas" })));
    toc.append(el("li", {}, el("a", { href: "#get-the-document", text: "Use the document elsewhere" })));

    credentialsView();
    $("filter-box").hidden = !ops.length;
    $("filter").addEventListener("input", () => applyFilter(ops.length));
    applyFilter(ops.length);
  }

  function applyFilter(total) {
    const words = $("filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const d of document.querySelectorAll("#operations .op")) {
      d.hidden = !words.every((w) => d.dataset.filter.includes(w));
      if (!d.hidden) shown++;
    }
    for (const g of document.querySelectorAll("#operations .tag-group")) g.hidden = !g.querySelector(".op:not([hidden])");
    $("filter-count").textContent = words.length ? `${shown} of ${total} operations match` : `${total} operations`;
  }

  // Opens the <details> around an anchor target, so links to operations and schemas land open.
  function openTarget(hash) {
    let id = hash.slice(1);
    try { id = decodeURIComponent(id); } catch { /* keep */ }
    const target = id && document.getElementById(id);
    for (let n = target; n; n = n.parentElement) if (n.tagName === "DETAILS") n.open = true;
    return target;
  }

  function fail(message, detail) {
    document.body.dataset.state = "error";
    $("status").textContent = "";
    const box = $("load-error");
    add(box.replaceChildren() || box, el("h2", { text: "The API document could not be loaded" }), el("p", { text: message }),
      detail ? el("pre", { text: detail }) : null,
      el("p", {}, "Check that the lab is running, then reload this page. The raw document is at ", el("code", { text: location.origin + SPEC_URL }), "."));
    box.hidden = false;
  }

  async function main() {
    for (const n of document.querySelectorAll(".spec-url")) n.textContent = location.origin + SPEC_URL;
    document.addEventListener("click", (e) => {
      const a = e.target instanceof Element && e.target.closest("a[href^='#']");
      if (a) openTarget(a.getAttribute("href"));
    });
    let res;
    try {
      res = await fetch(SPEC_URL, { credentials: "same-origin", cache: "no-cache", headers: { Accept: "application/json" } });
    } catch (e) {
      return fail(`GET ${SPEC_URL} got no answer (${e.message}).`);
    }
    const text = await res.text().catch(() => "");
    if (!res.ok) return fail(`GET ${SPEC_URL} answered ${res.status} ${res.statusText}.`.replace(" .", "."), text.slice(0, 2000));
    try { spec = JSON.parse(text); } catch (e) { return fail(`GET ${SPEC_URL} answered ${res.status}, but the body is not JSON (${e.message}).`); }
    if (!isObj(spec)) return fail(`GET ${SPEC_URL} answered JSON that is not an OpenAPI document.`);
    try { render(); } catch (e) { return fail(`The document loaded but could not be shown: ${e.message}`); }
    $("status").textContent = "";
    document.body.dataset.state = "ready";
    if (location.hash) { const t = openTarget(location.hash); if (t) t.scrollIntoView(); }
  }

  main();
})();

//! A server's own OpenAPI document, held to what it says: an operation's request schema states
//! its rules, its responses list the errors it answers with, and the answers it gives fit the
//! schemas it promises. Operations are found by method and path template, matched by shape
//! (`/tasks/{id}` and `/tasks/{task_id}` are one path).

use super::json_request;
use crate::check::assert::excerpt;
use crate::check::conversation::Conversation;
use crate::check::http::{Exchange, Received};
use crate::check::result::Finding;
use axum::http::Method;
use serde_json::{Map, Value, json};

/// How deep `$ref` chains are followed before giving up (a loop, or a very odd document).
const MAX_REFS: usize = 32;

/// The document at `path`, fetched and parsed; a finding when it cannot be had.
async fn fetch(conv: &mut Conversation, path: &str) -> Result<Value, Finding> {
    let exchange = conv.send_json(Method::GET, path, None).await;
    let response = match &exchange.response {
        Ok(r) => r,
        Err(e) => return Err(Finding::new(e.to_string(), Some(exchange))),
    };
    if response.status != 200 {
        let msg = format!(
            "GET {path} answered {}, so there is no document to read: serve the OpenAPI document there (FastAPI does unless openapi_url=None)",
            response.status
        );
        return Err(Finding::new(msg, Some(exchange)));
    }
    match response.json() {
        Ok(doc) if doc.get("paths").is_some_and(Value::is_object) => Ok(doc),
        Ok(_) => Err(Finding::new(
            format!(
                "GET {path} answered JSON without a \"paths\" object: it is not an OpenAPI document"
            ),
            Some(exchange),
        )),
        Err(e) => Err(Finding::new(
            format!("GET {path} did not answer JSON: {e}"),
            Some(exchange),
        )),
    }
}

/// `/tasks/{task_id}/` → `/tasks/{}`: templates compared by shape.
fn shape(template: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in template.trim_end_matches('/').chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            c => out.push(c),
        }
    }
    out
}

/// Follows `$ref`s (local JSON pointers) until a value that is not one.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..MAX_REFS {
        let Some(target) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        match target.strip_prefix('#').and_then(|p| doc.pointer(p)) {
            Some(next) => value = next,
            None => return value,
        }
    }
    value
}

/// One operation of the document.
struct Operation<'a> {
    /// The path template as the document writes it.
    template: &'a str,
    method: String,
    body: &'a Value,
}

impl Operation<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.template)
    }
}

/// Finds `"POST /tasks"` (any template of the same shape), or says why not.
fn operation<'a>(doc: &'a Value, wanted: &str) -> Result<Operation<'a>, String> {
    let (method, template) = wanted.split_once(' ').unwrap_or(("GET", wanted));
    let method = method.to_lowercase();
    let target = shape(template);
    let paths = doc["paths"]
        .as_object()
        .map(Map::iter)
        .into_iter()
        .flatten();
    for (path, item) in paths {
        if shape(path) != target {
            continue;
        }
        let item = resolve(doc, item);
        return match item.get(&method) {
            Some(body) => Ok(Operation {
                template: path,
                method,
                body,
            }),
            None => Err(format!(
                "the document has {path} but no {} operation on it",
                method.to_uppercase()
            )),
        };
    }
    Err(format!("the document has no path like {template}"))
}

/// The schema a request or response declares for a JSON media type, if any.
fn json_schema<'a>(doc: &'a Value, content: &'a Value) -> Option<&'a Value> {
    let content = resolve(doc, content).as_object()?;
    content
        .iter()
        .find(|(media, _)| media.contains("json"))
        .and_then(|(_, m)| resolve(doc, m).get("schema"))
}

/// An object schema's properties and required names, `allOf` members merged.
fn object_parts<'a>(doc: &'a Value, schema: &'a Value) -> (Map<String, Value>, Vec<String>) {
    let schema = resolve(doc, schema);
    let mut properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut required: Vec<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    for member in schema["allOf"].as_array().into_iter().flatten() {
        let (p, r) = object_parts(doc, member);
        properties.extend(p);
        required.extend(r);
    }
    (properties, required)
}

/// The string schema of a property: itself, or the string branch of an `anyOf`/`oneOf`
/// (how `Optional[str]` is written).
fn string_schema<'a>(doc: &'a Value, property: &'a Value) -> &'a Value {
    let property = resolve(doc, property);
    for key in ["anyOf", "oneOf"] {
        if let Some(branch) = property[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| resolve(doc, b))
            .find(|b| b.get("maxLength").is_some() || b["type"] == "string")
        {
            return branch;
        }
    }
    property
}

/// `openapi-request`: the operation's JSON body lists `required` as required, and gives each
/// `bounded` text field a minimum length of at least 1 and a maximum length.
pub(super) async fn request(
    conv: &mut Conversation,
    path: &str,
    wanted: &str,
    required: &[String],
    bounded: &[String],
) -> Result<(), Finding> {
    let doc = fetch(conv, path).await?;
    let op = operation(&doc, wanted).map_err(|e| Finding::new(e, None))?;
    let name = op.name();
    let Some(schema) = json_schema(&doc, &op.body["requestBody"]["content"]) else {
        return Err(Finding::new(
            format!(
                "{name} has no JSON request body in the document, so a client cannot know what to send"
            ),
            None,
        ));
    };
    let (properties, listed) = object_parts(&doc, schema);
    for field in required {
        if !listed.contains(field) {
            return Err(Finding::new(
                format!(
                    "{name}'s body schema does not list {field} as required, yet a body without it is refused: add it to \"required\" (in FastAPI, a field with no default)"
                ),
                None,
            ));
        }
    }
    for field in bounded {
        let Some(property) = properties.get(field) else {
            return Err(Finding::new(
                format!("{name}'s body schema has no property {field}"),
                None,
            ));
        };
        let text = string_schema(&doc, property);
        let min = text["minLength"].as_u64();
        let max = text["maxLength"].as_u64();
        let missing = match (min, max) {
            (Some(min), Some(_)) if min >= 1 => continue,
            (Some(_), Some(_)) => "a minLength of 0, so an empty value looks allowed",
            (None, Some(_)) => "no minLength, so an empty value looks allowed",
            (_, None) => "no maxLength, so a client cannot know how long is too long",
        };
        return Err(Finding::new(
            format!(
                "{name}: {field} has {missing}; the server's validation rule belongs in the schema (in FastAPI, Field(min_length=1, max_length=200)): {}",
                excerpt(text)
            ),
            None,
        ));
    }
    Ok(())
}

/// `openapi-responses`: the operation documents each of `statuses`.
pub(super) async fn responses(
    conv: &mut Conversation,
    path: &str,
    wanted: &str,
    statuses: &[u16],
) -> Result<(), Finding> {
    let doc = fetch(conv, path).await?;
    let op = operation(&doc, wanted).map_err(|e| Finding::new(e, None))?;
    for status in statuses {
        if documented(&doc, &op, *status, false).is_none() {
            return Err(Finding::new(
                format!(
                    "{} does not document {status}, yet it answers with it: list it under \"responses\" with its body's schema (in FastAPI, responses={{{status}: {{\"model\": …}}}})",
                    op.name()
                ),
                None,
            ));
        }
    }
    Ok(())
}

/// The response the operation documents for `status`: exact, or its class (`4XX`), or with
/// `or_default` the catch-all `default` (which describes an answer but does not name it).
fn documented<'a>(
    doc: &'a Value,
    op: &Operation<'a>,
    status: u16,
    or_default: bool,
) -> Option<&'a Value> {
    let responses = resolve(doc, &op.body["responses"]);
    let class = status / 100;
    let mut keys = vec![
        status.to_string(),
        format!("{class}XX"),
        format!("{class}xx"),
    ];
    if or_default {
        keys.push("default".to_string());
    }
    keys.iter()
        .find_map(|key| responses.get(key))
        .map(|r| resolve(doc, r))
}

/// `openapi-conformance`: creates an item, reads it back, and sends an empty create; each
/// answer's status must be documented and its JSON body must fit the documented schema.
pub(super) async fn conformance(
    conv: &mut Conversation,
    path: &str,
    collection: &str,
    create: &Value,
) -> Result<(), Finding> {
    let doc = fetch(conv, path).await?;
    let doc = as_json_schema(doc);
    let body = conv.vars.render_json(create).map_err(Finding::not_run)?;
    let created = conv.send_json(Method::POST, collection, Some(&body)).await;
    let id = conforms(&doc, &format!("POST {collection}"), created)?
        .and_then(|v| v.get("id").map(crate::check::assert::text_of));
    let Some(id) = id else {
        return Err(Finding::not_run(format!(
            "POST {collection} answered no \"id\", so the item cannot be read back"
        )));
    };
    let item = format!("{}/{id}", collection.trim_end_matches('/'));
    let read = conv.send_json(Method::GET, &item, None).await;
    conforms(&doc, &format!("GET {collection}/{{id}}"), read)?;
    let empty = conv
        .send(json_request(
            Method::POST,
            conv.url(collection),
            Some(&json!({})),
        ))
        .await;
    conforms(&doc, &format!("POST {collection}"), empty)?;
    Ok(())
}

/// Checks one answer against the document; returns its JSON body.
fn conforms(doc: &Value, wanted: &str, exchange: Exchange) -> Result<Option<Value>, Finding> {
    let op = match operation(doc, wanted) {
        Ok(op) => op,
        Err(e) => return Err(Finding::new(e, Some(exchange))),
    };
    let name = op.name();
    let response: &Received = match &exchange.response {
        Ok(r) => r,
        Err(e) => return Err(Finding::new(e.to_string(), Some(exchange))),
    };
    let status = response.status;
    let Some(documented) = documented(doc, &op, status, true) else {
        let msg = format!(
            "{name} answered {status}, a status its document does not list: a client generated from the document has no case for it"
        );
        return Err(Finding::new(msg, Some(exchange)));
    };
    let Ok(body) = response.json() else {
        return Ok(None);
    };
    let Some(schema) = json_schema(doc, &documented["content"]) else {
        return Ok(Some(body));
    };
    if let Some(problem) = mismatch(doc, schema, &body) {
        let msg = format!(
            "{name} answered {status} with a body that does not fit the schema its document gives: {problem}"
        );
        return Err(Finding::new(msg, Some(exchange)));
    }
    Ok(Some(body))
}

/// Why `body` does not fit `schema` (references resolved within `doc`), if it does not.
fn mismatch(doc: &Value, schema: &Value, body: &Value) -> Option<String> {
    // The whole document is the root, so `#/components/...` references resolve; the schema
    // checked is the one referenced from it.
    let mut root = doc.clone();
    if let Some(map) = root.as_object_mut() {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert("$defs".into(), json!({ "reqlab_checked": schema }));
        map.insert("$ref".into(), json!("#/$defs/reqlab_checked"));
    }
    let validator = match jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
    {
        Ok(v) => v,
        Err(e) => return Some(format!("the schema itself cannot be used: {e}")),
    };
    let errors: Vec<String> = validator
        .iter_errors(body)
        .take(3)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("at {at}: {e}")
            }
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// An OpenAPI 3.0 document's schemas as JSON Schema: `nullable: true` becomes a `null` type
/// (3.1 documents already are JSON Schema).
fn as_json_schema(mut doc: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.remove("nullable") == Some(Value::Bool(true)) {
                    match map.get_mut("type") {
                        Some(Value::String(t)) => {
                            let t = t.clone();
                            map.insert("type".into(), json!([t, "null"]));
                        }
                        Some(Value::Array(types)) => types.push(json!("null")),
                        _ => {}
                    }
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.0"))
    {
        walk(&mut doc);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "openapi": "3.1.0",
            "paths": {
                "/tasks": { "post": {
                    "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/New" } } } },
                    "responses": {
                        "201": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Task" } } } },
                        "4XX": { "description": "refused" }
                    }
                } },
                "/tasks/{task_id}": { "get": { "responses": { "200": {} } } }
            },
            "components": { "schemas": {
                "New": { "type": "object", "required": ["title"], "properties": {
                    "title": { "anyOf": [{ "type": "string", "minLength": 1, "maxLength": 200 }, { "type": "null" }] }
                } },
                "Task": { "type": "object", "required": ["id", "done"], "properties": {
                    "id": { "type": "integer" }, "done": { "type": "boolean" }
                } }
            } }
        })
    }

    #[test]
    fn templates_match_by_shape() {
        let doc = doc();
        assert_eq!(
            operation(&doc, "GET /tasks/{id}").unwrap().template,
            "/tasks/{task_id}"
        );
        assert!(
            operation(&doc, "DELETE /tasks/{id}")
                .err()
                .unwrap()
                .contains("no DELETE")
        );
        assert!(operation(&doc, "GET /users").is_err());
    }

    #[test]
    fn a_body_is_checked_against_the_referenced_schema() {
        let doc = doc();
        let schema = json!({ "$ref": "#/components/schemas/Task" });
        assert_eq!(
            mismatch(&doc, &schema, &json!({ "id": 1, "done": false })),
            None
        );
        let problem = mismatch(&doc, &schema, &json!({ "id": 1, "done": 0 })).unwrap();
        assert!(problem.contains("/done"), "{problem}");
    }

    #[test]
    fn statuses_are_found_exactly_by_class_or_not_at_all() {
        let doc = doc();
        let post = operation(&doc, "POST /tasks").unwrap();
        assert!(documented(&doc, &post, 201, false).is_some());
        assert!(
            documented(&doc, &post, 422, false).is_some(),
            "4XX covers it"
        );
        assert!(documented(&doc, &post, 500, true).is_none());
    }

    #[test]
    fn an_optional_text_field_is_read_through_its_string_branch() {
        let doc = doc();
        let (properties, required) =
            object_parts(&doc, &json!({ "$ref": "#/components/schemas/New" }));
        assert_eq!(required, ["title"]);
        assert_eq!(string_schema(&doc, &properties["title"])["maxLength"], 200);
    }

    #[test]
    fn a_3_0_document_s_nullable_fields_become_null_types() {
        let doc = as_json_schema(json!({
            "openapi": "3.0.3",
            "components": { "schemas": { "T": { "type": "string", "nullable": true } } }
        }));
        assert_eq!(
            doc["components"]["schemas"]["T"]["type"],
            json!(["string", "null"])
        );
    }
}

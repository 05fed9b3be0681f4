//! The answers every operation may give because of the layers around its handler, added to the
//! document once instead of on every handler: the shape of every error, the refusals of a body
//! that cannot be read, and the 406 for an `Accept` that excludes what the operation sends.

use crate::lab::error::{PROBLEM_JSON, ProblemBody};
use crate::lab::guard::answers_json;
use serde_json::{Map, Value, json};
use utoipa::{PartialSchema, ToSchema};

/// The methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Statuses any operation with a request body may answer before its handler runs.
const BODY_REFUSALS: [(&str, &str); 3] = [
    (
        "408",
        "The body did not arrive in time: the lab waits a bounded time for it.",
    ),
    ("413", "The body is larger than the lab accepts."),
    (
        "415",
        "The body's Content-Type is not one this operation reads (the Accept-Post header lists what it does).",
    ),
];

/// Adds the shared answers to every operation of `doc`, and the `Problem` schema they use.
pub fn add(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    if !schemas.is_object() {
        *schemas = Value::Object(Map::new());
    }
    let mut problem_schemas = vec![(ProblemBody::name().into_owned(), ProblemBody::schema())];
    ProblemBody::schemas(&mut problem_schemas);
    for (name, schema) in problem_schemas {
        schemas[name] = serde_json::to_value(schema).expect("a schema always serializes");
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(operation) = item.get_mut(method) {
                add_to_operation(operation, answers_json(path), method);
            }
        }
    }
}

fn add_to_operation(operation: &mut Value, answers_json: bool, method: &str) {
    let body_types: Vec<String> = operation["requestBody"]["content"]
        .as_object()
        .map(|content| content.keys().cloned().collect())
        .unwrap_or_default();
    let Some(responses) = operation["responses"].as_object_mut() else {
        return;
    };
    if !body_types.is_empty() {
        let malformed = if body_types.iter().any(|t| t.contains("json")) {
            "The body is not valid JSON (or is nested too deeply), so nothing after parsing ran."
        } else {
            "The body could not be read as the declared media type."
        };
        responses
            .entry("400")
            .or_insert_with(|| json!({ "description": malformed }));
        for (status, description) in BODY_REFUSALS {
            responses
                .entry(status)
                .or_insert_with(|| json!({ "description": description }));
        }
    }
    if answers_json {
        responses.entry("406").or_insert_with(|| {
            json!({ "description": "The request's Accept header allows no JSON, which is all this operation sends." })
        });
    }
    if !matches!(method, "get" | "head" | "options" | "trace") {
        responses.entry("403").or_insert_with(|| {
            json!({ "description": "A page on another site (an Origin the lab does not list) may not change data here." })
        });
    }
    for (status, response) in responses.iter_mut() {
        let error = status.starts_with('4') || status.starts_with('5');
        if error && response.get("content").is_none() {
            response["content"] = json!({
                PROBLEM_JSON: { "schema": { "$ref": format!("#/components/schemas/{}", ProblemBody::name()) } }
            });
        }
    }
    // Keep the responses in status order, as people read them.
    let mut sorted: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    responses.extend(sorted);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_body_gets_its_refusals_and_errors_get_the_problem_shape() {
        let mut doc = json!({
            "paths": { "/things": { "post": {
                "requestBody": { "content": { "application/json": {} } },
                "responses": {
                    "201": { "description": "made", "content": { "application/json": {} } },
                    "422": { "description": "invalid" }
                }
            } } }
        });
        add(&mut doc);
        let responses = &doc["paths"]["/things"]["post"]["responses"];
        let statuses: Vec<&String> = responses.as_object().unwrap().keys().collect();
        assert_eq!(
            statuses,
            ["201", "400", "403", "406", "408", "413", "415", "422"]
        );
        assert_eq!(
            responses["422"]["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        assert!(responses["201"]["content"]["application/json"].is_object());
        assert_eq!(doc["components"]["schemas"]["Problem"]["type"], "object");
    }

    #[test]
    fn an_operation_without_a_body_or_json_gets_nothing_it_cannot_answer() {
        let mut doc = json!({
            "paths": { "/metrics": { "get": {
                "responses": { "200": { "description": "text", "content": { "text/plain": {} } } }
            } } }
        });
        add(&mut doc);
        let responses = doc["paths"]["/metrics"]["get"]["responses"]
            .as_object()
            .unwrap();
        assert_eq!(responses.keys().collect::<Vec<_>>(), ["200"]);
    }
}

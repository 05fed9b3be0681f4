//! `{{name}}` templates in challenge steps: built-in values and values captured earlier.

use std::collections::HashMap;

/// Variables every run defines.
pub const BUILT_INS: [&str; 2] = ["run", "n"];

/// The `{{name}}` variables a text uses, in order.
pub fn variables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    out
}

/// Values available to templates during one run.
#[derive(Debug, Clone, Default)]
pub struct Vars(HashMap<String, String>);

impl Vars {
    /// Variables for a new run: `run` is a short random suffix that makes data unique.
    pub fn for_run() -> Vars {
        let mut vars = Vars::default();
        let id = uuid::Uuid::new_v4().simple().to_string();
        vars.set("run", &id[..8]);
        vars
    }

    /// Sets a variable.
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_string(), value.to_string());
    }

    /// Every variable and its value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Replaces every `{{name}}`; an unknown name is an error naming it.
    pub fn render(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let name = after[..end].trim();
            let value = self.get(name).ok_or_else(|| {
                format!("needs {{{{{name}}}}}, which an earlier check did not capture")
            })?;
            out.push_str(value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Renders every string inside a JSON value.
    pub fn render_json(&self, value: &serde_json::Value) -> Result<serde_json::Value, String> {
        use serde_json::Value;
        Ok(match value {
            Value::String(s) => Value::String(self.render(s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.render_json(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_json(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_variables_and_names_unknown_ones() {
        let mut v = Vars::default();
        v.set("id", "7");
        assert_eq!(
            v.render("/tasks/{{id}}?x={{ id }}").unwrap(),
            "/tasks/7?x=7"
        );
        assert!(
            v.render("/tasks/{{nope}}")
                .unwrap_err()
                .contains("{{nope}}")
        );
        assert_eq!(v.render("no vars {").unwrap(), "no vars {");
        assert_eq!(variables("a {{x}} b {{ y }}"), ["x", "y"]);
    }

    #[test]
    fn each_run_gets_a_fresh_suffix() {
        assert_ne!(Vars::for_run().get("run"), Vars::for_run().get("run"));
    }
}

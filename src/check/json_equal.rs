//! Comparing a value a check expects with one a server sent, where captured values
//! (always strings) must still match the numbers and booleans they came from.

use serde_json::Value;

/// Equality where a string compares equal to a number or boolean that prints the same
/// (captured values are strings).
pub fn json_equal(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(e), Value::Number(_) | Value::Bool(_)) => {
            e.as_str() == actual.to_string().as_str()
        }
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => expected == actual,
    }
}

//! Reading WeChat's JSON the way real servers send it: numbers that arrive as
//! strings, fields left out, `null` where a value should be.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A number, a numeric string, or nothing. Anything else is an error, so a field of
/// the wrong type fails the response instead of turning into a made-up value.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    value_f64(v.as_ref()).map_err(serde::de::Error::custom)
}

/// Like [`opt_f64`], for fields that must be whole numbers (codes, levels, times).
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    value_i64(v.as_ref()).map_err(serde::de::Error::custom)
}

/// A string, or a number given where a string was documented.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!("expected a string, got {}", kind(&other)))),
    }
}

/// A list, with `null` or a missing field read as empty.
pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

pub fn value_f64(v: Option<&Value>) -> Result<Option<f64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Some(f)),
            _ => Err(format!("expected a number, got the string {:?}", truncate(s))),
        },
        Some(other) => Err(format!("expected a number, got {}", kind(other))),
    }
}

pub fn value_i64(v: Option<&Value>) -> Result<Option<i64>, String> {
    match value_f64(v)? {
        None => Ok(None),
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        Some(f) => Err(format!("expected a whole number, got {f}")),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_strings_and_gaps() {
        assert_eq!(value_f64(Some(&json!(1.5))), Ok(Some(1.5)));
        assert_eq!(value_f64(Some(&json!("42"))), Ok(Some(42.0)));
        assert_eq!(value_f64(Some(&json!(" 0.5 "))), Ok(Some(0.5)));
        assert_eq!(value_f64(Some(&json!(null))), Ok(None));
        assert_eq!(value_f64(None), Ok(None));
        assert_eq!(value_f64(Some(&json!(""))), Ok(None));
        assert!(value_f64(Some(&json!("N/A"))).is_err());
        assert!(value_f64(Some(&json!("NaN"))).is_err());
        assert!(value_f64(Some(&json!({"a": 1}))).is_err());
        assert!(value_f64(Some(&json!(true))).is_err());
        assert_eq!(value_i64(Some(&json!("2300"))), Ok(Some(2300)));
        assert!(value_i64(Some(&json!(1.5))).is_err());
    }
}

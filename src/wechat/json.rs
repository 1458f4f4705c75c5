//! Reading WeChat's JSON the way real servers send it: numbers that arrive as
//! strings, fields left out, `null` where a value should be.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A value as WeChat sends it, loosely typed: `Loose<f64>` takes a number or a
/// numeric string, `Loose<i64>` a whole one, `Loose<String>` a string or a number
/// given where a string was documented. Nothing (left out, `null`, `""`) is
/// `Loose(None)`, a missing sample; anything else fails the response instead of
/// turning into a made-up value. Row structs say `#[serde(default)]` once, and a
/// left-out field is `Loose(None)` too.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loose<T>(pub Option<T>);

impl<T: Copy> Loose<T> {
    pub fn get(&self) -> Option<T> {
        self.0
    }
}

impl Loose<String> {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<T> From<T> for Loose<T> {
    fn from(v: T) -> Loose<T> {
        Loose(Some(v))
    }
}

impl<'de> Deserialize<'de> for Loose<f64> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Loose<f64>, D::Error> {
        let v = Option::<Value>::deserialize(d)?;
        value_f64(v.as_ref()).map(Loose).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Loose<i64> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Loose<i64>, D::Error> {
        let v = Option::<Value>::deserialize(d)?;
        value_i64(v.as_ref()).map(Loose).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Loose<String> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Loose<String>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(Loose(None)),
            Some(Value::String(s)) => Ok(Loose(Some(s))),
            Some(Value::Number(n)) => Ok(Loose(Some(n.to_string()))),
            Some(other) => Err(serde::de::Error::custom(format!("expected a string, got {}", kind(&other)))),
        }
    }
}

/// As WeChat writes numbers: whole ones without a fraction. Nothing is `null`.
impl Serialize for Loose<f64> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => s.serialize_i64(f as i64),
            Some(f) => s.serialize_f64(f),
            None => s.serialize_none(),
        }
    }
}

impl Serialize for Loose<i64> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Serialize for Loose<String> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// [`Loose<f64>`] for a field that stays an `Option<f64>`.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Loose::<f64>::deserialize(d).map(|l| l.0)
}

/// [`Loose<i64>`] for a field that stays an `Option<i64>`.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Loose::<i64>::deserialize(d).map(|l| l.0)
}

/// [`Loose<String>`] for a field that stays an `Option<String>`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Loose::<String>::deserialize(d).map(|l| l.0)
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

    #[derive(Deserialize, Serialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Row {
        n: Loose<f64>,
        i: Loose<i64>,
        s: Loose<String>,
    }

    #[test]
    fn loose_fields_say_it_once() {
        let r: Row = serde_json::from_value(json!({"n": "1.5", "i": "2300", "s": 20240101})).unwrap();
        assert_eq!(r, Row { n: 1.5.into(), i: 2300.into(), s: "20240101".to_string().into() });
        let gaps: Row = serde_json::from_value(json!({"n": "", "i": null})).unwrap();
        assert_eq!(gaps, Row::default(), "left out, null and \"\" are nothing");
        assert!(serde_json::from_value::<Row>(json!({"n": "N/A"})).is_err());
        assert!(serde_json::from_value::<Row>(json!({"i": 1.5})).is_err());
        assert!(serde_json::from_value::<Row>(json!({"s": [1]})).is_err());
        let out = serde_json::to_value(Row { n: 12.0.into(), i: Loose(None), s: "x".to_string().into() }).unwrap();
        assert_eq!(out, json!({"n": 12, "i": null, "s": "x"}), "whole numbers go out without a fraction");
        assert_eq!(serde_json::to_value(Loose(Some(0.25))).unwrap(), json!(0.25));
    }

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

//! Request bodies that must be JSON objects.
//!
//! serde's derived `Deserialize` for a struct also accepts a JSON array of
//! its fields in declaration order (`["ada@example.com", "..."]` for a
//! sign-up), a form no client means and no published document allows.
//! Extract `web::Json<Object<T>>` instead of `web::Json<T>` and anything
//! but an object is refused like any other invalid body (422
//! `request.invalid_body`, through [`crate::error::json_config`]).

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, de};

/// A `T` read from a JSON object and nothing else.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<T> Object<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Object<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: DeserializeOwned> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                // The map's own error type, so a syntax error inside the
                // object stays one (400, not 422).
                T::deserialize(MapAccessDeserializer::new(map)).map(Object)
            }
        }

        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

/// An integer field that also takes a JSON number with a zero fraction
/// (`3.0`): JSON Schema's `integer` is any number without a fractional
/// part, so a document that says `integer` promises to accept it. For
/// `#[serde(deserialize_with = "tenant_core::json::integer")]`.
pub fn integer<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    deserializer.deserialize_any(IntegerVisitor(PhantomData))
}

/// [`integer`] for an optional field (absent or `null`: `None`); give the
/// field `#[serde(default)]` too.
pub fn optional_integer<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    Option::<Integral<T>>::deserialize(deserializer).map(|value| value.map(|Integral(n)| n))
}

struct Integral<T>(T);

impl<'de, T: TryFrom<i64> + TryFrom<u64>> Deserialize<'de> for Integral<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        integer(deserializer).map(Integral)
    }
}

struct IntegerVisitor<T>(PhantomData<T>);

impl<T: TryFrom<i64> + TryFrom<u64>> Visitor<'_> for IntegerVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(value), &self))
    }

    #[expect(
        clippy::cast_possible_truncation,
        reason = "only whole numbers well inside the i64 range are converted"
    )]
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        // 2^63: every whole f64 below it in magnitude is an exact i64.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if value.fract() == 0.0 && value.abs() < LIMIT {
            self.visit_i64(value as i64)
        } else {
            Err(E::invalid_type(de::Unexpected::Float(value), &self))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Login {
        email: String,
        remember: Option<bool>,
    }

    #[test]
    fn an_object_is_read_as_the_struct_it_holds() {
        let read: Object<Login> =
            serde_json::from_str(r#"{"email": "ada@example.com", "remember": true}"#).unwrap();
        assert_eq!(
            read.into_inner(),
            Login {
                email: "ada@example.com".into(),
                remember: Some(true)
            }
        );
    }

    #[test]
    fn arrays_and_other_values_are_refused_as_invalid_data() {
        // The plain derive takes the array form.
        assert!(serde_json::from_str::<Login>(r#"["ada@example.com", null]"#).is_ok());
        for body in [r#"["ada@example.com", null]"#, "null", "1", r#""text""#] {
            let error = serde_json::from_str::<Object<Login>>(body).unwrap_err();
            assert!(error.is_data(), "{body}: {error}");
        }
    }

    #[test]
    fn the_struct_own_rules_still_apply() {
        let unknown =
            serde_json::from_str::<Object<Login>>(r#"{"email": "a@b.c", "other": 1}"#).unwrap_err();
        assert!(unknown.to_string().contains("unknown field"), "{unknown}");
        let missing = serde_json::from_str::<Object<Login>>("{}").unwrap_err();
        assert!(missing.to_string().contains("missing field"), "{missing}");
        let truncated =
            serde_json::from_str::<Object<Login>>(r#"{"email": "a@b.c", "#).unwrap_err();
        assert!(!truncated.is_data(), "{truncated}");
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Counts {
        #[serde(deserialize_with = "integer")]
        retries: i32,
        #[serde(default, deserialize_with = "optional_integer")]
        duration_ms: Option<i64>,
    }

    #[test]
    fn integers_may_be_written_with_a_zero_fraction() {
        let read: Counts =
            serde_json::from_str(r#"{"retries": 2.0, "duration_ms": 6773.0}"#).unwrap();
        assert_eq!(
            read,
            Counts {
                retries: 2,
                duration_ms: Some(6773)
            }
        );
        let read: Counts = serde_json::from_str(r#"{"retries": 0, "duration_ms": null}"#).unwrap();
        assert_eq!(read.duration_ms, None);
        let read: Counts = serde_json::from_str(r#"{"retries": 0}"#).unwrap();
        assert_eq!(read.duration_ms, None);
    }

    #[test]
    fn fractions_out_of_range_values_and_other_types_are_refused() {
        for body in [
            r#"{"retries": 2.5}"#,
            r#"{"retries": 3000000000}"#,
            r#"{"retries": 1e300}"#,
            r#"{"retries": "2"}"#,
            r#"{"retries": 0, "duration_ms": 0.1}"#,
        ] {
            let error = serde_json::from_str::<Counts>(body).unwrap_err();
            assert!(error.is_data(), "{body}: {error}");
        }
    }
}

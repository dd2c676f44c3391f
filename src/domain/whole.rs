//! Whole numbers as JSON Schema reads them: `integer` is any number without a fraction,
//! so `1.0` is the integer 1 (serde's integers refuse it). For `#[serde(deserialize_with)]`.

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::Number;

fn whole<T: TryFrom<i64> + TryFrom<u64>, E: Error>(n: &Number) -> Result<T, E> {
    let out_of_range = || E::custom(format!("{n} is out of range"));
    if let Some(u) = n.as_u64() {
        return T::try_from(u).map_err(|_| out_of_range());
    }
    if let Some(i) = n.as_i64() {
        return T::try_from(i).map_err(|_| out_of_range());
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            T::try_from(f as i64).map_err(|_| out_of_range())
        }
        Some(f) if f.fract() == 0.0 => Err(out_of_range()),
        _ => Err(E::custom(format!("{n} is not a whole number"))),
    }
}

/// `Option<T>`: absent or `null` is `None`. Give the field `#[serde(default)]` too.
pub fn option<'de, D: Deserializer<'de>, T: TryFrom<i64> + TryFrom<u64>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<Number>::deserialize(d)?
        .map(|n| whole(&n))
        .transpose()
}

/// A required `T`.
pub fn required<'de, D: Deserializer<'de>, T: TryFrom<i64> + TryFrom<u64>>(
    d: D,
) -> Result<T, D::Error> {
    whole(&Number::deserialize(d)?)
}

pub fn vec<'de, D: Deserializer<'de>, T: TryFrom<i64> + TryFrom<u64>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Vec::<Number>::deserialize(d)?.iter().map(whole).collect()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Fields {
        #[serde(default, deserialize_with = "super::option")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "super::vec")]
        v: Vec<i64>,
    }

    fn parse(json: &str) -> Result<Fields, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn a_number_without_a_fraction_is_whole() {
        let f = parse(r#"{"n": 30.0, "v": [1, -2.0, 3e2]}"#).unwrap();
        assert_eq!(f.n, Some(30));
        assert_eq!(f.v, vec![1, -2, 300]);
        assert_eq!(parse(r#"{"n": null}"#).unwrap().n, None);
        assert_eq!(parse("{}").unwrap().n, None);
    }

    #[test]
    fn fractions_and_out_of_range_numbers_are_refused() {
        assert!(parse(r#"{"n": 1.5}"#).is_err());
        assert!(parse(r#"{"n": -1}"#).is_err());
        assert!(parse(r#"{"n": 1e300}"#).is_err());
        assert!(parse(r#"{"n": "1"}"#).is_err());
        assert!(parse(r#"{"v": [18446744073709551615]}"#).is_err());
    }
}

//! Versions and aliases, as Lambda has them: a published version is an
//! immutable copy of a function's code (by its SHA-256) and configuration,
//! numbered 1, 2, … (numbers never reused); an alias is a named pointer to a
//! version or `$LATEST`, optionally sending a weight of invocations to one
//! more published version. Validation follows AWS's rules and messages.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::FunctionConfig;

/// One published version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublishedVersion {
    /// Its number.
    pub version: u64,
    /// Given at publish.
    #[serde(default)]
    pub description: String,
    /// SHA-256 of the code, hex.
    pub code_sha256: String,
    /// The copy of the code, a file name in the version store's `code/` folder.
    pub code_file: String,
    /// Size of the code in bytes.
    #[serde(default)]
    pub code_size: u64,
    /// The configuration it runs with (never changes).
    pub config: FunctionConfig,
    /// When it was published.
    pub created: DateTime<Utc>,
    /// Its revision id (never changes: a version is immutable).
    pub revision_id: String,
}

impl PublishedVersion {
    /// The SHA-256 as Lambda's `CodeSha256` gives it: base64 of the digest.
    pub fn code_sha256_base64(&self) -> String {
        use base64::Engine;
        let hex = &self.code_sha256;
        let digest: Vec<u8> = (0..hex.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        base64::engine::general_purpose::STANDARD.encode(digest)
    }
}

/// An alias's second version and the share of invocations it gets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AliasRouting {
    /// A published version number.
    pub version: String,
    /// 0.0–1.0 of invocations.
    pub weight: f64,
}

/// A named pointer to a version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    /// Its name.
    pub name: String,
    /// `$LATEST` or a version number.
    pub function_version: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// A second version with a weight.
    #[serde(default)]
    pub routing: Option<AliasRouting>,
    /// Changes at every update.
    pub revision_id: String,
}

/// One function's versions and aliases.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionVersions {
    /// The last number given (numbers are never reused, even after a delete).
    #[serde(default)]
    pub last_version: u64,
    /// Published versions, by number.
    #[serde(default)]
    pub versions: BTreeMap<u64, PublishedVersion>,
    /// Aliases, by name.
    #[serde(default)]
    pub aliases: BTreeMap<String, Alias>,
}

/// Everything the version store keeps, by function name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionsFile {
    /// Schema version of this file.
    #[serde(default)]
    pub schema: u32,
    /// By function name.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionVersions>,
}

/// What a qualifier names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Qualifier {
    /// `$LATEST` (or none given).
    Latest,
    /// A version number.
    Version(u64),
    /// An alias name.
    Alias(String),
}

impl Qualifier {
    /// Reads a qualifier; `None` is `$LATEST`.
    pub fn parse(q: Option<&str>) -> Result<Self, String> {
        match q {
            None | Some("$LATEST") => Ok(Self::Latest),
            Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
                .parse()
                .map(Self::Version)
                .map_err(|_| format!("Invalid version {s}")),
            Some(s) => validate_alias_name(s).map(|()| Self::Alias(s.to_owned())),
        }
    }
}

/// AWS's rule for alias names: `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, 1–128 characters.
pub fn validate_alias_name(name: &str) -> Result<(), String> {
    let pattern_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit());
    if !pattern_ok {
        return Err(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        ));
    }
    if name.len() > 128 {
        return Err(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: \
             Member must have length less than or equal to 128"
        ));
    }
    Ok(())
}

/// Why an alias's settings are refused: AWS's error type and message.
#[derive(Clone, Debug, PartialEq)]
pub struct AliasProblem {
    /// `ValidationException` or `InvalidParameterValueException`.
    pub error_type: &'static str,
    /// AWS's message.
    pub message: String,
}

fn validation(message: String) -> AliasProblem {
    AliasProblem {
        error_type: "ValidationException",
        message,
    }
}

fn invalid(message: String) -> AliasProblem {
    AliasProblem {
        error_type: "InvalidParameterValueException",
        message,
    }
}

/// Checks an alias's routing (`AdditionalVersionWeights`) against its main
/// version, as AWS does: at most one entry, a weight within 0.0–1.0, a
/// version number as the key, not the main version, not with `$LATEST`.
/// Whether the version exists is checked by the caller (404).
pub fn validate_routing(
    main_version: &str,
    weights: &BTreeMap<String, f64>,
) -> Result<Option<AliasRouting>, AliasProblem> {
    if weights.len() > 1 {
        return Err(invalid(
            "Number of items in AdditionalVersionWeights cannot be greater than 1".into(),
        ));
    }
    let Some((key, weight)) = weights.iter().next() else {
        return Ok(None);
    };
    if !weight.is_finite() || !(0.0..=1.0).contains(weight) {
        return Err(validation(format!(
            "1 validation error detected: Value '{{{key}={weight}}}' at 'routingConfig.additionalVersionWeights' \
             failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than \
             or equal to 1.0, Member must have value greater than or equal to 0.0]"
        )));
    }
    if key.is_empty() || key.len() > 1024 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err(validation(format!(
            "1 validation error detected: Value '{{{key}={weight}}}' at 'routingConfig.additionalVersionWeights' \
             failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than \
             or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular \
             expression pattern: [0-9]+]"
        )));
    }
    if main_version == "$LATEST" {
        return Err(invalid(
            "$LATEST is not supported for an alias pointing to more than 1 version".into(),
        ));
    }
    if key == main_version {
        return Err(invalid(format!(
            "Invalid function version {main_version}. Function version {main_version} is already included in routing configuration."
        )));
    }
    Ok(Some(AliasRouting {
        version: key.clone(),
        weight: *weight,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn alias_names_follow_aws_rules() {
        for ok in ["live", "prod-1", "blue_green", "1a", "A"] {
            assert!(validate_alias_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "123", "has space", "a:b", "$LATEST", "ünï"] {
            assert!(validate_alias_name(bad).is_err(), "{bad}");
        }
        assert!(validate_alias_name(&"a".repeat(128)).is_ok());
        assert!(
            validate_alias_name(&"a".repeat(129))
                .unwrap_err()
                .contains("less than or equal to 128")
        );
    }

    #[test]
    fn qualifiers_are_latest_versions_or_aliases() {
        assert_eq!(Qualifier::parse(None), Ok(Qualifier::Latest));
        assert_eq!(Qualifier::parse(Some("$LATEST")), Ok(Qualifier::Latest));
        assert_eq!(Qualifier::parse(Some("12")), Ok(Qualifier::Version(12)));
        assert_eq!(
            Qualifier::parse(Some("live")),
            Ok(Qualifier::Alias("live".into()))
        );
        assert!(Qualifier::parse(Some("no/slash")).is_err());
        assert!(Qualifier::parse(Some("99999999999999999999999")).is_err());
    }

    #[test]
    fn routing_is_checked_as_aws_checks_it() {
        assert_eq!(validate_routing("1", &weights(&[])), Ok(None));
        let r = validate_routing("1", &weights(&[("2", 0.2)]))
            .unwrap()
            .unwrap();
        assert_eq!((r.version.as_str(), r.weight), ("2", 0.2));
        let e = validate_routing("1", &weights(&[("2", 1.5)])).unwrap_err();
        assert_eq!(e.error_type, "ValidationException");
        assert!(e.message.contains("'{2=1.5}'"), "{}", e.message);
        assert!(validate_routing("1", &weights(&[("2", -0.1)])).is_err());
        assert!(validate_routing("1", &weights(&[("2", f64::NAN)])).is_err());
        let e = validate_routing("1", &weights(&[("2", 0.1), ("3", 0.1)])).unwrap_err();
        assert_eq!(
            e.message,
            "Number of items in AdditionalVersionWeights cannot be greater than 1"
        );
        let e = validate_routing("1", &weights(&[("1", 0.5)])).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid function version 1. Function version 1 is already included in routing configuration."
        );
        let e = validate_routing("$LATEST", &weights(&[("2", 0.5)])).unwrap_err();
        assert_eq!(
            e.message,
            "$LATEST is not supported for an alias pointing to more than 1 version"
        );
        let e = validate_routing("1", &weights(&[("live", 0.5)])).unwrap_err();
        assert!(e.message.contains("pattern: [0-9]+"));
    }
}

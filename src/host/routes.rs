//! HTTP routes as triggers: `METHOD /path` patterns with `{param}` and a
//! greedy `{proxy+}`, and the table the HTTP API reads (copy on write, so a
//! slow function never holds up a change).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use anyhow::bail;

use crate::host::invoker::Invoker;
use crate::model::TriggerSource;
pub use crate::model::trigger::PayloadFormat;

/// One route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, … or `None` for any method.
    pub method: Option<String>,
    /// The path pattern, such as `/items/{id}` or `/files/{proxy+}`.
    pub path: String,
    /// The function invoked.
    pub function: String,
    /// Event and response format.
    pub format: PayloadFormat,
}

impl Route {
    /// Parses `METHOD /path=FUNCTION`, with an optional `@1.0` or `@2.0`
    /// suffix (default 2.0) and `ANY` for every method.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let (function, source) =
            TriggerSource::parse_spec("route", spec).map_err(anyhow::Error::msg)?;
        Self::new(&function, &source)
    }

    /// The route of an HTTP trigger.
    pub fn new(function: &str, source: &TriggerSource) -> anyhow::Result<Self> {
        let TriggerSource::Http {
            method,
            path,
            payload_format,
        } = source
        else {
            bail!("not an HTTP trigger");
        };
        let method = method.to_ascii_uppercase();
        Ok(Self {
            method: (method != "ANY").then_some(method),
            path: path.clone(),
            function: function.to_owned(),
            format: *payload_format,
        })
    }

    /// API Gateway's route key (`GET /items/{id}`).
    pub fn key(&self) -> String {
        format!("{} {}", self.method.as_deref().unwrap_or("ANY"), self.path)
    }

    /// Path parameters when `path` matches.
    pub fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return None;
        }
        let pattern: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut params = BTreeMap::new();
        for (i, p) in pattern.iter().enumerate() {
            if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
                if i >= parts.len() {
                    return None;
                }
                params.insert(name.to_owned(), parts[i..].join("/"));
                return Some(params);
            }
            let part = parts.get(i)?;
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => {
                    params.insert(name.to_owned(), (*part).to_owned());
                }
                None if p == part => {}
                None => return None,
            }
        }
        (pattern.len() == parts.len()).then_some(params)
    }
}

/// HTTP routes and the invokers of their triggers. Readers take the inner
/// `Arc` and let go at once, so a slow function never holds up a change.
pub type RouteTable = Arc<RwLock<Arc<Vec<(Route, Invoker)>>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_params_and_greedy_proxy() {
        let r = Route::parse("GET /items/{id}=items").unwrap();
        assert_eq!(r.matches("GET", "/items/42").unwrap()["id"], "42");
        assert!(r.matches("POST", "/items/42").is_none());
        assert!(r.matches("GET", "/items/42/x").is_none());
        let p = Route::parse("ANY /files/{proxy+}=files@1.0").unwrap();
        assert_eq!(p.format, PayloadFormat::V1);
        assert_eq!(
            p.matches("DELETE", "/files/a/b/c.txt").unwrap()["proxy"],
            "a/b/c.txt"
        );
        assert!(p.matches("GET", "/files").is_none());
        assert!(Route::parse("GET items=x").is_err());
    }
}

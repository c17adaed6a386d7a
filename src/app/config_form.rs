//! The settings form's draft: text fields that may hold invalid input, turned
//! into a [`FunctionConfig`] or into per-field messages.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::model::config::{
    self, ConfigError, EPHEMERAL_MAX_MB, EPHEMERAL_MIN_MB, IDLE_MAX_S, MEMORY_MAX_MB,
    MEMORY_MIN_MB, TIMEOUT_MAX_S, TIMEOUT_MIN_S,
};
use crate::model::{FunctionConfig, Mount, Role};

/// One mount as edited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountDraft {
    /// Host folder.
    pub host: String,
    /// Guest path.
    pub guest: String,
    /// Read-only.
    pub read_only: bool,
}

/// The form's fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigDraft {
    /// What the code is (kept as it is: the code decides it).
    pub runtime: crate::model::Language,
    /// Handler export (or `file.export`).
    pub handler: String,
    /// Memory, MB.
    pub memory: String,
    /// Timeout, s.
    pub timeout: String,
    /// Ephemeral storage (`/tmp`), MB.
    pub ephemeral: String,
    /// Environment variables in order.
    pub env: Vec<(String, String)>,
    /// Role name.
    pub role: String,
    /// Mounts.
    pub mounts: Vec<MountDraft>,
    /// Outbound grants, one `scheme://host[:port]` pattern per line.
    pub outbound: String,
    /// Reserved concurrency; empty for unreserved.
    pub reserved: String,
    /// Idle time before reaping, s.
    pub idle: String,
    /// Arguments, one per line.
    pub args: String,
    /// Asynchronous invocation settings (kept as they are; not edited here yet).
    pub async_invoke: crate::model::AsyncInvokeConfig,
    /// Lambda's `Description`.
    pub description: String,
    /// SnapStart on published versions.
    pub snap_start: bool,
    /// Lambda's runtime identifier as given (kept while the language is).
    pub runtime_id: String,
}

impl ConfigDraft {
    /// The form for `c`.
    pub fn from_config(c: &FunctionConfig) -> Self {
        Self {
            runtime: c.runtime,
            handler: c.handler.clone(),
            memory: c.memory_mb.to_string(),
            timeout: c.timeout_s.to_string(),
            ephemeral: c.ephemeral_storage_mb.to_string(),
            env: c
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            role: c.role.name.clone(),
            mounts: c
                .role
                .mounts
                .iter()
                .map(|m| MountDraft {
                    host: m.host_path.display().to_string(),
                    guest: m.guest_path.clone(),
                    read_only: m.read_only,
                })
                .collect(),
            outbound: c.role.outbound.join("\n"),
            reserved: c
                .reserved_concurrency
                .map(|n| n.to_string())
                .unwrap_or_default(),
            idle: c.idle_timeout_s.to_string(),
            args: c.args.join("\n"),
            async_invoke: c.async_invoke.clone(),
            description: c.description.clone(),
            snap_start: c.snap_start,
            runtime_id: c.runtime_id.clone(),
        }
    }

    /// The configuration, or every problem with its field.
    pub fn to_config(&self) -> Result<FunctionConfig, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut number = |field: &'static str, text: &str, range: String| -> u64 {
            match text.trim().parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    errors.push(ConfigError {
                        field,
                        message: format!(
                            "`{}` is not a whole number; allowed {range}",
                            text.trim()
                        ),
                    });
                    0
                }
            }
        };
        let memory = number(
            "memory_mb",
            &self.memory,
            format!("{MEMORY_MIN_MB}–{MEMORY_MAX_MB} MB"),
        );
        let timeout = number(
            "timeout_s",
            &self.timeout,
            format!("{TIMEOUT_MIN_S}–{TIMEOUT_MAX_S} seconds"),
        );
        let ephemeral = number(
            "ephemeral_storage_mb",
            &self.ephemeral,
            format!("{EPHEMERAL_MIN_MB}–{EPHEMERAL_MAX_MB} MB"),
        );
        let idle = number(
            "idle_timeout_s",
            &self.idle,
            format!("1–{IDLE_MAX_S} seconds"),
        );
        let reserved = if self.reserved.trim().is_empty() {
            None
        } else {
            Some(number(
                "reserved_concurrency",
                &self.reserved,
                "0–1000, or empty for unreserved".into(),
            ))
        };
        let mut environment = BTreeMap::new();
        for (k, v) in &self.env {
            if k.is_empty() && v.is_empty() {
                continue;
            }
            if environment.insert(k.clone(), v.clone()).is_some() {
                errors.push(ConfigError {
                    field: "environment",
                    message: format!("`{k}` appears twice"),
                });
            }
        }
        let config = FunctionConfig {
            runtime: self.runtime,
            handler: self.handler.trim().to_owned(),
            memory_mb: u32::try_from(memory).unwrap_or(u32::MAX),
            timeout_s: u32::try_from(timeout).unwrap_or(u32::MAX),
            ephemeral_storage_mb: u32::try_from(ephemeral).unwrap_or(u32::MAX),
            environment,
            role: Role {
                name: self.role.trim().to_owned(),
                mounts: self
                    .mounts
                    .iter()
                    .map(|m| Mount {
                        host_path: PathBuf::from(m.host.trim()),
                        guest_path: m.guest.trim().to_owned(),
                        read_only: m.read_only,
                    })
                    .collect(),
                outbound: self
                    .outbound
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
            reserved_concurrency: reserved.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            idle_timeout_s: idle,
            args: self
                .args
                .lines()
                .map(str::to_owned)
                .filter(|a| !a.is_empty())
                .collect(),
            async_invoke: self.async_invoke.clone(),
            description: self.description.trim().to_owned(),
            snap_start: self.snap_start,
            // Another language drops the identifier of the first.
            runtime_id: if crate::model::config::language_of_runtime_id(&self.runtime_id)
                == Some(self.runtime)
            {
                self.runtime_id.clone()
            } else {
                String::new()
            },
        };
        if errors.is_empty() {
            config.validate().map(|()| config)
        } else {
            // Report parse errors, plus range errors of fields that did parse.
            if let Err(more) = config.validate() {
                let more: Vec<ConfigError> = more
                    .into_iter()
                    .filter(|e| !errors.iter().any(|p| p.field == e.field))
                    .collect();
                errors.extend(more);
            }
            Err(errors)
        }
    }

    /// Bytes of environment variables (keys plus values).
    pub fn env_bytes(&self) -> usize {
        self.env.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
}

/// The message for `field`, if any.
pub fn message_for<'a>(errors: &'a [ConfigError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.as_str())
}

/// Keeps a linked helper referenced from the form (the limit shown next to the table).
pub const ENVIRONMENT_LIMIT: usize = config::ENVIRONMENT_MAX_BYTES;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_messages() {
        let c = FunctionConfig::default();
        let draft = ConfigDraft::from_config(&c);
        assert_eq!(draft.to_config().unwrap(), c);
        let bad = ConfigDraft {
            memory: "12x".into(),
            timeout: "901".into(),
            ..draft
        };
        let errors = bad.to_config().unwrap_err();
        assert_eq!(
            message_for(&errors, "memory_mb"),
            Some("`12x` is not a whole number; allowed 128–10240 MB")
        );
        assert_eq!(
            message_for(&errors, "timeout_s"),
            Some("901 is out of range; allowed 1–900 seconds")
        );
    }
}

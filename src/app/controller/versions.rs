//! Versions and aliases from the app: publishing, deleting a version,
//! creating, updating and deleting aliases (on named threads through the
//! trigger host's version store, answered as notices), the qualifier each
//! function is viewed and invoked through, and the snapshot the views read.

use std::collections::BTreeMap;

use super::{AliasEdit, Controller};

impl Controller {
    /// The published versions and aliases of `name`, as last read.
    pub fn versions_of(&self, name: &str) -> Option<&crate::model::versions::FunctionVersions> {
        self.versions.functions.get(name)
    }

    /// The qualifier `name` is viewed and invoked through (`None`: `$LATEST`).
    pub fn qualifier(&self, name: &str) -> Option<&str> {
        self.qualifiers.get(name).map(String::as_str)
    }

    pub(super) fn set_qualifier(&mut self, name: &str, qualifier: Option<String>) {
        match qualifier.filter(|q| q != "$LATEST") {
            Some(q) => self.qualifiers.insert(name.to_owned(), q),
            None => self.qualifiers.remove(name),
        };
    }

    /// Reads the version store again when it changed (never waiting for a
    /// writer: a busy store is read on a later frame).
    pub(super) fn refresh_versions(&mut self) {
        if !self.versions_stale {
            return;
        }
        let Some(host) = &self.triggers else { return };
        match host.versions().try_snapshot() {
            Some(s) => {
                self.versions = s;
                self.versions_stale = false;
                // A qualifier whose version or alias went is dropped.
                let versions = &self.versions;
                self.qualifiers.retain(|name, q| {
                    versions.functions.get(name).is_some_and(|f| {
                        f.aliases.contains_key(q)
                            || q.parse::<u64>().is_ok_and(|n| f.versions.contains_key(&n))
                    })
                });
            }
            None => (self.wake)(),
        }
    }

    pub(super) fn publish_version(&mut self, name: &str, description: String) {
        let name = name.to_owned();
        self.with_host("lambdesk-publish", move |host| {
            match host
                .versions()
                .publish(&name, Some(&description), None, None)
            {
                Ok(v) => Ok(format!("{name}: version {} published", v.version)),
                Err(e) => Err(format!("{name}: not published: {e}")),
            }
        });
    }

    pub(super) fn delete_version(&mut self, name: &str, version: u64) {
        let name = name.to_owned();
        self.with_host("lambdesk-versions", move |host| {
            match host.versions().delete_version(&name, version) {
                Ok(()) => Ok(format!("{name}: version {version} deleted")),
                Err(e) => Err(format!("{name}: version {version} not deleted: {e}")),
            }
        });
    }

    pub(super) fn save_alias(&mut self, edit: AliasEdit) {
        self.with_host("lambdesk-versions", move |host| {
            let weights: BTreeMap<String, f64> = edit.routing.clone().into_iter().collect();
            let v = host.versions();
            let result = if edit.create {
                v.create_alias(
                    &edit.function,
                    &edit.name,
                    &edit.version,
                    Some(&edit.description),
                    &weights,
                )
            } else {
                v.update_alias(
                    &edit.function,
                    &edit.name,
                    Some(&edit.version),
                    Some(&edit.description),
                    Some(&weights),
                    None,
                )
            };
            match result {
                Ok(a) => Ok(format!(
                    "{}: alias {} points to {}{}",
                    edit.function,
                    a.name,
                    a.function_version,
                    a.routing
                        .map(|r| format!(" ({:.0} % to {})", r.weight * 100.0, r.version))
                        .unwrap_or_default()
                )),
                Err(e) => Err(format!(
                    "{}: alias {} not saved: {e}",
                    edit.function, edit.name
                )),
            }
        });
    }

    pub(super) fn delete_alias(&mut self, name: &str, alias: &str) {
        let (name, alias) = (name.to_owned(), alias.to_owned());
        self.with_host("lambdesk-versions", move |host| {
            match host.versions().delete_alias(&name, &alias) {
                Ok(()) => Ok(format!("{name}: alias {alias} deleted")),
                Err(e) => Err(format!("{name}: alias {alias} not deleted: {e}")),
            }
        });
    }
}

//! Test events: select, edit, add, rename, duplicate, delete.

use super::Controller;
use crate::model::{FunctionEntry, TestEvent};

impl Controller {
    pub(super) fn select_event(&mut self, name: &str, i: usize) {
        if let Some(f) = self.entry_mut(name)
            && i < f.events.len()
        {
            f.selected_event = i;
            self.dirty = true;
        }
    }

    pub(super) fn edit_event(&mut self, name: &str, i: usize, body: String) {
        if let Some(e) = self.entry_mut(name).and_then(|f| f.events.get_mut(i)) {
            e.body = body;
            self.dirty = true;
        }
    }

    pub(super) fn new_event(&mut self, name: &str, event_name: &str, body: String) {
        if let Some(f) = self.entry_mut(name) {
            let event_name = unique_event_name(f, event_name);
            f.events.push(TestEvent {
                name: event_name,
                body,
            });
            f.selected_event = f.events.len() - 1;
            self.dirty = true;
        }
    }

    pub(super) fn rename_event(&mut self, name: &str, i: usize, new_name: &str) {
        if let Some(f) = self.entry_mut(name) {
            let new_name = new_name.trim().to_owned();
            if !new_name.is_empty()
                && !f
                    .events
                    .iter()
                    .enumerate()
                    .any(|(j, e)| j != i && e.name == new_name)
                && let Some(e) = f.events.get_mut(i)
            {
                e.name = new_name;
                self.dirty = true;
            }
        }
    }

    pub(super) fn duplicate_event(&mut self, name: &str, i: usize) {
        if let Some(f) = self.entry_mut(name)
            && let Some(e) = f.events.get(i).cloned()
        {
            let copy_name = unique_event_name(f, &format!("{}-copy", e.name));
            f.events.insert(
                i + 1,
                TestEvent {
                    name: copy_name,
                    body: e.body,
                },
            );
            f.selected_event = i + 1;
            self.dirty = true;
        }
    }

    pub(super) fn delete_event(&mut self, name: &str, i: usize) {
        if let Some(f) = self.entry_mut(name)
            && i < f.events.len()
        {
            f.events.remove(i);
            f.selected_event = f.selected_event.min(f.events.len().saturating_sub(1));
            self.dirty = true;
        }
    }
}

fn unique_event_name(f: &FunctionEntry, base: &str) -> String {
    let base = if base.trim().is_empty() {
        "event"
    } else {
        base.trim()
    };
    if !f.events.iter().any(|e| e.name == base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|c| !f.events.iter().any(|e| &e.name == c))
        .unwrap_or_else(|| base.to_owned())
}

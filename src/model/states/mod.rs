//! Amazon States Language state machines, as data: the definition parsed and
//! validated with located problems (`definition.rs`), paths (`paths.rs`),
//! intrinsic functions (`intrinsics.rs`), Choice rules (`choice.rs`), each
//! state's data flow (`dataflow.rs`) and the errors states raise
//! (`error.rs`), workflow variables (`variables.rs`), where a JSON pointer is in the text (`locate.rs`) and
//! ready-made machines (`blueprints.rs`). Running executions is the host's
//! (`host/states.rs`).

pub mod blueprints;
pub mod choice;
pub mod dataflow;
pub mod definition;
pub mod error;
pub mod intrinsics;
pub mod jsonata;
pub mod locate;
pub mod paths;
pub mod variables;

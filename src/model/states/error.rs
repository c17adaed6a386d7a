//! The error a state raises: an AWS error name (`States.Runtime`,
//! `States.TaskFailed`, a function's `errorType`…) and its cause.

/// The error names Step Functions defines.
pub mod names {
    /// Matches any error but `States.Runtime`.
    pub const ALL: &str = "States.ALL";
    /// Any error but `States.Timeout`, in Retry and Catch.
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// A task ran longer than `TimeoutSeconds`.
    pub const TIMEOUT: &str = "States.Timeout";
    /// No heartbeat within `HeartbeatSeconds` (a function sends none, so
    /// its Task fails with this when it runs longer).
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    /// An error in the workflow itself (a path not found, a bad type): never
    /// retried or caught by `States.ALL`.
    pub const RUNTIME: &str = "States.Runtime";
    /// The role may not call the resource.
    pub const PERMISSIONS: &str = "States.Permissions";
    /// `ResultPath` cannot be applied to the input.
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    /// A `.$` field of `Parameters` names a path not in the input.
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    /// A branch of a Parallel state failed.
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    /// No Choice rule matched and there is no `Default`.
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    /// An intrinsic function failed.
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    /// A Map state's failures passed its tolerated threshold.
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    /// The item reader or writer failed.
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
}

/// An error raised by a state, as `{"Error", "Cause"}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct StatesError {
    /// The error name.
    pub error: String,
    /// A human-readable cause (a function's error object as JSON text, for tasks).
    pub cause: String,
}

impl StatesError {
    /// A new error.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// A `States.Runtime` error.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    /// Whether a Retry or Catch with `equals` matches this error: by name,
    /// `States.ALL` for all but `States.Runtime`, `States.TaskFailed` for all
    /// but `States.Timeout` and `States.Runtime`.
    pub fn matches(&self, equals: &[String]) -> bool {
        equals.iter().any(|e| {
            e == &self.error
                || (e == names::ALL && self.error != names::RUNTIME)
                // A heartbeat's timeout is a timeout too.
                || (e == names::TIMEOUT && self.error == names::HEARTBEAT_TIMEOUT)
                || (e == names::TASK_FAILED
                    && self.error != names::TIMEOUT
                    && self.error != names::HEARTBEAT_TIMEOUT
                    && self.error != names::RUNTIME)
        })
    }

    /// `{"Error": …, "Cause": …}`, as a Catch passes it on.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::json!({ "Error": self.error, "Cause": self.cause })
    }
}

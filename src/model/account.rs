//! The account Lambdesk presents itself as, in ARNs and events.

/// The region Lambdesk presents itself as.
pub const REGION: &str = "us-east-1";
/// The account id in ARNs.
pub const ACCOUNT_ID: &str = "123456789012";

//! Time-ordered identifiers (UUID v7): they sort by creation time, which keeps indexes
//! compact and makes "oldest first" a primary-key scan.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ParseError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id, ordered after every id made before it in this process.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| {
                    ParseError::new($field, format!("{} is not a UUID", crate::error::excerpt(s)), "a UUID such as 0190a5b2-7c3e-7d4f-8a1b-2c3d4e5f6a7b")
                })
            }
        }
    };
}

id_type!(
    /// Identifies one job.
    JobId,
    "jobId"
);
id_type!(
    /// Identifies one cron schedule.
    ScheduleId,
    "scheduleId"
);

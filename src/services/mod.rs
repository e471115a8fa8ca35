//! Services built on `api`.

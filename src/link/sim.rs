//! The simulator: two sans-IO endpoints joined by an emulated link, in virtual time.
//!
//! SKELETON: being written.

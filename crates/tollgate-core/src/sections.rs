//! The sections every rule page has, in order. One file for the library
//! (the registry checks an embedder's page with it) and for `build.rs`
//! (which checks tollgate's own pages with it at compile time).

/// Sections every rule page must have, in this order.
pub const REQUIRED_SECTIONS: [&str; 4] = ["## What it finds", "## Why it matters", "## Bad", "## Fixed"];

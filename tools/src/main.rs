//! The `dynastore` command.
fn main() {}

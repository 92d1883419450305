//! The offline command line's own work: reading manifests from files and directories, and the
//! import of prometheus-operator's monitors. Nothing outside this module imports it; the binary
//! (`main.rs`) parses arguments and writes files around it.

pub mod import;
pub mod offline;

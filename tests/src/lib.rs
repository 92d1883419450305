//! Shared helpers for the cross-cutting test suites live here.

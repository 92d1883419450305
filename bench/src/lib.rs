//! Benchmarks of stackscope's render path, and the fixture generator the benchmarks and the
//! scale harness share.

pub mod fixtures;
pub mod measured;

//! Empty: this crate only holds the store benchmarks under benches/.

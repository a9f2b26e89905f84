//! Shared helpers for the Mosaic benchmarks.

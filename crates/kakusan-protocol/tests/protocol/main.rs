//! Integration tests of the federation protocol: golden vectors, the verification pipeline,
//! property tests and sync chunking. One binary with modules keeps link time down.

mod golden;
mod pipeline;
mod props;
mod support;
mod sync;

//! musefs: a read-only FUSE filesystem that serves a music library re-tagged
//! and re-organised from a SQLite store, leaving the audio files untouched.
//!
//! Layers, each depending only on those above it in this list:
//! [`store`] (SQL), [`format`] (byte layouts), [`library`] (the core),
//! [`scan`], [`fuse`] (the kernel adapter), [`service`] (process concerns).

pub mod format;
pub mod fuse;
pub mod library;
pub mod scan;
pub mod service;
pub mod store;
pub mod tagtool;

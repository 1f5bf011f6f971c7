//! Framing: being written.

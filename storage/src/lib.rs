//! Partition logs on local disk.
//!
//! Owns: segment files (`{base_offset:020}.log`), the sparse offset and time
//! indexes, checkpoints, recovery after an unclean shutdown, retention and
//! durability (fdatasync with group commit).
//!
//! Never: knows a request or response type, runs a blocking syscall on an
//! async worker thread, or acknowledges a batch that a crash could take back.
//!
//! Not yet: everything above is issue #3; this crate holds only its place in
//! the workspace so that dependencies point one way (server -> storage ->
//! protocol) from the first commit.

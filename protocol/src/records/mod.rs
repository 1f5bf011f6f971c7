//! Record batches: being written.

//! One module per Kafka API. A handler turns wire fields into calls on the
//! broker's metadata and logs, and sets an error code per topic or
//! partition; it never touches the socket.

pub mod api_versions;
pub mod create_topics;
pub mod delete_topics;
pub mod fetch;
pub mod init_producer_id;
pub mod list_offsets;
pub mod metadata;
pub mod produce;

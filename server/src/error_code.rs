//! Kafka's error codes (the protocol guide's table), the ones this broker
//! answers with, and the one place storage errors become wire codes.

use strata_storage::Error as StorageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i16)]
pub enum ErrorCode {
    UnknownServerError = -1,
    None = 0,
    OffsetOutOfRange = 1,
    CorruptMessage = 2,
    UnknownTopicOrPartition = 3,
    LeaderNotAvailable = 5,
    MessageTooLarge = 10,
    OffsetMetadataTooLarge = 12,
    CoordinatorLoadInProgress = 14,
    CoordinatorNotAvailable = 15,
    NotCoordinator = 16,
    InvalidTopicException = 17,
    RecordListTooLarge = 18,
    InvalidRequiredAcks = 21,
    IllegalGeneration = 22,
    InconsistentGroupProtocol = 23,
    InvalidGroupId = 24,
    UnknownMemberId = 25,
    InvalidSessionTimeout = 26,
    RebalanceInProgress = 27,
    InvalidCommitOffsetSize = 28,
    InvalidTimestamp = 32,
    UnsupportedVersion = 35,
    TopicAlreadyExists = 36,
    InvalidPartitions = 37,
    InvalidReplicationFactor = 38,
    InvalidReplicaAssignment = 39,
    InvalidConfig = 40,
    InvalidRequest = 42,
    OutOfOrderSequenceNumber = 45,
    InvalidProducerEpoch = 47,
    KafkaStorageError = 56,
    NonEmptyGroup = 68,
    GroupIdNotFound = 69,
    FetchSessionIdNotFound = 70,
    InvalidFetchSessionEpoch = 71,
    TopicDeletionDisabled = 73,
    FencedLeaderEpoch = 74,
    UnknownLeaderEpoch = 75,
    MemberIdRequired = 79,
    GroupMaxSizeReached = 81,
    FencedInstanceId = 82,
    GroupSubscribedToTopic = 86,
    InvalidRecord = 87,
    UnknownTopicId = 100,
    FencedMemberEpoch = 110,
    UnreleasedInstanceId = 111,
    UnsupportedAssignor = 112,
    StaleMemberEpoch = 113,
    MismatchedEndpointType = 114,
    UnsupportedEndpointType = 115,
}

impl ErrorCode {
    pub fn code(self) -> i16 {
        self as i16
    }
}

/// Every storage error has a decided wire code: no `_` arm, so a new
/// variant cannot slip through as a generic error.
pub fn storage_error_code(e: &StorageError) -> ErrorCode {
    match e {
        StorageError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        StorageError::InvalidBatch(_) => ErrorCode::CorruptMessage,
        StorageError::InvalidRecord(_) => ErrorCode::InvalidRecord,
        StorageError::InvalidTimestamp { .. } => ErrorCode::InvalidTimestamp,
        StorageError::BatchTooLarge { .. } => ErrorCode::MessageTooLarge,
        StorageError::LargerThanSegment { .. } => ErrorCode::RecordListTooLarge,
        StorageError::OutOfOrderSequence(_) => ErrorCode::OutOfOrderSequenceNumber,
        StorageError::InvalidProducerEpoch(_) => ErrorCode::InvalidProducerEpoch,
        StorageError::Io { .. }
        | StorageError::DiskFull { .. }
        | StorageError::Corrupt { .. }
        | StorageError::LogDirOffline { .. } => ErrorCode::KafkaStorageError,
        StorageError::InvalidArgument(_) => ErrorCode::UnknownTopicOrPartition,
    }
}

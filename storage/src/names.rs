//! The one place that knows file and directory names, as Kafka spells them.
//!
//! - partition directory: `<topic>-<partition>`
//! - segment files: `<base offset, 20 digits>.log`, `.index`, `.timeindex`,
//!   producer state `<offset, 20 digits>.snapshot`
//! - unfinished or retired files: `.tmp` (being written), `.deleted`
//!   (retention or truncation removed it; gone at the next start-up),
//!   `.cleaned` and `.swap` (compaction)

use std::path::{Path, PathBuf};

pub const LOG: &str = ".log";
pub const INDEX: &str = ".index";
pub const TIME_INDEX: &str = ".timeindex";
pub const SNAPSHOT: &str = ".snapshot";
pub const DELETED: &str = ".deleted";
pub const CLEANED: &str = ".cleaned";
pub const SWAP: &str = ".swap";
pub const TMP: &str = ".tmp";

/// `00000000000000000042.log` and friends.
pub fn offset_file(dir: &Path, offset: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{offset:020}{suffix}"))
}

/// The offset a file named by [`offset_file`] carries, if it has `suffix`.
pub fn parse_offset_file(path: &Path, suffix: &str) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn partition_dir(data_dir: &Path, topic: &str, partition: i32) -> PathBuf {
    data_dir.join(format!("{topic}-{partition}"))
}

/// Splits `<topic>-<partition>` at the last dash: topics may contain dashes.
pub fn parse_partition_dir(path: &Path) -> Option<(String, i32)> {
    let name = path.file_name()?.to_str()?;
    let (topic, partition) = name.rsplit_once('-')?;
    if topic.is_empty() || partition.starts_with('+') {
        return None;
    }
    let partition: i32 = partition.parse().ok()?;
    (partition >= 0).then(|| (topic.to_owned(), partition))
}

/// Appends a suffix to a whole file name (`x.log` -> `x.log.deleted`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_have_twenty_digits() {
        let p = offset_file(Path::new("/d"), 42, LOG);
        assert_eq!(p, Path::new("/d/00000000000000000042.log"));
        assert_eq!(parse_offset_file(&p, LOG), Some(42));
        assert_eq!(parse_offset_file(&p, INDEX), None);
        assert_eq!(parse_offset_file(Path::new("/d/42.log"), LOG), None);
    }

    #[test]
    fn partition_dirs_split_at_the_last_dash() {
        let p = partition_dir(Path::new("/d"), "my-topic", 3);
        assert_eq!(parse_partition_dir(&p), Some(("my-topic".into(), 3)));
        assert_eq!(parse_partition_dir(Path::new("/d/nodash")), None);
        assert_eq!(parse_partition_dir(Path::new("/d/t-x")), None);
        assert_eq!(parse_partition_dir(Path::new("/d/-1")), None);
    }
}

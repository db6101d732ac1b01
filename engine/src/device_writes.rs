//! Bytes written to the block device that holds a directory: what benchmarks report as
//! the bytes written to storage.
//!
//! Linux's count per process (`write_bytes` in `/proc/self/io`) is charged when a write
//! dirties a page-cache folio, the whole folio each time, and folios grow large: a `Sync`
//! put that writes 200 bytes into a log's preallocated zeros is charged up to the 64 KiB
//! the zeros were written in (2 MiB each time, measured, in a file zeroed by one 8 MiB
//! write), while the device writes one 4 KiB block. So `dynastore bench` reported 103
//! bytes per byte of `Sync` items unreplicated where the device had received 23. The
//! device's own count (sectors written, in `/sys/dev/block/<major>:<minor>/stat`) is what
//! reached storage, though every process writing to that device adds to it.

use std::path::{Path, PathBuf};

/// Bytes in a sector as the kernel's block statistics count them, whatever the device's
/// own block size.
const STAT_SECTOR_BYTES: u64 = 512;
/// The position of "sectors written" among the fields of a block device's `stat` file.
const SECTORS_WRITTEN_FIELD: usize = 6;

/// The write counter of one block device.
#[derive(Debug, Clone)]
pub struct DeviceWrites {
    stat: PathBuf,
    name: String,
}

impl DeviceWrites {
    /// The device holding `dir`; `None` where there is none to read: not Linux, or a file
    /// system without a block device of its own (tmpfs, overlayfs, network file systems).
    pub fn of(dir: &Path) -> Option<DeviceWrites> {
        let (major, minor) = device_numbers(dir)?;
        let device = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
        let stat = device.join("stat");
        // The link names the device (vda, nvme0n1p2); its statistics must be readable.
        let name = std::fs::read_link(&device)
            .ok()
            .and_then(|target| target.file_name().map(|name| name.to_string_lossy().into_owned()))
            .unwrap_or_else(|| format!("{major}:{minor}"));
        let writes = DeviceWrites { stat, name };
        writes.bytes().map(|_| writes)
    }

    /// Bytes written to the device since it appeared (by every process); `None` if its
    /// statistics cannot be read.
    pub fn bytes(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(&self.stat).ok()?;
        sectors_written(&stat).map(|sectors| sectors * STAT_SECTOR_BYTES)
    }

    /// The device's name, as the kernel calls it (`vda`, `nvme0n1p2`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The sectors written, from the text of a block device's `stat` file.
fn sectors_written(stat: &str) -> Option<u64> {
    stat.split_whitespace().nth(SECTORS_WRITTEN_FIELD)?.parse().ok()
}

#[cfg(target_os = "linux")]
fn device_numbers(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let (major, minor) = split_device_number(std::fs::metadata(dir).ok()?.dev());
    // Major 0 is the kernel's anonymous devices: no block device's statistics.
    (major != 0).then_some((major, minor))
}

#[cfg(not(target_os = "linux"))]
fn device_numbers(_dir: &Path) -> Option<(u64, u64)> {
    None
}

/// A Linux `dev_t` as (major, minor): 12 bits of major and 8 of minor at the bottom, the
/// rest of each above them.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn split_device_number(dev: u64) -> (u64, u64) {
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x00ff);
    (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn device_numbers_split_as_linux_encodes_them() {
        assert_eq!(split_device_number(0xfe00), (254, 0));
        assert_eq!(split_device_number(0x0801), (8, 1));
        // nvme's major is dynamic and minors pass 255: gnu_dev_makedev(259, 300).
        let dev = (259 & 0xfff) << 8 | (300 & 0xff) | ((300 & !0xff) << 12);
        assert_eq!(split_device_number(dev), (259, 300));
        let large = ((4096u64 & !0xfff) << 32) | ((1u64 << 20) & !0xff) << 12;
        assert_eq!(split_device_number(large), (4096, 1 << 20));
    }

    #[test]
    fn sectors_written_is_the_seventh_field() {
        let stat = "   13637      524  1174426    3717  3061876   31262 40567392  3217456        0  2053188  3390437        0        0        0        0   1096024   169263\n";
        assert_eq!(sectors_written(stat), Some(40_567_392));
        assert_eq!(sectors_written("1 2 3"), None);
        assert_eq!(sectors_written("1 2 3 4 5 6 x 8"), None);
    }

    /// Where the temporary directory has a device of its own, a megabyte written and
    /// synced there shows in its count (other processes can only add to it).
    #[test]
    fn a_synced_write_shows_in_the_device_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(device) = DeviceWrites::of(dir.path()) else {
            // tmpfs or overlayfs: no block device whose statistics could be read.
            let readable =
                |(major, minor)| std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/stat")).is_ok();
            assert!(!device_numbers(dir.path()).is_some_and(readable));
            return;
        };
        assert!(!device.name().is_empty());
        let before = device.bytes().expect("readable before");
        let mut file = std::fs::File::create(dir.path().join("data")).expect("create");
        file.write_all(&vec![7u8; 1 << 20]).expect("write");
        file.sync_all().expect("sync");
        let after = device.bytes().expect("readable after");
        assert!(after - before >= 1 << 20, "{before} to {after}");
    }
}

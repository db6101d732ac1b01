//! What the partition's tests share: small options, and hooks where a test holds one of
//! the partition's threads to force an interleaving.

use super::PartitionOptions;
use crate::storage::compaction::CompactionStyle;
use dynastore_wal::{Epoch, Lsn, WalOptions};
use parking_lot::Mutex;
use std::sync::Arc;

/// What a test runs at [`Hooks::before_apply`]: given a write's LSN, once its record
/// is durable and acknowledged and before it is applied.
pub(super) type BeforeApply = Box<dyn Fn(Lsn) + Send + Sync>;

/// Points where a test holds a thread of the partition's, to force an interleaving.
#[derive(Default)]
pub(super) struct Hooks {
    before_apply: Mutex<Option<Arc<BeforeApply>>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooks")
    }
}

impl Hooks {
    pub(super) fn before_apply(&self, lsn: Lsn) {
        let hook = self.before_apply.lock().clone();
        if let Some(hook) = hook {
            hook(lsn);
        }
    }

    pub(super) fn set_before_apply(&self, hook: impl Fn(Lsn) + Send + Sync + 'static) {
        *self.before_apply.lock() = Some(Arc::new(Box::new(hook)));
    }
}

/// A partition's options with a 1 KiB memtable budget, in epoch 1.
pub(super) fn tiny() -> PartitionOptions {
    PartitionOptions {
        wal: WalOptions::default(),
        memtable_bytes_max: 1024,
        compaction: CompactionStyle::default(),
        auto_compaction: true,
        epoch: Epoch(1),
        epoch_first_lsn: Lsn(1),
    }
}

//! Background work over every open copy: the flusher threads (one per AZ), which flush
//! memtables and run the compactor. Later: index appliers and TTL.

pub(crate) mod flusher;

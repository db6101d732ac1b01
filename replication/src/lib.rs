//! WAL shipping to availability-zone replicas, acknowledgement tracking, epochs and
//! election.
//!
//! Not implemented yet: this crate holds no code so far. The WAL it will build on already
//! offers what shipping needs: [`dynastore_wal::Wal::tail`] yields durable records byte
//! for byte, and [`dynastore_wal::Wal::append_framed`] appends them on a replica.

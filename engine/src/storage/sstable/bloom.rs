//! A bloom filter over an SSTable's keys: about 10 bits and 7 probes per key, so a lookup
//! of an absent key is answered "no" without reading a data block about 99% of the time.
//!
//! Layout: the bit array, then one byte with the number of probes. Probe `i` of a key is
//! bit `(h1 + i·h2) mod bits`, where `h1` and `h2` are the low and high halves of the
//! key's xxh3-64 hash.

/// Bits of filter per key.
pub const BITS_PER_KEY: usize = 10;
/// Probes per key: `BITS_PER_KEY · ln 2`, rounded.
const PROBES: u8 = 7;

/// The hash a filter uses for `key`. A lookup that probes several tables computes it once.
pub fn hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

fn probes(hash: u64) -> (u32, u32) {
    (hash as u32, (hash >> 32) as u32 | 1)
}

/// Builds a filter over keys given by their [`hash`]es.
pub fn build(hashes: &[u64]) -> Vec<u8> {
    let bits = (hashes.len() * BITS_PER_KEY).max(64);
    let bytes = bits.div_ceil(8);
    let bits = bytes * 8;
    let mut filter = vec![0u8; bytes + 1];
    for &hash in hashes {
        let (h1, h2) = probes(hash);
        for i in 0..u32::from(PROBES) {
            let bit = (h1.wrapping_add(i.wrapping_mul(h2)) as usize) % bits;
            filter[bit / 8] |= 1 << (bit % 8);
        }
    }
    filter[bytes] = PROBES;
    filter
}

/// Whether the key with this [`hash`] may be in the set the filter was built from
/// (false: surely not).
pub fn may_contain(filter: &[u8], hash: u64) -> bool {
    let Some((&probes_count, bits)) = filter.split_last() else {
        return true;
    };
    if bits.is_empty() {
        return true;
    }
    let nbits = bits.len() * 8;
    let (h1, h2) = probes(hash);
    (0..u32::from(probes_count)).all(|i| {
        let bit = (h1.wrapping_add(i.wrapping_mul(h2)) as usize) % nbits;
        bits[bit / 8] & (1 << (bit % 8)) != 0
    })
}

//! The bench table's key space: item `i` (of `0..items`) has the partition key
//! `key<i / 10, twelve digits>` and the sort key `i % 10`, so every partition key holds up
//! to ten items for `query` to read, and keys in index order are keys in sort order.

use dynastore::{AttributeValue, Item};

/// Items under one partition key.
pub const ITEMS_PER_PARTITION_KEY: u64 = 10;

/// The keys of a bench table of `items` items, and a fixed shuffle of them.
#[derive(Debug, Clone, Copy)]
pub struct KeySpace {
    items: u64,
    /// Coprime with `items`: `i * stride + offset (mod items)` visits every index once.
    stride: u64,
    offset: u64,
}

impl KeySpace {
    /// The key space of `items` items (at least 1), shuffled by `seed`.
    pub fn new(items: u64, seed: u64) -> KeySpace {
        let items = items.max(1);
        // About the golden ratio of the space, so that neighbours land far apart.
        let mut stride = ((items as f64 * 0.618_033_988_7) as u64).max(1);
        while gcd(stride, items) != 1 {
            stride += 1;
        }
        KeySpace {
            items,
            stride,
            offset: seed % items,
        }
    }

    /// How many items the space holds.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// How many partition keys the space holds.
    pub fn partition_keys(&self) -> u64 {
        self.items.div_ceil(ITEMS_PER_PARTITION_KEY)
    }

    /// The `n`th index of the shuffle (each of `0..items` once over `n` in `0..items`).
    pub fn shuffled(&self, n: u64) -> u64 {
        ((u128::from(n % self.items) * u128::from(self.stride) + u128::from(self.offset)) % u128::from(self.items))
            as u64
    }

    /// Item `i`'s partition key value.
    pub fn partition_key(group: u64) -> AttributeValue {
        AttributeValue::S(format!("key{group:012}"))
    }

    /// Item `i`'s primary key.
    pub fn key(i: u64) -> Item {
        Item::new()
            .with("pk", KeySpace::partition_key(i / ITEMS_PER_PARTITION_KEY))
            .with("sk", (i % ITEMS_PER_PARTITION_KEY) as i64)
    }

    /// A key no item has, near item `i`'s (its partition key with a suffix).
    pub fn missing_key(i: u64) -> Item {
        Item::new()
            .with("pk", format!("key{:012}.", i / ITEMS_PER_PARTITION_KEY))
            .with("sk", (i % ITEMS_PER_PARTITION_KEY) as i64)
    }

    /// Item `i` whole: its key and `payload`.
    pub fn item(i: u64, payload: &str) -> Item {
        KeySpace::key(i).with("payload", payload)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A small, fast pseudo-random generator (xorshift64*), seeded for repeatable runs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` and `stream` (e.g. a thread number): different streams of
    /// one seed differ.
    pub fn new(seed: u64, stream: u64) -> Rng {
        // splitmix64 of the pair, so that neighbouring seeds start far apart; never 0.
        let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..bound` (`bound` at least 1).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// `len` random letters and digits.
    pub fn text(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len)
            .map(|_| char::from(ALPHABET[self.below(ALPHABET.len() as u64) as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shuffle_visits_every_index_once() {
        for items in [1, 2, 3, 10, 97, 100, 1000, 4096] {
            for seed in [0, 1, 12345] {
                let space = KeySpace::new(items, seed);
                let mut seen: Vec<u64> = (0..items).map(|n| space.shuffled(n)).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..items).collect::<Vec<_>>(), "items {items}, seed {seed}");
            }
        }
    }

    #[test]
    fn keys_in_index_order_sort_in_index_order_and_missing_keys_are_distinct() {
        let keys: Vec<Item> = (0..25).map(KeySpace::key).collect();
        let pairs: Vec<(String, i64)> = keys
            .iter()
            .map(|k| {
                let pk = match k.get("pk") {
                    Some(AttributeValue::S(s)) => s.clone(),
                    other => panic!("pk {other:?}"),
                };
                let sk = match k.get("sk") {
                    Some(AttributeValue::N(n)) => n.to_string().parse().unwrap(),
                    other => panic!("sk {other:?}"),
                };
                (pk, sk)
            })
            .collect();
        let mut sorted = pairs.clone();
        sorted.sort();
        assert_eq!(pairs, sorted);
        assert_eq!(pairs[23], ("key000000000002".to_owned(), 3));
        assert!((0..25).all(|i| KeySpace::missing_key(i) != KeySpace::key(i)));
        assert_eq!(KeySpace::new(25, 0).partition_keys(), 3);
    }

    #[test]
    fn streams_of_one_seed_differ_and_repeat() {
        let a: Vec<u64> = (0..4).scan(Rng::new(7, 0), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..4).scan(Rng::new(7, 1), |r, _| Some(r.next_u64())).collect();
        let again: Vec<u64> = (0..4).scan(Rng::new(7, 0), |r, _| Some(r.next_u64())).collect();
        assert_ne!(a, b);
        assert_eq!(a, again);
        let mut rng = Rng::new(1, 2);
        assert!((0..1000).all(|_| rng.below(10) < 10));
        assert_eq!(rng.text(33).len(), 33);
    }
}

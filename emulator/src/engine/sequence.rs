//! Ordered containers keyed by a queue's message sequence numbers, which a queue hands out in increasing order.
//!
//! Both group 64 consecutive sequences into one entry of an ordinary B-tree: [`SequenceMap`] a boxed block of
//! 64 slots (512 bytes for pointer-sized values), [`SequenceSet`] one 64-bit word. A send appends to the newest
//! entry, reached along the tree's right edge without a key comparison (only every 64th send starts a new entry),
//! and other lookups search a tree up to 64 times smaller than one keyed by sequence (when the sequences are
//! dense). An entry is dropped when its last member leaves, except the newest, which stays for the next sends:
//! a queue that consumers keep nearly empty would otherwise allocate and free an entry for every message. So the
//! containers hold at most one entry per member plus one, whatever the pattern of sends, receives and deletes;
//! at worst (one surviving message per 64 sequences) that is a whole block per message.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// Sequences per block or word.
const SPAN: u64 = 64;

/// How many of a block's slots are filled, and the slots.
type Block<V> = (u32, Box<[Option<V>; SPAN as usize]>);

fn split(sequence: u64) -> (u64, usize) {
    // The remainder is below 64: the cast is lossless.
    (sequence / SPAN, (sequence % SPAN) as usize)
}

/// A map from sequence numbers to values, iterated in sequence order.
#[derive(Debug)]
pub struct SequenceMap<V> {
    /// Block key (sequence / 64) → the block; only the newest may be empty.
    blocks: BTreeMap<u64, Block<V>>,
}

impl<V> Default for SequenceMap<V> {
    fn default() -> Self {
        Self { blocks: BTreeMap::new() }
    }
}

impl<V> SequenceMap<V> {
    /// Inserts `value` at `sequence`, returning the value it replaces.
    pub fn insert(&mut self, sequence: u64, value: V) -> Option<V> {
        let (key, slot) = split(sequence);
        let block = match self.blocks.last_entry() {
            // The common case: the newest block (a send).
            Some(entry) if *entry.key() == key => entry.into_mut(),
            newest => {
                // A newer block takes over: the kept newest one goes if it is empty.
                if let Some(entry) = newest.filter(|entry| *entry.key() < key && entry.get().0 == 0) {
                    entry.remove();
                }
                self.blocks.entry(key).or_insert_with(|| (0, Box::new([const { None }; SPAN as usize])))
            }
        };
        let old = block.1[slot].replace(value);
        if old.is_none() {
            block.0 += 1;
        }
        old
    }

    /// The value at `sequence`.
    pub fn get(&self, sequence: u64) -> Option<&V> {
        let (key, slot) = split(sequence);
        self.blocks.get(&key).and_then(|(_, slots)| slots[slot].as_ref())
    }

    /// The value at `sequence`, mutably.
    pub fn get_mut(&mut self, sequence: u64) -> Option<&mut V> {
        let (key, slot) = split(sequence);
        self.blocks.get_mut(&key).and_then(|(_, slots)| slots[slot].as_mut())
    }

    /// Removes and returns the value at `sequence`.
    pub fn remove(&mut self, sequence: u64) -> Option<V> {
        let (key, slot) = split(sequence);
        let newest = self.blocks.last_key_value().is_some_and(|(last, _)| *last == key);
        let Entry::Occupied(mut entry) = self.blocks.entry(key) else { return None };
        let (filled, slots) = entry.get_mut();
        let value = slots[slot].take()?;
        *filled -= 1;
        if *filled == 0 && !newest {
            entry.remove();
        }
        Some(value)
    }

    /// The entry with the lowest sequence.
    pub fn first(&self) -> Option<(u64, &V)> {
        // Only the newest block may be empty: if the first one is, it is the only one.
        let (&key, (_, slots)) = self.blocks.first_key_value()?;
        slots.iter().enumerate().find_map(|(slot, value)| Some((key * SPAN + slot as u64, value.as_ref()?)))
    }

    /// Every entry in sequence order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        self.blocks.iter().flat_map(|(&key, (_, slots))| {
            slots.iter().enumerate().filter_map(move |(slot, value)| Some((key * SPAN + slot as u64, value.as_ref()?)))
        })
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.blocks.clear();
    }
}

/// A set of sequence numbers, iterated in increasing order.
#[derive(Debug, Default)]
pub struct SequenceSet {
    /// Word key (sequence / 64) → one bit per sequence; only the newest may be zero.
    words: BTreeMap<u64, u64>,
    len: usize,
}

impl SequenceSet {
    /// Adds `sequence`; false if it was present.
    pub fn insert(&mut self, sequence: u64) -> bool {
        let (key, bit) = split(sequence);
        let word = match self.words.last_entry() {
            // The common case: the newest word (a send).
            Some(entry) if *entry.key() == key => entry.into_mut(),
            newest => {
                // A newer word takes over: the kept newest one goes if it is zero.
                if let Some(entry) = newest.filter(|entry| *entry.key() < key && *entry.get() == 0) {
                    entry.remove();
                }
                self.words.entry(key).or_insert(0)
            }
        };
        let added = *word & (1 << bit) == 0;
        *word |= 1 << bit;
        self.len += usize::from(added);
        added
    }

    /// Removes `sequence`; false if it was absent.
    pub fn remove(&mut self, sequence: u64) -> bool {
        let (key, bit) = split(sequence);
        let newest = self.words.last_key_value().is_some_and(|(last, _)| *last == key);
        let Entry::Occupied(mut entry) = self.words.entry(key) else { return false };
        let word = entry.get_mut();
        if *word & (1 << bit) == 0 {
            return false;
        }
        *word &= !(1 << bit);
        if *word == 0 && !newest {
            entry.remove();
        }
        self.len -= 1;
        true
    }

    /// Whether `sequence` is present.
    pub fn contains(&self, sequence: u64) -> bool {
        let (key, bit) = split(sequence);
        self.words.get(&key).is_some_and(|word| word & (1 << bit) != 0)
    }

    /// Every member in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().flat_map(|(&key, &word)| Bits(word).map(move |bit| key * SPAN + bit))
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Removes every member.
    pub fn clear(&mut self) {
        self.words.clear();
        self.len = 0;
    }
}

/// The positions of a word's set bits, lowest first.
struct Bits(u64);

impl Iterator for Bits {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(u64::from(bit))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64),
        Remove(u64),
        Clear,
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        // Small and large sequences, so blocks fill, empty, and lie far apart.
        let sequence = prop_oneof![0..300u64, 1_000_000..1_000_200u64, Just(u64::MAX), Just(u64::MAX - 64)];
        let op = prop_oneof![
            8 => sequence.clone().prop_map(Op::Insert),
            6 => sequence.prop_map(Op::Remove),
            1 => Just(Op::Clear),
        ];
        proptest::collection::vec(op, 0..400)
    }

    proptest! {
        #[test]
        fn the_map_behaves_like_a_btree_map(ops in ops()) {
            let mut map = SequenceMap::default();
            let mut model = BTreeMap::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Insert(sequence) => prop_assert_eq!(map.insert(sequence, n), model.insert(sequence, n)),
                    Op::Remove(sequence) => prop_assert_eq!(map.remove(sequence), model.remove(&sequence)),
                    Op::Clear => {
                        map.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(map.first(), model.first_key_value().map(|(k, v)| (*k, v)));
            }
            prop_assert!(map.iter().eq(model.iter().map(|(k, v)| (*k, v))));
            for (&sequence, value) in &model {
                prop_assert_eq!(map.get(sequence), Some(value));
            }
            // One block per block key in use, plus possibly the newest block, empty.
            let in_use = model.keys().map(|k| k / SPAN).collect::<BTreeSet<_>>();
            let empty: Vec<u64> = map.blocks.iter().filter(|(_, (filled, _))| *filled == 0).map(|(k, _)| *k).collect();
            prop_assert!(empty.is_empty() || empty == [*map.blocks.keys().next_back().expect("a block")]);
            prop_assert_eq!(map.blocks.len(), in_use.len() + empty.len());
            for (key, (filled, slots)) in &map.blocks {
                prop_assert_eq!(*filled as usize, slots.iter().filter(|slot| slot.is_some()).count(), "block {}", key);
            }
            for sequence in [0, 63, 64, 299, 1_000_100, u64::MAX - 64, u64::MAX - 1, u64::MAX] {
                prop_assert_eq!(map.get(sequence), model.get(&sequence));
            }
        }

        #[test]
        fn the_set_behaves_like_a_btree_set(ops in ops()) {
            let mut set = SequenceSet::default();
            let mut model = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Insert(sequence) => prop_assert_eq!(set.insert(sequence), model.insert(sequence)),
                    Op::Remove(sequence) => prop_assert_eq!(set.remove(sequence), model.remove(&sequence)),
                    Op::Clear => {
                        set.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(set.len(), model.len());
            }
            prop_assert!(set.iter().eq(model.iter().copied()));
            for sequence in (0..300).chain([1_000_000, 1_000_199, u64::MAX - 64, u64::MAX - 1, u64::MAX]) {
                prop_assert_eq!(set.contains(sequence), model.contains(&sequence));
            }
            let newest = set.words.keys().next_back().copied();
            prop_assert!(set.words.iter().all(|(key, word)| *word != 0 || Some(*key) == newest));
        }
    }

    #[test]
    fn a_map_entry_is_found_through_get_mut() {
        let mut map = SequenceMap::default();
        map.insert(70, String::from("a"));
        map.get_mut(70).expect("stored").push('b');
        assert_eq!(map.get(70).map(String::as_str), Some("ab"));
        assert_eq!(map.get_mut(71), None);
    }
}

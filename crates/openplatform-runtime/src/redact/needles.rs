//! The forms a [`Scrubber`](super::Scrubber) looks for, indexed so that a text is read
//! once, however many forms there are and however long.
//!
//! Every successful reply is checked against the call's credentials (some 70 forms:
//! the app secret, recent tokens and signatures), and the set changes on every call (a
//! new signature comes, an old one goes). So the index is kept up to date in place, never
//! rebuilt per call: hashing every form on every call cost more than reading the reply
//! (measured).
//!
//! The search reads the text's bytes at each position as a key (up to 8 bytes, as many
//! as the shortest form has): every form starts with such a key, so a form occurs only
//! where the key at a position is one of the forms' keys. A bitmap of the keys rejects
//! most positions at once; a hit is confirmed byte by byte. (A rolling hash over the
//! whole shortest length cost half as much again per byte.)

use std::sync::Arc;

/// The most bytes a key holds.
const KEY_BYTES: usize = 8;
/// Bitmap words: 4096 bits, about 2% of windows pass it with 70 forms.
const BLOOM_WORDS: usize = 64;

#[derive(Clone)]
pub(super) struct Needles {
    /// Sorted by `key`.
    entries: Vec<Entry>,
    /// The key length: the shortest form's length, at most [`KEY_BYTES`] (0 when there
    /// is no form). Every key is this many leading bytes of its form.
    window: usize,
    bloom: [u64; BLOOM_WORDS],
}

#[derive(Clone)]
struct Entry {
    /// The form's first `window` bytes.
    key: u64,
    form: Arc<str>,
    /// How many added values produce this form (removing one value never drops a form
    /// another value still needs).
    count: u32,
}

impl Default for Needles {
    fn default() -> Self {
        Needles {
            entries: Vec::new(),
            window: 0,
            bloom: [0; BLOOM_WORDS],
        }
    }
}

/// `bytes` (at most 8) as a number, as [`Needles::scan`] reads them.
fn key(bytes: &[u8]) -> u64 {
    let mut eight = [0u8; KEY_BYTES];
    eight[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(eight)
}

/// The bitmap word and bit of a key (mixed first: similar keys fall far apart).
fn slot(h: u64) -> (usize, u64) {
    let bit = (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize;
    (bit / 64, 1u64 << (bit % 64))
}

impl Needles {
    /// Every form, once each.
    pub(super) fn iter(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| &*e.form)
    }

    /// The index of `form`'s entry, if it is one.
    fn position(&self, form: &str) -> Option<usize> {
        if self.window == 0 || form.len() < self.window {
            return None;
        }
        let key = key(&form.as_bytes()[..self.window]);
        let first = self.entries.partition_point(|e| e.key < key);
        self.entries[first..]
            .iter()
            .take_while(|e| e.key == key)
            .position(|e| *e.form == *form)
            .map(|i| first + i)
    }

    /// Adds one use of `form` (an empty form is never added).
    pub(super) fn insert(&mut self, form: Arc<str>) {
        if form.is_empty() {
            return;
        }
        if let Some(i) = self.position(&form) {
            let count = &mut self.entries[i].count;
            *count = count.saturating_add(1);
            return;
        }
        if self.window == 0 || form.len() < self.window {
            // A new shortest form: every key changes.
            self.window = form.len().min(KEY_BYTES);
            self.entries.push(Entry {
                key: 0,
                form,
                count: 1,
            });
            self.rekey();
            return;
        }
        let key = key(&form.as_bytes()[..self.window]);
        let at = self.entries.partition_point(|e| e.key <= key);
        self.entries.insert(
            at,
            Entry {
                key,
                form,
                count: 1,
            },
        );
        let (word, bit) = slot(key);
        self.bloom[word] |= bit;
    }

    /// Removes one use of `form`; the form goes when no use is left.
    pub(super) fn release(&mut self, form: &str) {
        let Some(i) = self.position(form) else {
            return;
        };
        let count = &mut self.entries[i].count;
        *count = count.saturating_sub(1);
        if *count > 0 {
            return;
        }
        self.entries.remove(i);
        let shortest = self.entries.iter().map(|e| e.form.len()).min().unwrap_or(0);
        let window = shortest.min(KEY_BYTES);
        if window != self.window {
            self.window = window;
            self.rekey();
        } else {
            self.rebloom();
        }
    }

    /// Recomputes every key for the current window, sorts, and rebuilds the bitmap.
    fn rekey(&mut self) {
        let window = self.window;
        for e in &mut self.entries {
            e.key = key(&e.form.as_bytes()[..window]);
        }
        self.entries.sort_by_key(|e| e.key);
        self.rebloom();
    }

    fn rebloom(&mut self) {
        self.bloom = [0; BLOOM_WORDS];
        for e in &self.entries {
            let (word, bit) = slot(e.key);
            self.bloom[word] |= bit;
        }
    }

    /// Whether `text` holds any form: one pass, a key and a bitmap test per position.
    pub(super) fn found_in(&self, text: &[u8]) -> bool {
        // The key length as a constant, so that reading a key is one load.
        match self.window {
            1 => self.scan::<1>(text),
            2 => self.scan::<2>(text),
            3 => self.scan::<3>(text),
            4 => self.scan::<4>(text),
            5 => self.scan::<5>(text),
            6 => self.scan::<6>(text),
            7 => self.scan::<7>(text),
            KEY_BYTES => self.scan::<KEY_BYTES>(text),
            _ => false,
        }
    }

    fn scan<const N: usize>(&self, text: &[u8]) -> bool {
        text.windows(N).enumerate().any(|(start, window)| {
            let mut bytes = [0u8; KEY_BYTES];
            bytes[..N].copy_from_slice(window);
            let k = u64::from_le_bytes(bytes);
            let (word, bit) = slot(k);
            self.bloom[word] & bit != 0 && self.any_at(k, &text[start..])
        })
    }

    /// Whether a form keyed `key` starts `rest`.
    #[cold]
    fn any_at(&self, key: u64, rest: &[u8]) -> bool {
        let first = self.entries.partition_point(|e| e.key < key);
        self.entries[first..]
            .iter()
            .take_while(|e| e.key == key)
            .any(|e| rest.starts_with(e.form.as_bytes()))
    }
}

//! The forms a [`Scrubber`](super::Scrubber) looks for, indexed so that a text is read
//! once, however many forms there are and however long.
//!
//! Every successful reply is checked against the call's credentials (some 70 forms:
//! the app secret, recent tokens and signatures), and the set changes on every call (a
//! new signature comes, an old one goes). So the index is kept up to date in place, never
//! rebuilt per call: hashing every form on every call cost more than reading the reply
//! (issue 19).
//!
//! The search is Rabin–Karp over windows as long as the shortest form: every form starts
//! with such a window, so a form occurs only where a window's hash is one of the forms'
//! prefix hashes. A bitmap rejects most windows at once; a hit is confirmed byte by byte.

use std::sync::Arc;

const BASE: u64 = 1_000_003;
/// Bitmap words: 4096 bits, about 2% of windows pass it with 70 forms.
const BLOOM_WORDS: usize = 64;

#[derive(Clone)]
pub(super) struct Needles {
    /// Sorted by `key`.
    entries: Vec<Entry>,
    /// The length of the shortest form (0 when there is none): every key hashes this
    /// many leading bytes of its form.
    window: usize,
    bloom: [u64; BLOOM_WORDS],
}

#[derive(Clone)]
struct Entry {
    /// The hash of the form's first `window` bytes.
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

fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |h, &b| {
        h.wrapping_mul(BASE).wrapping_add(u64::from(b))
    })
}

/// The bitmap word and bit of a hash (mixed first: a polynomial hash's top bits alone are
/// poorly spread for short windows).
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
        let key = hash(&form.as_bytes()[..self.window]);
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
            self.window = form.len();
            self.entries.push(Entry {
                key: 0,
                form,
                count: 1,
            });
            self.rekey();
            return;
        }
        let key = hash(&form.as_bytes()[..self.window]);
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
        let gone = self.entries.remove(i);
        let shortest = self.entries.iter().map(|e| e.form.len()).min().unwrap_or(0);
        if gone.form.len() == self.window && shortest != self.window {
            self.window = shortest;
            self.rekey();
        } else {
            self.rebloom();
        }
    }

    /// Recomputes every key for the current window, sorts, and rebuilds the bitmap.
    fn rekey(&mut self) {
        let window = self.window;
        for e in &mut self.entries {
            e.key = hash(&e.form.as_bytes()[..window]);
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

    /// Whether `text` holds any form: one pass of a rolling hash.
    pub(super) fn found_in(&self, text: &[u8]) -> bool {
        let len = self.window;
        if len == 0 || text.len() < len {
            return false;
        }
        // BASE^(len-1), to take the byte leaving the window out.
        let top = (1..len).fold(1u64, |p, _| p.wrapping_mul(BASE));
        let mut h = hash(&text[..len]);
        let mut start = 0;
        loop {
            let (word, bit) = slot(h);
            if self.bloom[word] & bit != 0 && self.any_at(h, &text[start..]) {
                return true;
            }
            let Some(&next) = text.get(start + len) else {
                return false;
            };
            h = h
                .wrapping_sub(u64::from(text[start]).wrapping_mul(top))
                .wrapping_mul(BASE)
                .wrapping_add(u64::from(next));
            start += 1;
        }
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

//! Identifiers in the shapes the document shows: open_id (32 lowercase hex), tokens
//! (`at`/`rt` + 32 uppercase hex, 34 characters), statement ids (`SP` + 18 digits),
//! member codes (20 digits), platform coupon codes (19 digits).
//!
//! They come from MD5 over a per-sandbox seed and a counter: unique within a sandbox,
//! different between runs (so a client cannot get away with hard-coded values), and no
//! random-number crate is needed.
//!
//! Counters wrap instead of overflowing: they can start anywhere (a state file is
//! loaded from disk, `--state`), and a wrapped counter is still unique for 2^64 uses,
//! where a saturated one would repeat its last value. Callers that key a map by an id
//! still skip an id already in use.

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IdGen {
    // Out of the state dump (it would let anyone derive the tokens); the state file
    // carries it on its own (`state::persist`).
    #[serde(skip_serializing, default)]
    seed: u64,
    counter: u64,
    next_order_id: i64,
    next_template_id: i64,
    next_user_coupon_id: i64,
    next_ledger_id: i64,
}

impl IdGen {
    pub(crate) fn new(seed: u64) -> Self {
        IdGen {
            seed,
            counter: 0,
            // Start where the document's examples are, so values look familiar.
            next_order_id: 126_352,
            next_template_id: 1_309,
            next_user_coupon_id: 306_784,
            next_ledger_id: 1,
        }
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    pub(crate) fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    fn digest(&mut self, purpose: &str) -> [u8; 16] {
        self.counter = self.counter.wrapping_add(1);
        let mut h = Md5::new();
        h.update(self.seed.to_le_bytes());
        h.update(self.counter.to_le_bytes());
        h.update(purpose.as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(h.finalize().as_slice());
        out
    }

    fn hex(&mut self, purpose: &str) -> String {
        hex::encode(self.digest(purpose))
    }

    fn number(&mut self, purpose: &str) -> u64 {
        let d = self.digest(purpose);
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&d[..8]);
        u64::from_le_bytes(eight)
    }

    /// A member's open_id, like `25c56912e05847c0b09f03ca7e52b796`.
    pub(crate) fn open_id(&mut self) -> String {
        self.hex("open_id")
    }

    /// An access token, like `atB1ABA5C50C41C5FEE3E911EC8020C32C`.
    pub(crate) fn access_token(&mut self) -> String {
        format!("at{}", self.hex("access").to_ascii_uppercase())
    }

    /// A refresh token, like `rt5ED02D25F23917092218565B9DDAF657`.
    pub(crate) fn refresh_token(&mut self) -> String {
        format!("rt{}", self.hex("refresh").to_ascii_uppercase())
    }

    /// A point statement id, like `SP016244316351097643`: `SP0`, the time, a sequence.
    pub(crate) fn statement_id(&mut self, now_ms: i64) -> String {
        self.counter = self.counter.wrapping_add(1);
        format!(
            "SP0{:013}{:04}",
            now_ms.rem_euclid(10_000_000_000_000),
            self.counter % 10_000
        )
    }

    /// A member code, like `06244323958828461000` (20 digits).
    pub(crate) fn member_code(&mut self, now_ms: i64) -> String {
        let n = self.number("member_code") % 1_000_000;
        format!("0{:013}{n:06}", now_ms.rem_euclid(10_000_000_000_000))
    }

    /// A platform coupon code, like `3733288246799497770` (19 digits, fits an i64).
    pub(crate) fn coupon_code(&mut self) -> i64 {
        let n = self.number("coupon_code") % 100_000_000_000_000_000;
        // 37 followed by 17 digits: below i64::MAX (9 223 372 036 854 775 807).
        3_700_000_000_000_000_000 + i64::try_from(n).unwrap_or_default()
    }

    /// A member number, like `58500000003` (11 digits).
    pub(crate) fn user_num(&mut self) -> String {
        self.counter = self.counter.wrapping_add(1);
        format!("585{:08}", self.counter % 100_000_000)
    }

    /// An SMS code of four digits, like `4586`.
    pub(crate) fn sms_code(&mut self) -> String {
        format!("{:04}", self.number("sms") % 10_000)
    }

    pub(crate) fn order_id(&mut self) -> i64 {
        let id = self.next_order_id;
        self.next_order_id = self.next_order_id.wrapping_add(1);
        id
    }

    pub(crate) fn template_id(&mut self) -> i64 {
        let id = self.next_template_id;
        self.next_template_id = self.next_template_id.wrapping_add(1);
        id
    }

    pub(crate) fn user_coupon_id(&mut self) -> i64 {
        let id = self.next_user_coupon_id;
        self.next_user_coupon_id = self.next_user_coupon_id.wrapping_add(1);
        id
    }

    pub(crate) fn ledger_id(&mut self) -> i64 {
        let id = self.next_ledger_id;
        self.next_ledger_id = self.next_ledger_id.wrapping_add(1);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let mut ids = IdGen::new(7);
        let open_id = ids.open_id();
        assert_eq!(open_id.len(), 32);
        assert!(open_id.bytes().all(|b| b.is_ascii_hexdigit()));
        let at = ids.access_token();
        assert_eq!(at.len(), 34);
        assert!(at.starts_with("at"));
        assert_eq!(ids.refresh_token().len(), 34);
        let sp = ids.statement_id(1_624_431_635_109);
        assert_eq!(sp.len(), 20);
        assert!(sp.starts_with("SP01624431635109"));
        assert_eq!(ids.member_code(1_624_431_635_109).len(), 20);
        assert_eq!(ids.coupon_code().to_string().len(), 19);
        assert_eq!(ids.user_num().len(), 11);
        assert_eq!(ids.sms_code().len(), 4);
        assert_ne!(ids.open_id(), open_id);
    }
}

//! Which verb each endpoint is sent with, and learning it from the platform.
//!
//! A document may mark a section with another verb than its general rule and its
//! examples use (UMP marks 3.8, 5.4 and 5.5 GET while every example sends a JSON body by
//! POST; the spec's errata decide). The spec then records both: `verb`, sent first, and
//! `doc_verb`, the document's mark. A gateway that enforces the other reading refuses
//! the call before doing anything: an HTTP 405, or one of the protocol's
//! `verb_refusal_codes` with a message naming the verb to use. The client then
//! - re-sends the refused call once with the other verb (a refusal applied nothing, so
//!   this is safe for a write that carries no key too), and never more than once: a
//!   refusal of the re-send is the answer;
//! - keeps sending that endpoint with it for the client's life, and writes it in the
//!   token store's notes, so that the next process (a restart, each `ump` command, the
//!   other instances) starts with it instead of paying one refused call per endpoint.
//!
//! Only an endpoint whose `verb` and `doc_verb` differ ever changes verb, and only
//! between these two: a refusal that names any other verb, or on an endpoint with one
//! verb, is reported as it is. A platform that changes its mind back costs one refused
//! call per endpoint again, the same way.
//!
//! A message is proof only when it names the other verb as a word that the request did
//! not send itself: a gateway that quotes a field of the caller's (a staff name "GET")
//! in a parameter error must not move the endpoint (the echo rule of the token answers).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::RwLock;

use super::Client;
use super::send::RawReply;
use crate::endpoint::{EndpointInfo, Verb};

/// The store note of the verbs learnt: one `method VERB` per line.
const VERBS_NOTE: &str = "verbs";

/// A note longer than this is not read (a damaged or hostile store): a few endpoints'
/// lines take a few hundred bytes.
const MAX_NOTE_BYTES: usize = 4096;

/// A reply longer than this is no refusal: a refusal is a short envelope or error page,
/// and a long success (a page of coupons) is not searched for a verb's name.
const MAX_REFUSAL_BYTES: usize = 4096;

/// The verbs of one client: where it starts, and what it learnt.
pub(crate) struct Verbs {
    /// Start with each endpoint's `doc_verb` rather than its `verb`
    /// ([`ClientBuilder::send_document_verbs`](super::ClientBuilder::send_document_verbs)).
    document_first: bool,
    /// The verb learnt per method (here or from the store's note): only methods whose
    /// `verb` and `doc_verb` differ.
    learned: RwLock<HashMap<&'static str, Verb>>,
    /// The methods whose line of the store's note was looked for (once per client).
    consulted: RwLock<HashSet<&'static str>>,
}

impl Verbs {
    pub(crate) fn new(document_first: bool) -> Self {
        Verbs {
            document_first,
            learned: RwLock::default(),
            consulted: RwLock::default(),
        }
    }

    /// The verb to send `info` with now, from what is known in memory.
    fn current(&self, info: &EndpointInfo) -> Verb {
        if info.verb == info.doc_verb {
            return info.verb;
        }
        let learned = self
            .learned
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(info.method)
            .copied();
        learned.unwrap_or(if self.document_first {
            info.doc_verb
        } else {
            info.verb
        })
    }

    /// Records `verb` for `method`; whether that changed what was known.
    fn learn(&self, method: &'static str, verb: Verb) -> bool {
        self.learned
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(method, verb)
            != Some(verb)
    }

    /// Takes what the store's note says of `info`, unless this client learnt it itself
    /// meanwhile: only an endpoint whose verbs differ, only one of its two verbs.
    fn adopt(&self, note: &str, info: &'static EndpointInfo) {
        if let Some(verb) = note_lines(note).get(info.method)
            && info.verb != info.doc_verb
            && (*verb == info.verb || *verb == info.doc_verb)
        {
            self.learned
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(info.method)
                .or_insert(*verb);
        }
    }
}

/// The lines of a store's note, by method: lines it cannot read are ignored, and so is a
/// note too long to be one (a damaged or hostile store).
fn note_lines(note: &str) -> BTreeMap<String, Verb> {
    if note.len() > MAX_NOTE_BYTES {
        return BTreeMap::new();
    }
    note.lines()
        .filter_map(|line| {
            let (method, verb) = line.trim().split_once(' ')?;
            let verb = match verb.trim() {
                "GET" => Verb::Get,
                "POST" => Verb::Post,
                _ => return None,
            };
            let valid = !method.is_empty() && method.bytes().all(|b| b.is_ascii_graphic());
            valid.then(|| (method.to_owned(), verb))
        })
        .collect()
}

/// The note's text with `method`'s line set to `verb`, the other lines kept.
fn note_with(note: Option<&str>, method: &str, verb: Verb) -> String {
    let mut lines = note.map(note_lines).unwrap_or_default();
    lines.insert(method.to_owned(), verb);
    lines
        .iter()
        .map(|(m, v)| format!("{m} {}\n", v.as_str()))
        .collect()
}

impl Client {
    /// The verb to send `info` with: the one learnt (here or, on the endpoint's first
    /// call, from the store's note), else the one to start with.
    pub(crate) async fn verb_for(&self, info: &'static EndpointInfo) -> Verb {
        let verbs = &self.inner.verbs;
        if info.verb == info.doc_verb {
            return info.verb;
        }
        let consulted = verbs
            .consulted
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(info.method);
        if !consulted {
            // Two first calls at once may both read it: the same note, the same answer.
            if let Some(note) = self.inner.tokens.shared_note(VERBS_NOTE).await {
                verbs.adopt(&note, info);
            }
            verbs
                .consulted
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(info.method);
        }
        verbs.current(info)
    }

    /// The verb the platform asks for instead of `sent`, when `reply` is a refusal of the
    /// verb (see the module docs); `None` otherwise.
    pub(super) fn refused_verb(
        &self,
        info: &EndpointInfo,
        sent: Verb,
        reply: &RawReply<'_>,
        extra: &[(&'static str, String)],
        body: &[u8],
    ) -> Option<Verb> {
        if info.verb == info.doc_verb || reply.redirected {
            return None;
        }
        let other = if sent == info.verb {
            info.doc_verb
        } else {
            info.verb
        };
        if reply.status == 405 {
            // A router's refusal: its `Allow` header, when there is one, must name the
            // other verb.
            return match &reply.allow {
                Some(allow) if !names_verb(allow, other) => None,
                _ => Some(other),
            };
        }
        let protocol = self.inner.protocol;
        if protocol.verb_refusal_codes.is_empty() || reply.body.len() > MAX_REFUSAL_BYTES {
            return None;
        }
        let envelope = super::styles::of(protocol.envelope)
            .decode(protocol, &reply.body)
            .ok()?;
        let (code, message) = envelope.outcome.err()?;
        let message = message?;
        let echoed = || {
            names_verb(&String::from_utf8_lossy(body), other)
                || extra.iter().any(|(_, v)| names_verb(v, other))
        };
        (protocol.verb_refusal_codes.contains(&code) && names_verb(&message, other) && !echoed())
            .then_some(other)
    }

    /// Sends `method` with `verb` from now on, and keeps it in the store's note (read
    /// again first: what other instances learnt of other endpoints stays).
    pub(super) async fn learn_verb(&self, method: &'static str, verb: Verb) {
        if self.inner.verbs.learn(method, verb) {
            let tokens = &self.inner.tokens;
            let note = tokens.shared_note(VERBS_NOTE).await;
            tokens
                .keep_shared_note(VERBS_NOTE, &note_with(note.as_deref(), method, verb))
                .await;
        }
    }
}

/// Whether `text` names `verb` as a word (ASCII case-insensitive, bounded by anything
/// but an ASCII letter or digit: `请使用GET` names GET, `GETTER` does not).
fn names_verb(text: &str, verb: Verb) -> bool {
    let word = verb.as_str().as_bytes();
    let bytes = text.as_bytes();
    if bytes.len() < word.len() {
        return false;
    }
    (0..=bytes.len() - word.len()).any(|at| {
        bytes[at..at + word.len()].eq_ignore_ascii_case(word)
            && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric())
            && bytes
                .get(at + word.len())
                .is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{Credential, Idempotency};

    const SWITCHABLE: EndpointInfo = EndpointInfo {
        method: "levels.list",
        section: "3.8",
        doc_verb: Verb::Get,
        verb: Verb::Post,
        credential: Credential::AccessToken,
        idempotency: Idempotency::Read,
        idempotency_key: None,
        daily_limit: None,
        data_required: true,
        false_is_error: None,
        journal: None,
    };

    const FIXED: EndpointInfo = EndpointInfo {
        method: "members.add",
        doc_verb: Verb::Post,
        ..SWITCHABLE
    };

    #[test]
    fn a_verb_is_named_as_a_word_only() {
        assert!(names_verb("请求方式 POST 不支持, 请使用 GET", Verb::Get));
        assert!(names_verb("请使用GET", Verb::Get));
        assert!(names_verb("use get", Verb::Get));
        assert!(!names_verb("GETTER", Verb::Get));
        assert!(!names_verb("budget", Verb::Get));
        assert!(!names_verb("", Verb::Get));
        assert!(names_verb("POST", Verb::Post));
    }

    #[test]
    fn only_an_endpoint_with_two_verbs_changes() {
        let verbs = Verbs::new(false);
        assert_eq!(verbs.current(&SWITCHABLE), Verb::Post);
        assert!(verbs.learn(SWITCHABLE.method, Verb::Get));
        assert_eq!(verbs.current(&SWITCHABLE), Verb::Get);
        // Learnt again: nothing changed, the note is not written again.
        assert!(!verbs.learn(SWITCHABLE.method, Verb::Get));
        assert_eq!(verbs.current(&FIXED), Verb::Post);
        assert_eq!(Verbs::new(true).current(&SWITCHABLE), Verb::Get);
    }

    static SWITCHABLE_REF: EndpointInfo = SWITCHABLE;
    static FIXED_REF: EndpointInfo = FIXED;

    #[test]
    fn a_note_is_read_strictly() {
        let verbs = Verbs::new(false);
        let note = "members.add GET\nlevels.list DELETE\ngarbage\n";
        verbs.adopt(note, &FIXED_REF);
        verbs.adopt(note, &SWITCHABLE_REF);
        // Neither a one-verb endpoint nor an unknown verb is taken.
        assert_eq!(verbs.current(&FIXED), Verb::Post);
        assert_eq!(verbs.current(&SWITCHABLE), Verb::Post);
        verbs.adopt("levels.list GET\n", &SWITCHABLE_REF);
        assert_eq!(verbs.current(&SWITCHABLE), Verb::Get);
        let long = format!("levels.list GET\n{}", "x".repeat(MAX_NOTE_BYTES));
        let fresh = Verbs::new(false);
        fresh.adopt(&long, &SWITCHABLE_REF);
        assert_eq!(fresh.current(&SWITCHABLE), Verb::Post);
    }

    #[test]
    fn a_note_keeps_the_other_lines() {
        let note = note_with(Some("a.b GET\nbroken line here\n"), "c.d", Verb::Get);
        assert_eq!(note, "a.b GET\nc.d GET\n");
        assert_eq!(
            note_with(Some(&note), "a.b", Verb::Post),
            "a.b POST\nc.d GET\n"
        );
        assert_eq!(note_with(None, "a.b", Verb::Get), "a.b GET\n");
    }
}

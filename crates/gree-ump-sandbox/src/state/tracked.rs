//! A map that remembers which of its keys changed since they were last taken: what lets
//! the state file record a call's changes alone (see `persist`), instead of the whole
//! state after every call (11 ms a call at 1,000 members, 127 ms at 8,000, growing with
//! the state).
//!
//! Reads go through `Deref` to the `BTreeMap`; every way to change it is a method here
//! (there is no `DerefMut`), so a change the log would miss does not compile.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, btree_map};
use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A `BTreeMap` that notes the keys changed (inserted, removed or lent mutably).
#[derive(Debug, Clone)]
pub(crate) struct Tracked<K: Ord, V> {
    map: BTreeMap<K, V>,
    changed: BTreeSet<K>,
}

impl<K: Ord, V> Default for Tracked<K, V> {
    fn default() -> Self {
        Tracked {
            map: BTreeMap::new(),
            changed: BTreeSet::new(),
        }
    }
}

impl<K: Ord, V> Deref for Tracked<K, V> {
    type Target = BTreeMap<K, V>;
    fn deref(&self) -> &BTreeMap<K, V> {
        &self.map
    }
}

impl<K: Ord + Clone, V> Tracked<K, V> {
    /// The value of `key`, lent mutably: noted as changed.
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let (owned, _) = self.map.get_key_value(key)?;
        self.changed.insert(owned.clone());
        self.map.get_mut(key)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.changed.insert(key.clone());
        self.map.insert(key, value)
    }

    /// (No book removes an entry today; the log's removals are tested through it.)
    #[cfg(test)]
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let (owned, value) = self.map.remove_entry(key)?;
        self.changed.insert(owned);
        Some(value)
    }

    /// The entry of `key`: noted as changed, whatever is done with it.
    pub(crate) fn entry(&mut self, key: K) -> btree_map::Entry<'_, K, V> {
        self.changed.insert(key.clone());
        self.map.entry(key)
    }

    /// Every value, lent mutably: all noted as changed.
    pub(crate) fn values_mut(&mut self) -> btree_map::ValuesMut<'_, K, V> {
        self.changed.extend(self.map.keys().cloned());
        self.map.values_mut()
    }
}

/// What the state file needs of a tracked map, whatever its types: its changes as JSON,
/// and a change read back applied.
pub(crate) trait ChangeLog {
    /// The keys changed since the last call, each with its value now (`None`: removed),
    /// as JSON; forgets them.
    fn take_changes(&mut self) -> Vec<(Value, Option<Value>)>;

    /// Forgets the changes (a full snapshot holds them all).
    fn forget_changes(&mut self);

    /// Sets (or, with `None`, removes) a key, from a logged change.
    fn apply_change(&mut self, key: Value, value: Option<Value>) -> Result<(), String>;
}

impl<K, V> ChangeLog for Tracked<K, V>
where
    K: Ord + Clone + Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    fn take_changes(&mut self) -> Vec<(Value, Option<Value>)> {
        let changed = std::mem::take(&mut self.changed);
        changed
            .into_iter()
            .filter_map(|key| {
                // Keys and values are plain data: encoding cannot fail.
                let value = match self.map.get(&key) {
                    Some(v) => Some(serde_json::to_value(v).ok()?),
                    None => None,
                };
                Some((serde_json::to_value(&key).ok()?, value))
            })
            .collect()
    }

    fn forget_changes(&mut self) {
        self.changed.clear();
    }

    fn apply_change(&mut self, key: Value, value: Option<Value>) -> Result<(), String> {
        // The messages name the type that did not fit, never the value (personal data).
        let key: K =
            serde_json::from_value(key).map_err(|_| "a key does not fit its map".to_owned())?;
        match value {
            Some(value) => {
                let value: V = serde_json::from_value(value)
                    .map_err(|_| "a value does not fit its map".to_owned())?;
                self.map.insert(key, value);
            }
            None => {
                self.map.remove(&key);
            }
        }
        Ok(())
    }
}

/// Written as the plain map: the state file's layout is unchanged.
impl<K: Ord + Serialize, V: Serialize> Serialize for Tracked<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(serializer)
    }
}

impl<'de, K, V> Deserialize<'de> for Tracked<K, V>
where
    K: Ord + Deserialize<'de>,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Tracked {
            map: BTreeMap::deserialize(deserializer)?,
            changed: BTreeSet::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_is_noted_once_and_read_back() {
        let mut m: Tracked<String, i64> = Tracked::default();
        m.insert("a".into(), 1);
        m.insert("b".into(), 2);
        *m.get_mut("a").unwrap() += 10;
        assert!(m.get_mut("zz").is_none(), "an absent key is not noted");
        let changes = m.take_changes();
        assert_eq!(
            changes,
            vec![
                (Value::from("a"), Some(Value::from(11))),
                (Value::from("b"), Some(Value::from(2)))
            ]
        );
        assert!(m.take_changes().is_empty(), "taken once");
        m.remove("b");
        *m.entry("c".into()).or_insert(0) += 3;
        let changes = m.take_changes();
        assert_eq!(
            changes,
            vec![
                (Value::from("b"), None),
                (Value::from("c"), Some(Value::from(3)))
            ]
        );

        let mut back: Tracked<String, i64> = Tracked::default();
        back.apply_change(Value::from("b"), Some(Value::from(2)))
            .unwrap();
        for (k, v) in changes {
            back.apply_change(k, v).unwrap();
        }
        assert_eq!(back.len(), 1);
        assert_eq!(back.get("c"), Some(&3));
        assert!(back.apply_change(Value::from(1), None).is_err());
    }

    #[test]
    fn integer_keys_and_values_mut() {
        let mut m: Tracked<i64, String> = Tracked::default();
        m.insert(7, "x".into());
        m.insert(9, "y".into());
        m.take_changes();
        for v in m.values_mut() {
            v.push('!');
        }
        let changes = m.take_changes();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0], (Value::from(7), Some(Value::from("x!"))));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"7":"x!","9":"y!"}"#, "written as the plain map");
        let back: Tracked<i64, String> = serde_json::from_str(&json).unwrap();
        assert_eq!(*back, *m);
    }
}

//! Name–value pairs in `application/x-www-form-urlencoded` form, as pages read their query
//! and forms their body: the last non-empty value of a name counts, trimmed.

/// The pairs, in the order sent.
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn parse(encoded: &[u8]) -> Self {
        Fields(form_urlencoded::parse(encoded).into_owned().collect())
    }

    /// The last non-empty value of `name`, trimmed.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// A field parsed as a number; absent is `None`, a bad value an error naming it.
    pub(crate) fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        self.get(name)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| format!("{name} must be a whole number in range, got {v:?}"))
            })
            .transpose()
    }
}

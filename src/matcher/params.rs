//! [`Params`]: what a match captured.

/// Named values captured by a match: path parameters (percent-decoded;
/// unnamed groups are named `"0"`, `"1"`, ...), then captures of `has`
/// conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The value captured under `name` (the first one, if several).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// All captured pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    /// Adds captured pairs after these; [`get`](Self::get) returns the first pair of a name.
    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
    /// How many pairs were captured.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }
    /// Whether a value was captured under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    pub(crate) fn push(&mut self, name: String, value: String) {
        self.pairs.push((name, value));
    }
}

impl IntoIterator for Params {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

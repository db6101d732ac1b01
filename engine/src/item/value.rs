//! Attribute values and items: DynamoDB's data model.

use super::number::Number;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// One DynamoDB attribute value, of one of the ten types.
///
/// Sets keep the order they were given in (DynamoDB does not promise one); validation
/// ([`super::validate`]) refuses empty sets and duplicates.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum AttributeValue {
    /// A string (`S`), any UTF-8, empty allowed except in key attributes.
    S(String),
    /// A number (`N`).
    N(Number),
    /// Binary data (`B`), raw bytes.
    B(Vec<u8>),
    /// A Boolean (`BOOL`).
    Bool(bool),
    /// Null (`NULL`).
    Null,
    /// A list (`L`) of values of any types.
    L(Vec<AttributeValue>),
    /// A map (`M`) of names to values.
    M(BTreeMap<String, AttributeValue>),
    /// A string set (`SS`).
    Ss(Vec<String>),
    /// A number set (`NS`).
    Ns(Vec<Number>),
    /// A binary set (`BS`).
    Bs(Vec<Vec<u8>>),
}

/// The type of an attribute value, named as DynamoDB names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum AttributeType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
    /// Boolean.
    Bool,
    /// Null.
    Null,
    /// List.
    L,
    /// Map.
    M,
    /// String set.
    Ss,
    /// Number set.
    Ns,
    /// Binary set.
    Bs,
}

impl AttributeType {
    /// DynamoDB's descriptor: `S`, `N`, `B`, `BOOL`, `NULL`, `L`, `M`, `SS`, `NS`, `BS`.
    pub fn descriptor(self) -> &'static str {
        match self {
            AttributeType::S => "S",
            AttributeType::N => "N",
            AttributeType::B => "B",
            AttributeType::Bool => "BOOL",
            AttributeType::Null => "NULL",
            AttributeType::L => "L",
            AttributeType::M => "M",
            AttributeType::Ss => "SS",
            AttributeType::Ns => "NS",
            AttributeType::Bs => "BS",
        }
    }

    /// The type named by a descriptor, if it is one.
    pub fn from_descriptor(descriptor: &str) -> Option<AttributeType> {
        Some(match descriptor {
            "S" => AttributeType::S,
            "N" => AttributeType::N,
            "B" => AttributeType::B,
            "BOOL" => AttributeType::Bool,
            "NULL" => AttributeType::Null,
            "L" => AttributeType::L,
            "M" => AttributeType::M,
            "SS" => AttributeType::Ss,
            "NS" => AttributeType::Ns,
            "BS" => AttributeType::Bs,
            _ => return None,
        })
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.descriptor())
    }
}

impl AttributeValue {
    /// This value's type.
    pub fn attribute_type(&self) -> AttributeType {
        match self {
            AttributeValue::S(_) => AttributeType::S,
            AttributeValue::N(_) => AttributeType::N,
            AttributeValue::B(_) => AttributeType::B,
            AttributeValue::Bool(_) => AttributeType::Bool,
            AttributeValue::Null => AttributeType::Null,
            AttributeValue::L(_) => AttributeType::L,
            AttributeValue::M(_) => AttributeType::M,
            AttributeValue::Ss(_) => AttributeType::Ss,
            AttributeValue::Ns(_) => AttributeType::Ns,
            AttributeValue::Bs(_) => AttributeType::Bs,
        }
    }

    /// Bytes this value counts for in an item's size (DynamoDB's rules, without the
    /// attribute's name): strings by UTF-8 length, binary by length, numbers by
    /// [`Number::size_bytes`], BOOL and NULL 1 byte, sets the sum of their elements, lists
    /// and maps 3 bytes plus 1 byte and the size of each element (and, for maps, its name).
    pub fn size_bytes(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.size_bytes(),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            AttributeValue::L(list) => 3 + list.iter().map(|v| v.size_bytes() + 1).sum::<usize>(),
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + v.size_bytes() + 1).sum::<usize>(),
            AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
            AttributeValue::Ns(set) => set.iter().map(Number::size_bytes).sum(),
            AttributeValue::Bs(set) => set.iter().map(Vec::len).sum(),
        }
    }

    /// Levels of nesting, counting this value as level 1: a scalar or set is 1, a list or
    /// map is one more than its deepest element (1 if empty).
    pub fn depth(&self) -> usize {
        match self {
            AttributeValue::L(list) => 1 + list.iter().map(AttributeValue::depth).max().unwrap_or(0),
            AttributeValue::M(map) => 1 + map.values().map(AttributeValue::depth).max().unwrap_or(0),
            _ => 1,
        }
    }
}

impl From<&str> for AttributeValue {
    fn from(s: &str) -> Self {
        AttributeValue::S(s.to_owned())
    }
}

impl From<String> for AttributeValue {
    fn from(s: String) -> Self {
        AttributeValue::S(s)
    }
}

impl From<Number> for AttributeValue {
    fn from(n: Number) -> Self {
        AttributeValue::N(n)
    }
}

impl From<i64> for AttributeValue {
    fn from(n: i64) -> Self {
        AttributeValue::N(Number::from(n))
    }
}

impl From<bool> for AttributeValue {
    fn from(b: bool) -> Self {
        AttributeValue::Bool(b)
    }
}

/// An item: attribute names mapped to values, in name order.
///
/// Cloning is O(1): the attributes are shared until one of the copies is changed (then
/// that copy takes its own), so reads can hand out items without copying them. They are
/// kept as one vector sorted by name: an item has few attributes, and a vector is one
/// small allocation where a tree would allocate a node of room for eleven.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Item {
    attributes: Arc<Vec<(String, AttributeValue)>>,
}

impl Item {
    /// An item with no attributes.
    pub fn new() -> Item {
        Item::default()
    }

    fn position(&self, name: &str) -> std::result::Result<usize, usize> {
        self.attributes.binary_search_by(|(other, _)| other.as_str().cmp(name))
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&AttributeValue> {
        self.position(name).ok().map(|at| &self.attributes[at].1)
    }

    /// Sets `name` to `value`, returning the previous value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<AttributeValue>) -> Option<AttributeValue> {
        let name = name.into();
        let value = value.into();
        let attributes = Arc::make_mut(&mut self.attributes);
        // Names usually arrive in order (decoding, building): append without a search.
        if attributes.last().is_none_or(|(last, _)| *last < name) {
            attributes.push((name, value));
            return None;
        }
        match attributes.binary_search_by(|(other, _)| other.cmp(&name)) {
            Ok(at) => Some(std::mem::replace(&mut attributes[at].1, value)),
            Err(at) => {
                attributes.insert(at, (name, value));
                None
            }
        }
    }

    /// Builder form of [`Item::insert`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<AttributeValue>) -> Item {
        self.insert(name, value);
        self
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<AttributeValue> {
        let at = self.position(name).ok()?;
        Some(Arc::make_mut(&mut self.attributes).remove(at).1)
    }

    /// The attributes in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &AttributeValue)> {
        self.attributes.iter().map(|(name, value)| (name, value))
    }

    /// How many attributes.
    pub fn len(&self) -> usize {
        self.attributes.len()
    }

    /// Whether the item has no attributes.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }

    /// The item's size by DynamoDB's rules: every attribute's name (UTF-8 bytes) plus its
    /// value's [`AttributeValue::size_bytes`].
    pub fn size_bytes(&self) -> usize {
        self.attributes
            .iter()
            .map(|(name, value)| name.len() + value.size_bytes())
            .sum()
    }

    /// The attributes as a map (a copy).
    pub fn to_map(&self) -> BTreeMap<String, AttributeValue> {
        self.attributes.iter().cloned().collect()
    }

    /// The item of those of its attributes whose names `keep` accepts (copies), built in
    /// place: they are in order already, so no map is needed (what an index projects and
    /// a write notes of an item, on every indexed write).
    pub fn subset(&self, mut keep: impl FnMut(&str) -> bool) -> Item {
        let attributes = self.attributes.iter().filter(|(name, _)| keep(name)).cloned().collect();
        Item {
            attributes: Arc::new(attributes),
        }
    }

    /// An item of attributes given in strictly increasing name order, as a decoder reads
    /// them; `None` if they are not (then the input repeats or misorders names).
    pub fn from_sorted(attributes: Vec<(String, AttributeValue)>) -> Option<Item> {
        attributes.windows(2).all(|w| w[0].0 < w[1].0).then(|| Item {
            attributes: Arc::new(attributes),
        })
    }
}

impl From<BTreeMap<String, AttributeValue>> for Item {
    fn from(attributes: BTreeMap<String, AttributeValue>) -> Item {
        Item {
            attributes: Arc::new(attributes.into_iter().collect()),
        }
    }
}

impl<K: Into<String>, V: Into<AttributeValue>> FromIterator<(K, V)> for Item {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Item {
        Item::from(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect::<BTreeMap<_, _>>(),
        )
    }
}

impl IntoIterator for Item {
    type Item = (String, AttributeValue);
    type IntoIter = std::vec::IntoIter<(String, AttributeValue)>;

    fn into_iter(self) -> Self::IntoIter {
        Arc::unwrap_or_clone(self.attributes).into_iter()
    }
}

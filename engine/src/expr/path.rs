//! Document paths: `a`, `a.b`, `a[2]`, `a.b[2].c`.

use crate::item::{AttributeValue, Item, ValidationError};
use std::fmt;

/// One step of a path: a map key (or top-level attribute name), or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathElement {
    /// An attribute or map key.
    Name(String),
    /// A list index.
    Index(usize),
}

/// A path into an item, starting at a top-level attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path(Vec<PathElement>);

impl Path {
    /// The top-level attribute `name`.
    pub fn attribute(name: impl Into<String>) -> Path {
        Path(vec![PathElement::Name(name.into())])
    }

    /// The path of `elements`, if it starts with a name (`None` otherwise).
    pub fn from_elements(elements: Vec<PathElement>) -> Option<Path> {
        matches!(elements.first(), Some(PathElement::Name(_))).then_some(Path(elements))
    }

    /// Parses `a.b[2].c`: names separated by `.`, list indexes in `[]`. Names are taken
    /// literally (placeholders like `#n` belong to the expression parser).
    ///
    /// Errors: [`ValidationError::InvalidParameter`] for an empty name, a path starting
    /// with an index, or a malformed index.
    pub fn parse(text: &str) -> Result<Path, ValidationError> {
        let invalid = |why: &str| ValidationError::InvalidParameter(format!("Invalid document path {text:?}: {why}"));
        let mut elements = Vec::new();
        let mut rest = text;
        let mut expect_name = true;
        while !rest.is_empty() || expect_name {
            if expect_name {
                let end = rest.find(['.', '[', ']']).unwrap_or(rest.len());
                if end == 0 {
                    return Err(invalid("an attribute name is empty"));
                }
                elements.push(PathElement::Name(rest[..end].to_owned()));
                rest = &rest[end..];
                expect_name = false;
            } else if let Some(after) = rest.strip_prefix('.') {
                rest = after;
                expect_name = true;
            } else if let Some(after) = rest.strip_prefix('[') {
                let close = after.find(']').ok_or_else(|| invalid("a list index is not closed"))?;
                let index = after[..close]
                    .parse()
                    .map_err(|_| invalid("a list index is not a number"))?;
                elements.push(PathElement::Index(index));
                rest = &after[close + 1..];
            } else {
                return Err(invalid("unexpected character"));
            }
        }
        Ok(Path(elements))
    }

    /// The path's steps; the first is always a name.
    pub fn elements(&self) -> &[PathElement] {
        &self.0
    }

    /// The top-level attribute the path starts at.
    pub fn root(&self) -> &str {
        match self.0.first() {
            Some(PathElement::Name(name)) => name,
            _ => "",
        }
    }

    /// The value at this path in `item`, if there is one.
    pub fn resolve<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        let mut value = item.get(self.root())?;
        for element in &self.0[1..] {
            value = match (element, value) {
                (PathElement::Name(name), AttributeValue::M(map)) => map.get(name)?,
                (PathElement::Index(index), AttributeValue::L(list)) => list.get(*index)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, element) in self.0.iter().enumerate() {
            match element {
                PathElement::Name(name) if i == 0 => f.write_str(name)?,
                PathElement::Name(name) => write!(f, ".{name}")?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

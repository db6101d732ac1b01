//! Conditions already parsed, by their text, for expressions a request gives without any
//! placeholder (`attribute_not_exists(pk)`, the guard of every create-only put): such an
//! expression means the same tree whatever the request, so it is parsed once per thread
//! and cloned after. An expression with placeholders depends on the request's values and
//! is parsed each time; a refused expression is not kept (it is refused again, with the
//! same error, each time).
//!
//! The cache is per thread, so that a lookup takes no lock, and holds at most
//! [`ENTRIES_MAX`] expressions: when full it is emptied, so a request stream of endless
//! distinct expressions costs memory no more than that.

use super::{ExpressionError, ExpressionKind, Placeholders, parse_condition};
use crate::expr::Condition;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use xxhash_rust::xxh3::Xxh3Default;

/// The most expressions a thread keeps.
pub const ENTRIES_MAX: usize = 256;

type Entries = HashMap<String, Condition, BuildHasherDefault<Xxh3Default>>;

thread_local! {
    /// ConditionExpressions, then FilterExpressions (which name the expression in errors
    /// only, but are kept apart all the same).
    static CONDITIONS: RefCell<[Entries; 2]> = RefCell::new([Entries::default(), Entries::default()]);
}

/// [`parse_condition`], from this thread's cache when `placeholders` is empty.
///
/// Errors: as [`parse_condition`].
pub fn parse_condition_cached(
    kind: ExpressionKind,
    source: &str,
    placeholders: &mut Placeholders<'_>,
) -> Result<Condition, ExpressionError> {
    let slot = match kind {
        ExpressionKind::Condition => 0,
        ExpressionKind::Filter => 1,
        _ => return parse_condition(kind, source, placeholders),
    };
    if !placeholders.is_empty() {
        return parse_condition(kind, source, placeholders);
    }
    if let Some(hit) = CONDITIONS.with_borrow(|maps| maps[slot].get(source).cloned()) {
        return Ok(hit);
    }
    let condition = parse_condition(kind, source, placeholders)?;
    CONDITIONS.with_borrow_mut(|maps| {
        if maps[slot].len() >= ENTRIES_MAX {
            maps[slot].clear();
        }
        maps[slot].insert(source.to_owned(), condition.clone());
    });
    Ok(condition)
}

/// How many expressions this thread keeps now (of both kinds).
pub fn cached() -> usize {
    CONDITIONS.with_borrow(|maps| maps.iter().map(HashMap::len).sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::AttributeValue;

    fn no_placeholders() -> (HashMap<String, String>, HashMap<String, AttributeValue>) {
        (HashMap::new(), HashMap::new())
    }

    #[test]
    fn an_expression_without_placeholders_is_parsed_once_and_means_the_same_tree() {
        let (names, values) = no_placeholders();
        let text = "attribute_not_exists(pk) AND size(tags) > size(sk)";
        let fresh = parse_condition(ExpressionKind::Condition, text, &mut Placeholders::new(&names, &values)).unwrap();
        let before = cached();
        let first =
            parse_condition_cached(ExpressionKind::Condition, text, &mut Placeholders::new(&names, &values)).unwrap();
        assert_eq!(cached(), before + 1);
        let second =
            parse_condition_cached(ExpressionKind::Condition, text, &mut Placeholders::new(&names, &values)).unwrap();
        assert_eq!(cached(), before + 1, "the second parse came from the cache");
        assert_eq!(first, fresh);
        assert_eq!(second, fresh);
        // The same text as a filter is kept apart.
        parse_condition_cached(ExpressionKind::Filter, text, &mut Placeholders::new(&names, &values)).unwrap();
        assert_eq!(cached(), before + 2);
    }

    #[test]
    fn placeholders_and_refusals_are_never_kept() {
        let names: HashMap<String, String> = [("#n".to_owned(), "name".to_owned())].into();
        let before = cached();
        let with_values = |v: i64| {
            let values: HashMap<String, AttributeValue> = [(":v".to_owned(), AttributeValue::from(v))].into();
            let mut placeholders = Placeholders::new(&names, &values);
            parse_condition_cached(ExpressionKind::Condition, "#n = :v", &mut placeholders).unwrap()
        };
        assert_ne!(with_values(1), with_values(2), "each request's values");
        let (no_names, no_values) = no_placeholders();
        for _ in 0..2 {
            let error = parse_condition_cached(
                ExpressionKind::Condition,
                "attribute_not_exists(status)",
                &mut Placeholders::new(&no_names, &no_values),
            )
            .unwrap_err();
            assert!(matches!(error, ExpressionError::ReservedWord { .. }), "{error}");
        }
        assert_eq!(cached(), before);
    }

    #[test]
    fn a_full_cache_is_emptied_so_memory_stays_bounded() {
        let (names, values) = no_placeholders();
        for i in 0..ENTRIES_MAX * 3 {
            let text = format!("attribute_exists(a{i})");
            parse_condition_cached(
                ExpressionKind::Condition,
                &text,
                &mut Placeholders::new(&names, &values),
            )
            .unwrap();
            assert!(cached() <= ENTRIES_MAX);
        }
        assert!(cached() >= 1);
    }
}

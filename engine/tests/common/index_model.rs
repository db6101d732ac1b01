//! The index model tests' steps: random puts, updates and deletes of `Games` items that
//! add, change and remove their `city` (S) and `score` (N) index keys, with flushes,
//! compactions and reopens among them, applied to a database and to a `BTreeMap` model
//! of the table. The local and global index tests check their indexes against the model.

use dynastore_engine::expr::{Path, SetValue, UpdateAction};
use dynastore_engine::{AttributeValue, Database, DeleteItemInput, Item, PutItemInput, UpdateItemInput};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// The table every step writes.
pub const TABLE: &str = "Games";

/// One step of a model test.
#[derive(Debug, Clone)]
pub enum Step {
    /// A whole item, with or without each index key.
    Put {
        pk: u8,
        sk: u8,
        city: Option<u8>,
        score: Option<u8>,
    },
    SetCity {
        pk: u8,
        sk: u8,
        city: u8,
    },
    SetScore {
        pk: u8,
        sk: u8,
        score: u8,
    },
    RemoveScore {
        pk: u8,
        sk: u8,
    },
    Delete {
        pk: u8,
        sk: u8,
    },
    Flush,
    Compact,
    Reopen,
}

/// Steps over 3 partition keys and `sort_keys` sort keys.
pub fn step(sort_keys: u8) -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u8..3, 0..sort_keys, proptest::option::of(0u8..3), proptest::option::of(0u8..5))
            .prop_map(|(pk, sk, city, score)| Step::Put { pk, sk, city, score }),
        2 => (0u8..3, 0..sort_keys, 0u8..3).prop_map(|(pk, sk, city)| Step::SetCity { pk, sk, city }),
        2 => (0u8..3, 0..sort_keys, 0u8..5).prop_map(|(pk, sk, score)| Step::SetScore { pk, sk, score }),
        2 => (0u8..3, 0..sort_keys).prop_map(|(pk, sk)| Step::RemoveScore { pk, sk }),
        2 => (0u8..3, 0..sort_keys).prop_map(|(pk, sk)| Step::Delete { pk, sk }),
        1 => Just(Step::Flush),
        1 => Just(Step::Compact),
        1 => Just(Step::Reopen),
    ]
}

/// The partition key value of model key `pk`.
pub fn pk_name(pk: u8) -> String {
    format!("p{pk}")
}

/// The key of item (`pk`, `sk`).
pub fn game_key(pk: u8, sk: u8) -> Item {
    Item::new().with("pk", pk_name(pk)).with("sk", i64::from(sk))
}

/// Applies `steps` to `db` and to the model, reopening with `reopen`; returns the
/// database as it is after the last step, and the model: every item by (`pk`, `sk`).
pub fn run_steps(
    mut db: Database,
    steps: &[Step],
    reopen: impl Fn() -> Database,
) -> (Database, BTreeMap<(u8, u8), Item>) {
    let mut model: BTreeMap<(u8, u8), Item> = BTreeMap::new();
    // Sets attribute `name` of item (`pk`, `sk`) to `value`, or removes it (`None`),
    // creating the item if it is not there, as UpdateItem does.
    let update = |db: &Database,
                  model: &mut BTreeMap<(u8, u8), Item>,
                  (pk, sk): (u8, u8),
                  name: &str,
                  value: Option<AttributeValue>| {
        let key = game_key(pk, sk);
        let action = match &value {
            Some(value) => UpdateAction::Set(Path::attribute(name), SetValue::from(value.clone())),
            None => UpdateAction::Remove(Path::attribute(name)),
        };
        db.update_item(UpdateItemInput::new(TABLE, key.clone(), vec![action]))
            .unwrap();
        let mut item = model.remove(&(pk, sk)).unwrap_or(key);
        match value {
            Some(value) => item.insert(name, value),
            None => item.remove(name),
        };
        model.insert((pk, sk), item);
    };
    for step in steps {
        match *step {
            Step::Put { pk, sk, city, score } => {
                let mut item = game_key(pk, sk).with("body", "x".repeat(usize::from(sk) * 8));
                if let Some(city) = city {
                    item = item.with("city", format!("c{city}")).with("level", i64::from(city));
                }
                if let Some(score) = score {
                    item = item.with("score", i64::from(score));
                }
                db.put_item(PutItemInput::new(TABLE, item.clone())).unwrap();
                model.insert((pk, sk), item);
            }
            Step::SetCity { pk, sk, city } => {
                update(
                    &db,
                    &mut model,
                    (pk, sk),
                    "city",
                    Some(format!("c{city}").as_str().into()),
                );
            }
            Step::SetScore { pk, sk, score } => {
                update(&db, &mut model, (pk, sk), "score", Some(i64::from(score).into()));
            }
            Step::RemoveScore { pk, sk } => update(&db, &mut model, (pk, sk), "score", None),
            Step::Delete { pk, sk } => {
                db.delete_item(DeleteItemInput::new(TABLE, game_key(pk, sk))).unwrap();
                model.remove(&(pk, sk));
            }
            Step::Flush => db.flush().unwrap(),
            Step::Compact => {
                db.flush().unwrap();
                db.compact().unwrap();
            }
            Step::Reopen => {
                db.sync().unwrap();
                db.close().unwrap();
                db = reopen();
            }
        }
    }
    (db, model)
}

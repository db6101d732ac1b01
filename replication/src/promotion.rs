//! Which replica a failover promotes, and whether the promotion may go on.
//!
//! Every copy in service is a candidate at its durable LSN when shipping stopped (every
//! record a replica acknowledged is in it). Without a chosen AZ, the candidate holding
//! the most is promoted, preferring one with no shipment under way (a shipment that is
//! cut short may still add records to it). A promotion must not lose history: the new
//! primary must hold at least as much as every other candidate, and a planned promotion
//! from a healthy primary must hand over everything durable there.

use dynastore_wal::Lsn;

/// A replica a failover may promote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// Its AZ.
    pub az: &'a str,
    /// Its durable LSN when shipping stopped.
    pub durable: Lsn,
    /// Whether a shipment to it was still under way when shipping stopped.
    pub shipping: bool,
}

/// Why a promotion cannot go on. Its `Display` is the reason the engine reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The AZ asked for holds no copy in service.
    #[error("{az} holds no copy in service")]
    NoCopyIn {
        /// The AZ asked for.
        az: String,
    },
    /// No replica is in service.
    #[error("no replica is in service")]
    NoReplica,
    /// The chosen copy holds less than another candidate.
    #[error("{az} is behind another replica (LSN {handover} of {best})")]
    BehindReplica {
        /// The chosen copy's AZ.
        az: String,
        /// What it holds.
        handover: Lsn,
        /// What the most advanced candidate holds.
        best: Lsn,
    },
    /// A planned promotion's copy holds less than the healthy primary made durable.
    #[error("{az} is behind the primary (LSN {handover} of {primary_durable})")]
    BehindPrimary {
        /// The chosen copy's AZ.
        az: String,
        /// What it holds.
        handover: Lsn,
        /// What the primary made durable.
        primary_durable: Lsn,
    },
}

/// The candidate to promote, by index: the one in `target` if given, else one holding
/// the most, with no shipment under way if there is such a one (the first of equals).
///
/// Errors: [`Refusal::NoCopyIn`] if `target` holds no candidate, [`Refusal::NoReplica`]
/// if there is no candidate.
pub fn choose(candidates: &[Candidate<'_>], target: Option<&str>) -> Result<usize, Refusal> {
    if let Some(az) = target {
        return candidates
            .iter()
            .position(|c| c.az == az)
            .ok_or_else(|| Refusal::NoCopyIn { az: az.to_owned() });
    }
    let best = candidates.iter().map(|c| c.durable).max();
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| Some(c.durable) == best)
        .min_by_key(|(_, c)| c.shipping)
        .map(|(index, _)| index)
        .ok_or(Refusal::NoReplica)
}

/// Whether the copy in `az`, which holds the history up to `handover`, may take over:
/// it must hold as much as every candidate (`candidates`), and, when `healthy_primary`
/// gives a planned promotion's healthy primary's durable LSN, as much as that too.
///
/// Errors: [`Refusal::BehindReplica`], [`Refusal::BehindPrimary`].
pub fn check_handover(
    az: &str,
    handover: Lsn,
    candidates: &[Candidate<'_>],
    healthy_primary: Option<Lsn>,
) -> Result<(), Refusal> {
    let best = candidates.iter().map(|c| c.durable).max().unwrap_or(Lsn::ZERO);
    if handover < best {
        return Err(Refusal::BehindReplica {
            az: az.to_owned(),
            handover,
            best,
        });
    }
    match healthy_primary {
        Some(primary_durable) if handover < primary_durable => Err(Refusal::BehindPrimary {
            az: az.to_owned(),
            handover,
            primary_durable,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(az: &str, durable: u64, shipping: bool) -> Candidate<'_> {
        Candidate {
            az,
            durable: Lsn(durable),
            shipping,
        }
    }

    /// A row: the candidates, the AZ asked for, and the one promoted (or why none).
    type Row<'a> = (Vec<Candidate<'a>>, Option<&'a str>, Result<usize, Refusal>);

    #[test]
    fn the_replica_holding_the_most_is_promoted() {
        let table: Vec<Row<'_>> = vec![
            (
                vec![candidate("az-b", 10, false), candidate("az-c", 12, false)],
                None,
                Ok(1),
            ),
            (
                vec![candidate("az-b", 12, false), candidate("az-c", 10, false)],
                None,
                Ok(0),
            ),
            // Of equals, one with no shipment under way; else the first.
            (
                vec![candidate("az-b", 12, true), candidate("az-c", 12, false)],
                None,
                Ok(1),
            ),
            (
                vec![candidate("az-b", 12, false), candidate("az-c", 12, false)],
                None,
                Ok(0),
            ),
            (
                vec![candidate("az-b", 12, true), candidate("az-c", 12, true)],
                None,
                Ok(0),
            ),
            // A shipment under way does not pass over a copy that holds more.
            (
                vec![candidate("az-b", 13, true), candidate("az-c", 12, false)],
                None,
                Ok(0),
            ),
            // The AZ asked for, even behind (the handover check refuses it).
            (
                vec![candidate("az-b", 13, false), candidate("az-c", 12, false)],
                Some("az-c"),
                Ok(1),
            ),
            (
                vec![candidate("az-b", 13, false)],
                Some("az-c"),
                Err(Refusal::NoCopyIn { az: "az-c".into() }),
            ),
            (vec![], None, Err(Refusal::NoReplica)),
        ];
        for (row, (candidates, target, chosen)) in table.into_iter().enumerate() {
            assert_eq!(choose(&candidates, target), chosen, "row {row}");
        }
    }

    /// Each row: the chosen copy's handover, a healthy primary's durable LSN for a
    /// planned promotion, and whether it may take over.
    #[test]
    fn a_promotion_never_hands_over_less_than_a_candidate_or_a_healthy_primary_holds() {
        let candidates = [candidate("az-b", 10, false), candidate("az-c", 12, true)];
        let behind_replica = |handover| Refusal::BehindReplica {
            az: "az-b".into(),
            handover: Lsn(handover),
            best: Lsn(12),
        };
        let table = [
            (12, None, Ok(())),
            // The chosen copy's shipment ended with more than it had when it stopped.
            (14, None, Ok(())),
            (10, None, Err(behind_replica(10))),
            (11, Some(11), Err(behind_replica(11))),
            (12, Some(12), Ok(())),
            (
                12,
                Some(15),
                Err(Refusal::BehindPrimary {
                    az: "az-b".into(),
                    handover: Lsn(12),
                    primary_durable: Lsn(15),
                }),
            ),
        ];
        for (row, (handover, primary, expected)) in table.into_iter().enumerate() {
            let checked = check_handover("az-b", Lsn(handover), &candidates, primary.map(Lsn));
            assert_eq!(checked, expected, "row {row}");
        }
        assert_eq!(check_handover("az-b", Lsn(0), &[], None), Ok(()));
    }

    /// The reasons read as the engine has always reported them.
    #[test]
    fn refusals_read_as_reasons() {
        assert_eq!(Refusal::NoReplica.to_string(), "no replica is in service");
        assert_eq!(
            Refusal::BehindReplica {
                az: "az-c".into(),
                handover: Lsn(3),
                best: Lsn(5)
            }
            .to_string(),
            "az-c is behind another replica (LSN 3 of 5)"
        );
    }
}

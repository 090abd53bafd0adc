//! Named tests, one or more per routing rule, by topic, and the persistence round trip.

mod capacity;
mod effects;
mod eligibility;
mod offers;
mod persistence;
mod presence;
mod queue;
mod support;

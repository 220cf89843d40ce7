//! Shared test data, and a reading of rule files independent of our parser.

pub(crate) mod corpus;
pub(crate) mod rule_facts;

//! Shared test data.

pub(crate) mod corpus;

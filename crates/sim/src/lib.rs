//! Deterministic, labelled CloudTrail simulator: ordinary organisations, attacks and benign drift.

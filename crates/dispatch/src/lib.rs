//! The dial-a-ride engine (being written).

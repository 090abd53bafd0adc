//! The omnichannel routing engine.

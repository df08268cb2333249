//! The Molecule platform: registration, the auth token, heartbeats, card
//! updates, and the shutdown snapshot.
//!
//! Invariant: nothing here knows A2A. It sees the card as an opaque JSON
//! value and the agent's load as a few numbers.

pub mod client;
pub mod heartbeat;
pub mod register;
pub mod snapshot;
pub mod token;

pub use client::{PlatformClient, RegistryError};
pub use token::TokenStore;

//! SIGHUP reloads the card: the card file is read again (the environment
//! is the one the process started with, so `AGENT_NAME` and
//! `AGENT_DESCRIPTION` stay), the served card is swapped, and the
//! platform is told through `/registry/update-card`. (`signals` turns the
//! signal into an event; the main thread calls `card` for it.)

use crate::card::{Capabilities, Cards, SharedCards};
use crate::config::Config;
use crate::platform::PlatformClient;
use serde_json::Value;
use std::sync::Arc;

/// Re-reads the card configuration and swaps the card; a broken card file
/// keeps the current card (and says so). `client` is set when the agent
/// registers, to send the platform the new card.
pub(crate) fn card(cards: &SharedCards, client: Option<&Arc<PlatformClient>>, workspace_id: &str) {
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            log::error!("SIGHUP: card not reloaded, keeping the current one: {e}");
            return;
        }
    };
    let new = Cards::build(&cfg, Capabilities::AGENT);
    let registration = new.registration.clone();
    cards.set(new);
    log::info!(
        "SIGHUP: card reloaded ({:?}, {} skill(s))",
        cfg.card.name,
        cfg.card.skills.len()
    );
    if let Some(client) = client {
        send_card(Arc::clone(client), workspace_id.to_string(), registration);
    }
}

/// Sends the card off the main thread, on a `card-update` thread: the call
/// has its own timeouts, but shutdown must not wait behind it.
fn send_card(client: Arc<PlatformClient>, workspace_id: String, card: Value) {
    let update = move || match client.update_card(&workspace_id, &card) {
        Ok(()) => log::info!("platform updated with the new card"),
        Err(e) => log::warn!(
            "could not send the new card to the platform ({e}); \
             it goes out with the next registration"
        ),
    };
    let spawned = std::thread::Builder::new()
        .name("card-update".into())
        .spawn(update);
    if let Err(e) = spawned {
        log::warn!("could not start the card update: {e}");
    }
}

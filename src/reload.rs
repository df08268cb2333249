//! SIGHUP reloads the card: the card file and `AGENT_NAME` /
//! `AGENT_DESCRIPTION` are read again, the served card is swapped, and the
//! platform is told through `/registry/update-card`. (`signals` turns the
//! signal into a call here, on the main thread.)

use crate::card::{Capabilities, Cards};
use crate::config::Config;
use crate::platform::PlatformClient;
use crate::server::State;
use serde_json::Value;
use std::sync::{Arc, RwLock};

/// Re-reads the card configuration and swaps the card; a broken card file
/// keeps the current card (and says so).
pub fn card(
    state: &State,
    registration: &Arc<RwLock<Value>>,
    client: Option<Arc<PlatformClient>>,
    workspace_id: &str,
) {
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            log::error!("SIGHUP: card not reloaded, keeping the current one: {e}");
            return;
        }
    };
    let cards = Cards::build(
        &cfg,
        Capabilities {
            streaming: true,
            push_notifications: false,
        },
    );
    let card = cards.registration.clone();
    *state.cards.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(cards);
    *registration.write().unwrap_or_else(|e| e.into_inner()) = card.clone();
    log::info!(
        "SIGHUP: card reloaded ({:?}, {} skill(s))",
        cfg.card.name,
        cfg.card.skills.len()
    );
    if let Some(client) = client {
        let ws = workspace_id.to_string();
        // off the main thread: the call has its own timeouts, but shutdown
        // must not wait behind it
        let spawned = std::thread::Builder::new().name("card-update".into()).spawn(move || {
            match client.update_card(&ws, &card) {
                Ok(()) => log::info!("platform updated with the new card"),
                Err(e) => log::warn!("could not send the new card to the platform ({e}); it goes out with the next registration"),
            }
        });
        if let Err(e) = spawned {
            log::warn!("could not start the card update: {e}");
        }
    }
}

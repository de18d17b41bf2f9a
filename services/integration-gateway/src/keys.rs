//! `integration-gateway keys rewrap`: after a new master key is configured
//! (and made `service.master_key_id`), moves every project's data key to
//! it, so the older master keys can be removed from the settings.

use clap::Subcommand;
use tenant_core::error::error_chain;
use tenant_core::server;

use crate::secrets::rewrap_data_keys;
use crate::{SPEC, Settings, master_keys};

/// The service's own commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Master key administration.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-wraps every project's data key with the current master key
    /// (`service.master_key_id`); secrets stay as they are.
    Rewrap,
}

/// Runs `command` with the loaded settings.
pub async fn run(command: Command, settings: Settings) -> Result<(), String> {
    match command {
        Command::Keys(KeysCommand::Rewrap) => {
            let keys = master_keys(&settings).map_err(|e| error_chain(&e))?;
            let db = server::connect_database(&SPEC, &settings)
                .await
                .map_err(|e| error_chain(&e))?
                .ok_or("the service has no database configured")?;
            let report = rewrap_data_keys(&db, &keys)
                .await
                .map_err(|e| error_chain(&e))?;
            tracing::info!(
                rewrapped = report.rewrapped,
                failed = report.failed.len(),
                master_key_id = keys.current_id(),
                "data keys rewrapped"
            );
            if report.failed.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} data keys could not be unwrapped with the configured master keys (projects {:?})",
                    report.failed.len(),
                    report.failed
                ))
            }
        }
    }
}

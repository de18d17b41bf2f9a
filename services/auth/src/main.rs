use std::io::BufRead;
use std::process::ExitCode;

use auth_service::{SPEC, Settings, accounts, admin_state, build};
use clap::Subcommand;
use secrecy::SecretString;
use tenant_core::error::error_chain;

#[derive(Debug, Subcommand)]
enum AuthCommand {
    /// Create a platform admin. The password is read from
    /// FAULTLINE_ADMIN_PASSWORD, else from the first line of stdin.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        display_name: String,
    },
    /// Manage token signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Publish a new signing key; it signs once verifiers have had time to fetch it.
    Rotate,
}

fn main() -> ExitCode {
    tenant_core::cli::main_with(
        &SPEC,
        |settings| async move {
            build(settings)
                .await?
                .run_until_stopped()
                .await
                .map_err(auth_service::StartupError::from)
        },
        run_admin_command,
    )
}

async fn run_admin_command(command: AuthCommand, settings: Settings) -> Result<(), String> {
    let state = admin_state(&settings).await.map_err(|e| error_chain(&e))?;
    match command {
        AuthCommand::CreateAdmin {
            email,
            display_name,
        } => {
            let password = admin_password()?;
            let user = accounts::create_user(&state, &email, &password, &display_name, "admin")
                .await
                .map_err(|e| error_chain(&e))?;
            tracing::info!(user_id = %user.id, email = %user.email, "platform admin created");
        }
        AuthCommand::Keys {
            action: KeysAction::Rotate,
        } => {
            let kid = state.keys.rotate().await.map_err(|e| error_chain(&e))?;
            tracing::info!(kid, "new signing key published as pending");
        }
    }
    Ok(())
}

/// The first admin's password: from `FAULTLINE_ADMIN_PASSWORD`, else the
/// first line of stdin. It is never a setting, so it is never in a
/// configuration file or a settings dump.
fn admin_password() -> Result<SecretString, String> {
    #[expect(
        clippy::disallowed_methods,
        reason = "a one-off secret for one admin command, deliberately outside the settings"
    )]
    let from_env = std::env::var("FAULTLINE_ADMIN_PASSWORD");
    if let Ok(password) = from_env {
        return Ok(SecretString::from(password));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(SecretString::from(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

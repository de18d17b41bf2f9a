use std::process::ExitCode;

use api_gateway::{Application, SPEC};

fn main() -> ExitCode {
    tenant_core::cli::main(&SPEC, |settings| async move {
        Application::build(settings)
            .await?
            .run_until_stopped()
            .await
            .map_err(api_gateway::StartupError::from)
    })
}

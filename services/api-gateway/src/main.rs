use std::process::ExitCode;

use api_gateway::{SPEC, build};

fn main() -> ExitCode {
    tenant_core::cli::main(&SPEC, |settings| async move {
        build(settings)
            .await?
            .run_until_stopped()
            .await
            .map_err(api_gateway::StartupError::from)
    })
}

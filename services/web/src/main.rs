use std::process::ExitCode;

use web_service::{SPEC, Settings, StartupError, build};

fn main() -> ExitCode {
    tenant_core::cli::main(&SPEC, |settings: Settings| async move {
        build(settings)
            .await?
            .run_until_stopped()
            .await
            .map_err(StartupError::from)
    })
}

use std::process::ExitCode;

use failure_service::{Application, SPEC, Settings};

fn main() -> ExitCode {
    tenant_core::cli::main(&SPEC, |settings: Settings| async move {
        Application::build(settings)
            .await?
            .run_until_stopped()
            .await
    })
}

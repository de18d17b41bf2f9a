use std::process::ExitCode;

use integration_gateway::{SPEC, StartupError, build, keys};

fn main() -> ExitCode {
    tenant_core::cli::main_with(
        &SPEC,
        |settings| async move {
            build(settings)
                .await?
                .run_until_stopped()
                .await
                .map_err(StartupError::from)
        },
        keys::run,
    )
}

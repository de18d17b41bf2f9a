use std::process::ExitCode;

use analytics_service::{SPEC, build};

fn main() -> ExitCode {
    tenant_core::cli::main(&SPEC, |settings| async move {
        build(settings).await?.run_until_stopped().await
    })
}

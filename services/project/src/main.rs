use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use project_service::{SPEC, StartupError, build, import};

#[derive(Debug, Subcommand)]
enum ProjectCommand {
    /// Create or update projects, plans and memberships from a YAML file
    /// (see deploy/projects.example.yaml); prints what it changed.
    Import {
        file: PathBuf,
        /// Check the file and print what would change, without changing it.
        #[arg(long)]
        dry_run: bool,
    },
}

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
        |command, settings| async move {
            match command {
                ProjectCommand::Import { file, dry_run } => {
                    let mut stdout = std::io::stdout();
                    import::run_file(&settings, &file, dry_run, &mut stdout)
                        .await
                        .map(|_| ())
                        .map_err(|error| tenant_core::error::error_chain(&error))
                }
            }
        },
    )
}

//! A throwaway PostgreSQL cluster a test can stop and start, for behaviour
//! that needs the database to go away (readiness, reconnects) without
//! disturbing the shared cluster other tests use. It listens only on a Unix
//! socket in its own directory, so it needs no TCP port (none to probe for
//! and lose to another process before the server binds it).
//!
//! Its tools run as child processes the test's runtime awaits, never
//! blocking it (the services of the test run on that runtime too), and each
//! within [`TOOL_TIMEOUT`].

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::Command;

use anyhow::{Context, bail};
use tokio_postgres::Config;

use crate::connect;

/// How long `initdb`, `pg_ctl` or `chown` may take before the test fails
/// naming the command; `pg_ctl` is also told to give up by then.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Names the socket file (`.s.PGSQL.5432`); the directory is the cluster's own.
const SOCKET_PORT: u16 = 5432;

/// Where Debian (or `PG_BIN_DIR`) keeps `initdb` and `pg_ctl`.
pub fn server_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL server binaries not found under /usr/lib/postgresql (run `make test`, which installs them)")?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .context("no PostgreSQL version with pg_ctl under /usr/lib/postgresql")
}

/// Whether this process runs as root (its real uid, from `/proc`).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().next())
            == Some("0")
    })
}

/// A private cluster in a temporary directory, owned by the `postgres`
/// system user when tests run as root (the server refuses to run as root).
#[derive(Debug)]
pub struct EphemeralCluster {
    dir: PathBuf,
    bin: PathBuf,
    as_root: bool,
}

impl EphemeralCluster {
    pub async fn start() -> anyhow::Result<Self> {
        let bin = server_bin_dir()?;
        let as_root = running_as_root();
        let dir =
            std::env::temp_dir().join(format!("faultline-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let cluster = Self { dir, bin, as_root };
        if as_root {
            run(Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&cluster.dir))
            .await?;
        }
        cluster
            .pg(
                "initdb",
                &[
                    "-D",
                    &cluster.data_dir(),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            )
            .await?;
        cluster.start_server().await?;
        Ok(cluster)
    }

    fn data_dir(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    async fn pg(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let program = self.bin.join(tool);
        let mut command = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command.args(args).current_dir(&self.dir);
        run(&mut command).await
    }

    pub async fn start_server(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {SOCKET_PORT} -k {} -c listen_addresses='' -c fsync=off -c synchronous_commit=off",
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                &TOOL_TIMEOUT.as_secs().to_string(),
                "start",
            ],
        )
        .await
    }

    pub async fn stop_server(&self) -> anyhow::Result<()> {
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-m",
                "fast",
                "-w",
                "-t",
                &TOOL_TIMEOUT.as_secs().to_string(),
                "stop",
            ],
        )
        .await
    }

    /// The socket directory, which is what `database.host` takes.
    pub fn host(&self) -> String {
        self.dir.display().to_string()
    }

    /// The port number in the socket's name.
    pub fn port(&self) -> u16 {
        SOCKET_PORT
    }

    pub fn admin_config(&self, dbname: &str) -> Config {
        let mut config = Config::new();
        config
            .host_path(&self.dir)
            .port(SOCKET_PORT)
            .user("postgres")
            .dbname(dbname);
        config
    }

    /// Creates `faultline` with every schema bootstrapped and migrated.
    pub async fn create_platform_database(&self) -> anyhow::Result<String> {
        let control = connect(&self.admin_config("postgres")).await?;
        control.batch_execute("CREATE DATABASE faultline").await?;
        let mut client = connect(&self.admin_config("faultline")).await?;
        crate::bootstrap_and_migrate(&mut client).await?;
        Ok("faultline".to_owned())
    }
}

impl Drop for EphemeralCluster {
    /// An immediate stop (no checkpoint), waited for at most 10 s by
    /// `pg_ctl` itself: dropping never blocks for long.
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let args = [
            "-D",
            &self.data_dir(),
            "-m",
            "immediate",
            "-w",
            "-t",
            "10",
            "stop",
        ];
        let mut command = if self.as_root {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        let _ = command.args(args).current_dir(&self.dir).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn run(command: &mut Command) -> anyhow::Result<()> {
    command.kill_on_drop(true);
    let output = tokio::time::timeout(TOOL_TIMEOUT, command.output())
        .await
        .map_err(|_| anyhow::anyhow!("{command:?} did not finish within {TOOL_TIMEOUT:?}"))?
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

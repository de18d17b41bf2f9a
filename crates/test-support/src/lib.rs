//! Test support: every test gets its own PostgreSQL database and starts real
//! services on port 0.
//!
//! A template database is built once per cluster and source tree (bootstrap
//! plus every service's migrations, named by a hash of those files) under an
//! advisory lock, so parallel test processes share it. Each
//! [`TestDatabase`] is a `CREATE DATABASE ... TEMPLATE` copy, dropped when the
//! value is dropped.
//!
//! Every wait here has a deadline and fails naming what did not happen: a
//! connection ([`CONNECT_TIMEOUT`]), the template lock ([`LOCK_TIMEOUT`]),
//! dropping a database ([`DROP_TIMEOUT`]) and stopping a service
//! ([`STOP_TIMEOUT`]). A test run on a stuck cluster fails in minutes with a
//! reason instead of hanging.
//!
//! The admin connection comes from `FAULTLINE_TEST_ADMIN_URL`, else
//! `DATABASE_URL`, else the private cluster `make test` / `make run` start
//! (`.faultline/postgres/admin-url`).

#![allow(
    clippy::expect_used,
    reason = "test support fails the test at once, with the reason, when the environment is not usable"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "test support runs only in tests: it reads its own environment (admin URL, TEST_LOG, PG_BIN_DIR), waits on child processes it starts, and reads rows it just counted"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use tenant_core::config::{self, ServiceSettings, Settings, dev_role_password};
use tenant_core::context::InternalTokenIssuer;
use tenant_core::server::{HostError, ShutdownHandle};
use tenant_core::{Application, ServiceSpec, TenantContext, migrate};
use tokio::sync::OnceCell;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};

pub mod app;
pub mod cluster;
pub mod contexts;
pub mod otlp;
mod ports;
pub mod redis_server;

pub use app::{Reply, TestApp, eventually, poll_until};
pub use ports::later_port;

/// Every schema the bootstrap creates, with the migration folder of each.
pub const SCHEMAS: &[&str] = &[
    "auth",
    "project",
    "failure",
    "analytics",
    "integration",
    "web",
];

const TEMPLATE_LOCK: i64 = 0x6661_756c_746c;

/// How long connecting to PostgreSQL may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a test process waits for another to finish building the
/// template (or changing roles) under the template lock: a build takes
/// seconds.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(180);
/// How long dropping a test database may take: the drop waits for a
/// checkpoint, which a busy disk can hold up for tens of seconds.
pub const DROP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a started service may take to stop: its drain delay and its
/// shutdown timeout (10 s in tests), with room to spare.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(60);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The admin connection for creating and dropping test databases.
pub fn admin_url() -> anyhow::Result<String> {
    for var in ["FAULTLINE_TEST_ADMIN_URL", "DATABASE_URL"] {
        if let Ok(url) = std::env::var(var)
            && !url.is_empty()
        {
            return Ok(url);
        }
    }
    let file = workspace_root().join(".faultline/postgres/admin-url");
    match std::fs::read_to_string(&file) {
        Ok(url) => Ok(url.trim().to_owned()),
        Err(_) => bail!(
            "no PostgreSQL for tests: run `make test` (it starts a private cluster), \
             or set FAULTLINE_TEST_ADMIN_URL / DATABASE_URL to an admin connection"
        ),
    }
}

/// A connection, made within [`CONNECT_TIMEOUT`].
pub async fn connect(config: &Config) -> anyhow::Result<Client> {
    let mut config = config.clone();
    config.connect_timeout(CONNECT_TIMEOUT);
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| {
            anyhow::anyhow!("PostgreSQL did not accept a connection within {CONNECT_TIMEOUT:?}")
        })?
        .context("connecting to PostgreSQL")?;
    tokio::spawn(connection);
    Ok(client)
}

/// Takes the template lock on `control`, polling for it, within
/// [`LOCK_TIMEOUT`].
async fn take_template_lock(control: &Client) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + LOCK_TIMEOUT;
    loop {
        let taken: bool = control
            .query_one("SELECT pg_try_advisory_lock($1)", &[&TEMPLATE_LOCK])
            .await?
            .get(0);
        if taken {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "the template lock was not released within {LOCK_TIMEOUT:?}: another test process \
                 building the template database is stuck (see pg_locks for advisory lock {TEMPLATE_LOCK})"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn template_fingerprint() -> anyhow::Result<String> {
    let root = workspace_root().join("migrations");
    let mut hasher = Sha256::new();
    hasher.update(std::fs::read(root.join("bootstrap.sql")).context("reading bootstrap.sql")?);
    for schema in SCHEMAS {
        for migration in migrate::read_dir(&root.join(schema))? {
            hasher.update(schema.as_bytes());
            hasher.update(migration.version.to_be_bytes());
            hasher.update(migration.sql.as_bytes());
        }
    }
    Ok(tenant_core::hex::encode(&hasher.finalize()[..6]))
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// Runs `bootstrap.sql` in `client`'s database and gives every service role
/// its development password, the way `scripts/postgres.sh` does.
pub async fn bootstrap(client: &Client) -> anyhow::Result<()> {
    let root = workspace_root().join("migrations");
    let bootstrap = std::fs::read_to_string(root.join("bootstrap.sql"))?;
    client
        .batch_execute(&bootstrap)
        .await
        .context("running bootstrap.sql")?;
    for schema in SCHEMAS {
        for role in [format!("{schema}_owner"), format!("{schema}_app")] {
            // Identifiers and the dev password are ours, not user input.
            client
                .batch_execute(&format!(
                    "ALTER ROLE \"{role}\" PASSWORD '{}'",
                    dev_role_password(&role)
                ))
                .await?;
        }
    }
    Ok(())
}

/// [`bootstrap`], then every service's migrations from the source tree.
pub async fn bootstrap_and_migrate(client: &mut Client) -> anyhow::Result<()> {
    bootstrap(client).await?;
    let root = workspace_root().join("migrations");
    for schema in SCHEMAS {
        let migrations = migrate::read_dir(&root.join(schema))?;
        client
            .batch_execute(&format!("SET ROLE \"{schema}_owner\""))
            .await?;
        let result = migrate::run(client, schema, &format!("{schema}_app"), &migrations).await;
        client.batch_execute("RESET ROLE").await?;
        result.with_context(|| format!("migrating {schema}"))?;
    }
    Ok(())
}

async fn template() -> anyhow::Result<&'static str> {
    let name = TEMPLATE
        .get_or_try_init(|| async {
            let admin: Config = admin_url()?.parse().context("parsing the admin URL")?;
            let name = format!("faultline_tpl_{}", template_fingerprint()?);
            let control = connect(&admin).await?;
            take_template_lock(&control).await?;
            let exists = control
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await?
                .is_some();
            if !exists {
                let building = format!("{name}_building");
                control
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
                    ))
                    .await?;
                control
                    .batch_execute(&format!("CREATE DATABASE \"{building}\""))
                    .await?;
                let mut in_template = admin.clone();
                in_template.dbname(&building);
                let mut client = connect(&in_template).await?;
                bootstrap_and_migrate(&mut client).await?;
                drop(client);
                control
                    .batch_execute(&format!(
                        "ALTER DATABASE \"{building}\" RENAME TO \"{name}\";
                         ALTER DATABASE \"{name}\" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false;"
                    ))
                    .await
                    .context("finishing the template")?;
            }
            control
                .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
                .await?;
            anyhow::Ok(name)
        })
        .await?;
    Ok(name.as_str())
}

/// A fresh database for one test, dropped on drop.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    admin: Config,
}

impl TestDatabase {
    pub async fn create() -> Self {
        Self::try_create().await.expect("creating a test database")
    }

    /// A database with roles and empty schemas but no migrations applied,
    /// for tests of the migration path itself.
    pub async fn create_bootstrapped() -> Self {
        Self::try_create_bootstrapped()
            .await
            .expect("creating a bootstrapped test database")
    }

    async fn try_create_bootstrapped() -> anyhow::Result<Self> {
        // Role changes are cluster-wide: serialize them with template builds.
        template().await?;
        let admin: Config = admin_url()?.parse()?;
        let name = format!("faultline_test_{}", uuid::Uuid::new_v4().simple());
        let control = connect(&admin).await?;
        control
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        let database = Self { name, admin };
        let client = database.admin_client().await;
        take_template_lock(&control).await?;
        let result = bootstrap(&client).await;
        control
            .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
            .await?;
        result?;
        Ok(database)
    }

    async fn try_create() -> anyhow::Result<Self> {
        let template = template().await?;
        let admin: Config = admin_url()?.parse()?;
        let name = format!("faultline_test_{}", uuid::Uuid::new_v4().simple());
        let control = connect(&admin).await?;
        // Two clones of one template at the same instant can collide on the
        // template's lock; retry briefly.
        let mut attempt = 0;
        loop {
            match control
                .batch_execute(&format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                ))
                .await
            {
                Ok(()) => break,
                Err(error) if attempt < 20 => {
                    attempt += 1;
                    backoff_before_retry(attempt, &error).await;
                }
                Err(error) => return Err(error).context("cloning the template database"),
            }
        }
        Ok(Self { name, admin })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Host (or socket directory) and port of the cluster.
    pub fn host_and_port(&self) -> (String, u16) {
        let host = match self.admin.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "127.0.0.1".to_owned(),
        };
        let port = self.admin.get_ports().first().copied().unwrap_or(5432);
        (host, port)
    }

    /// A superuser connection to this database.
    pub async fn admin_client(&self) -> Client {
        let mut config = self.admin.clone();
        config.dbname(&self.name);
        connect(&config).await.expect("connecting as admin")
    }

    /// The latest migration applied to `schema` in this database.
    pub async fn applied_migration_version(&self, schema: &str) -> i64 {
        self.admin_client()
            .await
            .query_one(
                &format!("SELECT max(version) FROM {schema}.schema_migrations"),
                &[],
            )
            .await
            .expect("reading schema_migrations")
            .get(0)
    }

    /// A connection as one of the service roles (`failure_app`, ...).
    pub async fn connect_as(&self, role: &str) -> anyhow::Result<Client> {
        let (host, port) = self.host_and_port();
        let mut config = Config::new();
        config
            .host(&host)
            .port(port)
            .dbname(&self.name)
            .user(role)
            .password(dev_role_password(role));
        connect(&config).await
    }

    /// Config overrides that point a service at this database.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        let (host, port) = self.host_and_port();
        vec![
            ("database.host", host),
            ("database.port", port.to_string()),
            ("database.name", self.name.clone()),
            ("database.pool_max_size", "4".to_owned()),
        ]
    }
}

async fn backoff_before_retry(attempt: u64, error: &tokio_postgres::Error) {
    if attempt == 10 {
        eprintln!("still waiting to clone the template: {error}");
    }
    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
}

impl Drop for TestDatabase {
    /// Drops the database on a thread of its own (drop runs inside the
    /// test's runtime, which cannot block on itself), waiting for it at most
    /// [`DROP_TIMEOUT`].
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let dropped = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| {
                    runtime.block_on(async {
                        let control = connect(&admin).await?;
                        control
                            .batch_execute(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await?;
                        anyhow::Ok(())
                    })
                });
            let _ = done.send(dropped);
        });
        let failure = match finished.recv_timeout(DROP_TIMEOUT) {
            Ok(Ok(())) => return,
            Ok(Err(error)) => format!("test database {} was not dropped: {error:#}", self.name),
            Err(_) => format!(
                "test database {} was not dropped within {DROP_TIMEOUT:?}",
                self.name
            ),
        };
        // A second panic while the test unwinds would abort the whole run.
        if std::thread::panicking() {
            eprintln!("{failure}");
        } else {
            panic!("{failure}");
        }
    }
}

/// The internal-token key id and key every service a test starts signs and
/// verifies with. Tests run in `test`, where the development key is never in
/// the keyring, so the suite brings a key of its own.
pub const TEST_INTERNAL_KEY_ID: &str = "test";
pub const TEST_INTERNAL_KEY: &str = "faultline-test-suite-internal-token-key";
const INTERNAL_KEY_SETTING: &str = "internal_token.keys.test";

/// The integration gateway's master key in tests: outside `dev` it refuses
/// to start without one of its own (its development key is published), so
/// the suite brings one, as it does the internal-token key.
pub const TEST_INTEGRATION_MASTER_KEY: &str = "AAEmSxBxfBf+Vp4uYu2L1d3Ik/l2z2THaHVkaVdeMMs=";

/// The suite's internal-token key as environment variables, for a service
/// binary a test runs as a process (`Command::envs`).
pub fn internal_token_env() -> [(&'static str, &'static str); 2] {
    [
        ("FAULTLINE__INTERNAL_TOKEN__KEYS__TEST", TEST_INTERNAL_KEY),
        (
            "FAULTLINE__INTERNAL_TOKEN__SIGNING_KEY_ID",
            TEST_INTERNAL_KEY_ID,
        ),
    ]
}

/// Settings for `spec` as a test runs it: environment `test` with the
/// suite's internal-token key, both ports 0, quiet logs, pointed at `db`
/// when given, then `extra` overrides.
pub fn settings<S: ServiceSettings>(
    spec: &ServiceSpec,
    db: Option<&TestDatabase>,
    extra: &[(&'static str, String)],
) -> Settings<S> {
    let mut overrides: Vec<(&str, String)> = vec![
        ("environment", "test".to_owned()),
        (INTERNAL_KEY_SETTING, TEST_INTERNAL_KEY.to_owned()),
        (
            "internal_token.signing_key_id",
            TEST_INTERNAL_KEY_ID.to_owned(),
        ),
        ("server.port", "0".to_owned()),
        ("server.admin_port", "0".to_owned()),
        ("server.workers", "2".to_owned()),
        ("server.shutdown_timeout_secs", "10".to_owned()),
    ];
    if spec.name == "integration-gateway" {
        overrides.push(("service.master_key_id", "test".to_owned()));
        overrides.push((
            "service.master_keys.test",
            TEST_INTEGRATION_MASTER_KEY.to_owned(),
        ));
    }
    if let Some(db) = db {
        overrides.extend(db.overrides());
    }
    overrides.extend(extra.iter().cloned());
    config::load_with_overrides(spec, &overrides).expect("test settings are valid")
}

/// A service started by a test, serving in the background.
#[derive(Debug)]
pub struct RunningService {
    pub port: u16,
    pub admin_port: u16,
    shutdown: ShutdownHandle,
    task: tokio::task::JoinHandle<Result<(), HostError>>,
}

impl RunningService {
    pub fn spawn(host: Application) -> Self {
        let port = host.port();
        let admin_port = host.admin_port();
        let shutdown = host.shutdown_handle();
        let task = tokio::spawn(host.run_until_stopped());
        Self {
            port,
            admin_port,
            shutdown,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    /// Graceful shutdown, waiting until the service has stopped; fails the
    /// test when it has not within [`STOP_TIMEOUT`].
    pub async fn stop(self) -> Result<(), HostError> {
        self.shutdown.trigger();
        let port = self.port;
        tokio::time::timeout(STOP_TIMEOUT, self.task)
            .await
            .unwrap_or_else(|_| {
                panic!("the service on port {port} did not stop within {STOP_TIMEOUT:?}")
            })
            .map_err(|join| HostError::Serve(std::io::Error::other(join)))?
    }
}

/// An internal context token for `audience`, signed with the suite's key,
/// as the gateway would mint it.
pub fn context_token(audience: &str, context: &TenantContext) -> String {
    let settings: Settings = settings(
        &ServiceSpec {
            name: "test-support",
            schema: None,
            migrations: &[],
        },
        None,
        &[],
    );
    InternalTokenIssuer::new(&settings.internal_token)
        .and_then(|issuer| issuer.issue(audience, context))
        .expect("minting a context token")
}

/// An HTTP client that never follows redirects and times out quickly.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("building an HTTP client")
}

/// One sample of the metric `name` (exactly that name, with or without
/// labels; the first sample) on `service`'s admin `/metrics`, with the
/// whole page for messages.
pub async fn metric(
    http: &reqwest::Client,
    service: &RunningService,
    name: &str,
) -> (Option<f64>, String) {
    let text = http
        .get(service.admin_url("/metrics"))
        .send()
        .await
        .expect("reading /metrics")
        .text()
        .await
        .expect("reading /metrics");
    let value = text
        .lines()
        .find(|line| line.split([' ', '{']).next() == Some(name))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok());
    (value, text)
}

/// Polls `url` until it answers `status` or `timeout` passes.
pub async fn wait_for_status(
    client: &reqwest::Client,
    url: &str,
    status: u16,
    timeout: Duration,
) -> bool {
    app::poll_until(timeout, Duration::from_millis(100), || async {
        let response = client.get(url).send().await.ok()?;
        (response.status().as_u16() == status).then_some(())
    })
    .await
    .is_some()
}

/// This process's resident memory in KiB (`VmRSS`), for tests of what an
/// upload costs in memory; they run in binaries of their own.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .expect("VmRSS in /proc/self/status")
}

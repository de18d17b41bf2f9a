//! `[database]`: where the service's schema lives and how its pool behaves.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub host: String,
    pub port: u16,
    pub name: String,
    /// Runtime role: owns nothing, subject to row level security.
    pub app_user: String,
    pub app_password: Option<SecretString>,
    /// Schema owner: runs migrations only.
    pub owner_user: String,
    pub owner_password: Option<SecretString>,
    pub pool_max_size: usize,
    pub pool_wait_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    /// PostgreSQL's `jit` for every connection. Off by default: the
    /// services' statements are short, and compiling one costs more
    /// (tens of milliseconds) than it can save.
    pub jit: bool,
    /// PostgreSQL's `plan_cache_mode` for every connection; see
    /// [`PlanCacheMode`].
    pub plan_cache_mode: PlanCacheMode,
    pub ready_timeout_ms: u64,
    pub migrate_on_start: bool,
}

/// How PostgreSQL plans a prepared statement run again.
///
/// `force_custom_plan` by default: many statements take optional filters
/// (`$4 IS NULL OR build_id = $4`) and tenants differ in size by orders of
/// magnitude, so a generic plan, which PostgreSQL switches to after five
/// runs when it looks no costlier on average, can be a hundred times
/// slower for one project than the plan made for its values (a failures
/// list of the benchmark's largest project took 54 ms instead of 0.8 ms).
/// Planning each run costs about a millisecond at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanCacheMode {
    Auto,
    ForceCustomPlan,
    ForceGenericPlan,
}

impl PlanCacheMode {
    fn as_setting(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::ForceCustomPlan => "force_custom_plan",
            Self::ForceGenericPlan => "force_generic_plan",
        }
    }
}

impl DatabaseSettings {
    pub fn pool_wait_timeout(&self) -> Duration {
        Duration::from_millis(self.pool_wait_timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn ready_timeout(&self) -> Duration {
        Duration::from_millis(self.ready_timeout_ms)
    }

    /// Connection settings for the runtime role.
    pub fn app_connection(&self, application_name: &str) -> tokio_postgres::Config {
        self.connection(&self.app_user, self.app_password.as_ref(), application_name)
    }

    /// Connection settings for the schema owner (migrations).
    pub fn owner_connection(&self, application_name: &str) -> tokio_postgres::Config {
        self.connection(
            &self.owner_user,
            self.owner_password.as_ref(),
            application_name,
        )
    }

    fn connection(
        &self,
        user: &str,
        password: Option<&SecretString>,
        application_name: &str,
    ) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.name)
            .user(user)
            .application_name(application_name)
            .connect_timeout(self.connect_timeout())
            .options(format!(
                "-c statement_timeout={} -c jit={} -c plan_cache_mode={}",
                self.statement_timeout_ms,
                if self.jit { "on" } else { "off" },
                self.plan_cache_mode.as_setting()
            ));
        if let Some(password) = password {
            config.password(password.expose_secret());
        }
        config
    }
}

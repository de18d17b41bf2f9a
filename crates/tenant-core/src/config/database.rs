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
    pub recycle_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    /// PostgreSQL's `jit` for every connection. Off by default: the
    /// services' statements are short, and compiling one costs more
    /// (tens of milliseconds) than it can save.
    pub jit: bool,
    pub ready_timeout_ms: u64,
    pub migrate_on_start: bool,
}

impl DatabaseSettings {
    pub fn pool_wait_timeout(&self) -> Duration {
        Duration::from_millis(self.pool_wait_timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn recycle_timeout(&self) -> Duration {
        Duration::from_millis(self.recycle_timeout_ms)
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
                "-c statement_timeout={} -c jit={}",
                self.statement_timeout_ms,
                if self.jit { "on" } else { "off" }
            ));
        if let Some(password) = password {
            config.password(password.expose_secret());
        }
        config
    }
}

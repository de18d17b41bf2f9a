//! The release services on the benchmark's own port block, started one at a
//! time so each start-to-ready time is its own, and stopped on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// name, binary, port offset; the gateway last so its backends are up
/// (the web dashboard calls the gateway only when a page is asked for).
pub const SERVICES: [(&str, &str, u16); 7] = [
    ("auth", "auth-service", 1),
    ("project", "project-service", 2),
    ("failure", "failure-service", 3),
    ("analytics", "analytics-service", 4),
    ("integration", "integration-gateway", 5),
    ("web", "web-service", WEB_OFFSET),
    ("gateway", "api-gateway", 0),
];

/// The web dashboard's port offset; the gateway sends it every page.
const WEB_OFFSET: u16 = 6;

/// The analytics service's reconciliation interval in the suite: longer
/// than any run.
const RECONCILE_HELD_OFF_SECS: u64 = 24 * 3600;

/// The gateway's upstreams (`service.upstreams.<name>`) and their offsets.
const UPSTREAMS: [(&str, u16); 6] = [
    ("auth", 1),
    ("project", 2),
    ("failure", 3),
    ("analytics", 4),
    ("integration", 5),
    ("web", WEB_OFFSET),
];

/// Points a gateway's upstreams (`service.upstreams.<name>.url`) at
/// `url_of(offset)`, the upstream's port offset in the block.
pub fn point_upstreams(command: &mut Command, url_of: impl Fn(u16) -> String) {
    for (name, offset) in UPSTREAMS {
        command.env(
            format!(
                "FAULTLINE__SERVICE__UPSTREAMS__{}__URL",
                name.to_uppercase()
            ),
            url_of(offset),
        );
    }
}

/// A per-principal rate limit the load cannot reach: every request is
/// still checked and counted.
pub fn raise_principal_limit(command: &mut Command) {
    command
        .env("FAULTLINE__SERVICE__PRINCIPAL_RATE_PER_MINUTE", "100000000")
        .env("FAULTLINE__SERVICE__PRINCIPAL_BURST", "1000000");
}

#[derive(Debug)]
pub struct RunningService {
    pub name: &'static str,
    pub child: Child,
    pub port: u16,
    pub admin_port: u16,
    pub start_to_ready_ms: f64,
}

#[derive(Debug)]
pub struct Platform {
    pub services: Vec<RunningService>,
    pid_dir: PathBuf,
}

impl Platform {
    /// Starts every service against `database` and waits for each `/readyz`.
    pub async fn start(
        bin_dir: &Path,
        log_dir: &Path,
        base_port: u16,
        database: &str,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(log_dir)?;
        let pid_dir = pid_dir(log_dir);
        std::fs::create_dir_all(&pid_dir)?;
        let mut platform = Self {
            services: Vec::new(),
            pid_dir,
        };
        let upstream = |offset: u16| format!("http://127.0.0.1:{}", base_port + offset);
        for (name, binary, offset) in SERVICES {
            let port = base_port + offset;
            let admin_port = base_port + 100 + offset;
            platform
                .launch(
                    bin_dir,
                    log_dir,
                    name,
                    binary,
                    (port, admin_port),
                    |command| {
                        command
                            .env("FAULTLINE__DATABASE__NAME", database)
                            .env("FAULTLINE__DATABASE__MIGRATE_ON_START", "false")
                            .env("FAULTLINE__SERVICE__AUTH_URL", upstream(1))
                            .env("FAULTLINE__SERVICE__PROJECT_URL", upstream(2))
                            .env("FAULTLINE__SERVICE__FAILURE_URL", upstream(3))
                            .env("FAULTLINE__SERVICE__ANALYTICS_URL", upstream(4))
                            .env("FAULTLINE__SERVICE__INTEGRATION_GATEWAY_URL", upstream(5))
                            .env("FAULTLINE__SERVICE__GATEWAY_URL", upstream(0));
                        point_upstreams(command, upstream);
                        if name == "analytics" {
                            // No reconciliation round while the suite measures: a
                            // round over the seeded projects keeps a core busy for
                            // minutes and would land in whichever section it meets
                            // (the rollups are built by the seed and kept current by
                            // events; docs/scaling.md states a round's cost).
                            command.env(
                                "FAULTLINE__SERVICE__RECONCILE_INTERVAL_SECS",
                                RECONCILE_HELD_OFF_SECS.to_string(),
                            );
                        }
                        if name == "gateway" {
                            // Rate limiting stays on (every request is checked and
                            // counted) with a per-principal limit the load cannot reach;
                            // per-project limits come from the seeded enterprise plan.
                            // Page loads reach the gateway without a token (the session
                            // is the web service's), so they count per client address:
                            // every one of the suite's comes from 127.0.0.1, where
                            // browsers would come from many; the per-address limit is
                            // raised to the global anonymous one (kept at its default,
                            // 6,000 a minute with a burst of 1,000).
                            command
                                .env("FAULTLINE__SERVICE__ANONYMOUS_RATE_PER_MINUTE", "6000")
                                .env("FAULTLINE__SERVICE__ANONYMOUS_BURST", "1000")
                                .env("FAULTLINE__SERVICE__PAGES_UPSTREAM", "web");
                            raise_principal_limit(command);
                        }
                    },
                )
                .await?;
        }
        Ok(platform)
    }

    /// Starts `binary` as `name` on `ports` (public, admin) with what
    /// `configure` adds, waits for its `/readyz`, and keeps it with the
    /// others (stopped with them, or alone by [`Platform::stop_one`]).
    pub async fn launch(
        &mut self,
        bin_dir: &Path,
        log_dir: &Path,
        name: &'static str,
        binary: &str,
        (port, admin_port): (u16, u16),
        configure: impl FnOnce(&mut Command),
    ) -> anyhow::Result<()> {
        let log = File::create(log_dir.join(format!("{name}.log")))?;
        let mut command = Command::new(bin_dir.join(binary));
        command
            .arg("serve")
            .env("FAULTLINE__SERVER__PORT", port.to_string())
            .env("FAULTLINE__SERVER__ADMIN_PORT", admin_port.to_string())
            // The log format deployments use (deploy/k8s, the Dockerfile).
            .env("FAULTLINE__TELEMETRY__LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        configure(&mut command);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        std::fs::write(
            self.pid_dir.join(format!("{name}.pid")),
            child.id().to_string(),
        )?;
        self.services.push(RunningService {
            name,
            child,
            port,
            admin_port,
            start_to_ready_ms: 0.0,
        });
        let ready_url = format!("http://127.0.0.1:{admin_port}/readyz");
        loop {
            if let Ok(response) = client.get(&ready_url).send().await
                && response.status().is_success()
            {
                break;
            }
            if let Some(service) = self.services.last_mut()
                && let Ok(Some(status)) = service.child.try_wait()
            {
                bail!("{binary} exited during startup ({status}); see {name}.log");
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("{binary} not ready after 120 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if let Some(service) = self.services.last_mut() {
            service.start_to_ready_ms = started.elapsed().as_secs_f64() * 1000.0;
        }
        Ok(())
    }

    pub fn service(&self, name: &str) -> anyhow::Result<&RunningService> {
        self.services
            .iter()
            .find(|s| s.name == name)
            .with_context(|| format!("{name} is not running"))
    }

    pub fn url(&self, name: &str, path: &str) -> anyhow::Result<String> {
        Ok(format!(
            "http://127.0.0.1:{}{path}",
            self.service(name)?.port
        ))
    }

    pub fn admin_url(&self, name: &str, path: &str) -> anyhow::Result<String> {
        Ok(format!(
            "http://127.0.0.1:{}{path}",
            self.service(name)?.admin_port
        ))
    }

    /// Fails when a service has died since it started.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for service in &mut self.services {
            if let Ok(Some(status)) = service.child.try_wait() {
                bail!("{} exited ({status})", service.name);
            }
        }
        Ok(())
    }

    /// Stops every service (SIGTERM, then SIGKILL after 20 s).
    pub fn stop(&mut self) {
        for service in &self.services {
            terminate(service.child.id());
        }
        for service in std::mem::take(&mut self.services) {
            self.reap(service);
        }
    }

    /// Stops the service `name` alone (one [`Platform::launch`] added).
    pub fn stop_one(&mut self, name: &str) {
        if let Some(index) = self.services.iter().position(|s| s.name == name) {
            let service = self.services.remove(index);
            terminate(service.child.id());
            self.reap(service);
        }
    }

    /// Waits up to 20 s for a terminated service to exit, then kills it.
    #[expect(
        clippy::disallowed_methods,
        reason = "also called from Drop, which cannot await: it polls the child's exit between short waits"
    )]
    fn reap(&self, mut service: RunningService) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = service.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = service.child.kill();
        let _ = service.child.wait();
        let _ = std::fs::remove_file(self.pid_dir.join(format!("{}.pid", service.name)));
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM by pid: the services drain and exit on it.
pub fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

/// Resident memory of a process from /proc: (current, peak since start or
/// the last [`reset_peak`]) in MB.
pub fn rss_mb(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    parse_rss(&status).with_context(|| format!("no VmRSS/VmHWM for {pid}"))
}

fn parse_rss(status: &str) -> Option<(f64, f64)> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets a process's peak RSS (VmHWM) to its current RSS.
pub fn reset_peak(pid: u32) -> anyhow::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .with_context(|| format!("resetting the peak RSS of {pid}"))
}

pub fn log_dir(root: &Path) -> PathBuf {
    root.join(".faultline/bench/logs")
}

/// Pid files of what the run started, beside the logs, so `scripts/bench.sh`
/// can stop them if the run is interrupted.
pub fn pid_dir(log_dir: &Path) -> PathBuf {
    log_dir.with_file_name("pids")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rss_and_peak_from_proc_status() {
        let status = "Name:\tx\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(parse_rss(status), Some((100.0, 200.0)));
        assert_eq!(parse_rss("Name:\tx\n"), None);
    }
}

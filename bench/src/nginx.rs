//! nginx twice over: as the reference reverse proxy (two workers,
//! upstream keepalive, one access-log line per request to a file, as the
//! gateway logs one `request finished` line per request to its log file),
//! and as a static upstream that answers every request from memory, so a
//! proxy in front of it is the only thing measured.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

#[derive(Debug)]
pub struct Nginx {
    child: Child,
    pid_file: PathBuf,
}

pub const LOGGING: &str = "nginx: access_log to a file, one line per request; gateway: one JSON `request finished` line per request to a file";

/// What both configurations share: two workers, files under `prefix`,
/// client connections kept for the whole run (nginx closes one after 1,000
/// requests by default, which a load generator would measure).
fn preamble(prefix: &str) -> String {
    format!(
        "worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    keepalive_requests 10000000;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
"
    )
}

/// The reverse proxy to `upstream_port`.
pub fn config(prefix: &Path, port: u16, upstream_port: u16) -> String {
    let prefix = prefix.display().to_string();
    let preamble = preamble(&prefix);
    format!(
        "{preamble}    access_log {prefix}/access.log;
    upstream backend {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
        keepalive_requests 10000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"
    )
}

/// A fixed answer for requests whose path starts with `path`.
#[derive(Debug, Clone)]
pub struct StaticAnswer {
    pub path: String,
    pub body: String,
}

/// An upstream answering each of `answers` (longest path first, as nginx
/// matches prefixes) with status 200 and a JSON body, from memory; no
/// access log. A body with a single quote is refused (nginx's string
/// would end there).
pub fn static_config(prefix: &Path, port: u16, answers: &[StaticAnswer]) -> anyhow::Result<String> {
    let prefix = prefix.display().to_string();
    let mut out = preamble(&prefix);
    out.push_str(&format!(
        "    access_log off;
    default_type application/json;
    server {{
        listen 127.0.0.1:{port};
"
    ));
    for answer in answers {
        if answer.body.contains('\'') {
            bail!("the static answer for {} has a single quote", answer.path);
        }
        out.push_str(&format!(
            "        location {} {{ return 200 '{}'; }}\n",
            answer.path, answer.body
        ));
    }
    out.push_str("    }\n}\n");
    Ok(out)
}

impl Nginx {
    /// Starts nginx with `config` under `prefix`; its pid file is
    /// `{name}.pid` in `pid_dir`, so several can run at once.
    pub async fn start(
        binary: &Path,
        pid_dir: &Path,
        prefix: &Path,
        name: &str,
        port: u16,
        config: &str,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(prefix.join("tmp"))?;
        let conf: PathBuf = prefix.join("nginx.conf");
        std::fs::write(&conf, config)?;
        let mut child = Command::new(binary)
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid_file = pid_dir.join(format!("{name}.pid"));
        std::fs::write(&pid_file, child.id().to_string())?;
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self { child, pid_file });
            }
            if let Ok(Some(status)) = child.try_wait() {
                bail!(
                    "nginx exited ({status}); see {}/error.log",
                    prefix.display()
                );
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                bail!("nginx did not listen on {port} within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn version(binary: &Path) -> String {
        Command::new(binary)
            .arg("-v")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stderr).trim().to_owned())
            .unwrap_or_default()
    }
}

impl Drop for Nginx {
    #[expect(
        clippy::disallowed_methods,
        reason = "Drop cannot await: it polls the child's exit between short waits, for at most ten seconds"
    )]
    fn drop(&mut self) {
        // SIGQUIT: graceful; the master takes its workers with it.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.pid_file);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keeps_upstream_connections_alive_with_two_workers() {
        let conf = config(Path::new("/tmp/x"), 7810, 7802);
        assert!(conf.contains("worker_processes 2;"));
        assert!(conf.contains("keepalive 64;"));
        assert!(conf.contains("proxy_set_header Connection \"\";"));
        assert!(conf.contains("server 127.0.0.1:7802;"));
        assert!(conf.contains("listen 127.0.0.1:7810;"));
        assert!(conf.contains("access_log /tmp/x/access.log;"));
        assert!(conf.contains("keepalive_requests 10000000;"));
    }

    #[test]
    fn a_static_upstream_answers_each_path_from_memory() {
        let conf = static_config(
            Path::new("/tmp/s"),
            7812,
            &[
                StaticAnswer {
                    path: "/internal/v1/access".to_owned(),
                    body: r#"{"role":"admin"}"#.to_owned(),
                },
                StaticAnswer {
                    path: "/".to_owned(),
                    body: r#"{"x":1}"#.to_owned(),
                },
            ],
        )
        .unwrap();
        assert!(conf.contains("listen 127.0.0.1:7812;"));
        assert!(conf.contains("access_log off;"));
        assert!(
            conf.contains(r#"location /internal/v1/access { return 200 '{"role":"admin"}'; }"#)
        );
        assert!(conf.contains(r#"location / { return 200 '{"x":1}'; }"#));
        assert!(!conf.contains("proxy_pass"));
        let quoted = StaticAnswer {
            path: "/".to_owned(),
            body: "{'x':1}".to_owned(),
        };
        assert!(static_config(Path::new("/tmp/s"), 7812, &[quoted]).is_err());
    }
}

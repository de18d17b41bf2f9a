//! The gateway's throughput as the keys of its caches spread out, in front
//! of the static upstream: distinct access tokens on the user route (the
//! verified-token cache, one rate-limit bucket per user) and distinct
//! projects on the project route (the access cache).
//!
//! Each point's requests cycle through its tokens or projects: first every
//! one once (the caches filled as far as they hold), then the measured
//! runs. Up to a cache's capacity every measured request should hit; past
//! it, a cycle longer than the cache misses every time. oha sends one
//! header for a whole run, so these runs use the bench's own closed-loop
//! generator ([`ClosedLoop`]), whose ceiling against the static upstream
//! directly is measured alongside.

use anyhow::{Context, anyhow, bail};
use auth_service::domain::signing_keys::{Keyring, PublicJwk, SigningKey};
use auth_service::domain::tokens::{AccessTokenIssuer, Subject};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use uuid::Uuid;

use crate::open_loop::ClosedLoop;

use super::*;

/// The gateway's cache capacities in these runs, set at its start.
pub(super) const TOKEN_CACHE_SIZE: u64 = 100_000;
pub(super) const ACCESS_CACHE_SIZE: u64 = 100_000;

/// What the generator is, for the report.
const GENERATOR: &str = "the bench's closed-loop generator (reqwest, one task per connection, \
                         each request with its own Authorization header)";

/// Signs access tokens as the auth service does (its own issuer code),
/// with a key the static upstream publishes beside the auth service's, so
/// the gateway verifies them like any other: one user and session each.
pub(super) struct BenchSigner {
    keyring: Keyring,
    issuer: AccessTokenIssuer,
}

impl BenchSigner {
    pub(super) fn new() -> anyhow::Result<Self> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| anyhow!("cannot generate an Ed25519 key"))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| anyhow!("cannot read the generated key"))?;
        let kid = "bench-cache-curves".to_owned();
        let published = vec![PublicJwk::ed25519(kid.clone(), pair.public_key().as_ref())];
        let signing = SigningKey {
            kid,
            key: jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref()),
        };
        Ok(Self {
            keyring: Keyring::new(signing, published),
            // The gateway's default issuer and audience.
            issuer: AccessTokenIssuer {
                issuer: "faultline".to_owned(),
                audience: "faultline-api".to_owned(),
                ttl_secs: 3600,
            },
        })
    }

    /// The public key as a JWKS entry.
    pub(super) fn jwk(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::to_value(&self.keyring.published)?
            .get(0)
            .cloned()
            .context("no published key")
    }

    /// `count` tokens, each for a user and session of its own.
    fn tokens(&self, count: usize) -> anyhow::Result<Vec<String>> {
        (0..count)
            .map(|_| {
                let subject = Subject {
                    user_id: Uuid::now_v7(),
                    session_id: Uuid::now_v7(),
                    platform_role: "user".to_owned(),
                    default_project: None,
                };
                Ok(self.issuer.issue(&self.keyring, &subject)?)
            })
            .collect()
    }
}

impl Ctx {
    /// The ceiling, then both curves, every point `plan.runs` times.
    pub(super) async fn cache_curves(
        &self,
        signer: &BenchSigner,
        upstream_port: u16,
        gateway_port: u16,
    ) -> anyhow::Result<GatewayCacheCurves> {
        let connections = self.plan.connections as usize;
        let secs = self.plan.secs;
        let bearer = |token: &str| format!("Bearer {token}");
        let own = bearer(&self.access_token);

        let direct = ClosedLoop::new(
            vec![(
                format!("http://127.0.0.1:{upstream_port}/v1/me"),
                own.clone(),
            )],
            connections,
            secs,
        );
        let mut ceiling = Vec::new();
        self.closed_runs("ceiling", &direct, &mut ceiling).await?;

        let largest = self.plan.cache_points.iter().copied().max().unwrap_or(1);
        eprintln!("bench:   signing {largest} access tokens");
        let tokens = signer.tokens(largest)?;
        let user_url = format!("http://127.0.0.1:{gateway_port}/api/v1/me");
        let mut by_tokens = Vec::new();
        for &distinct in self.plan.cache_points {
            let requests = tokens[..distinct]
                .iter()
                .map(|token| (user_url.clone(), bearer(token)))
                .collect();
            let plan = ClosedLoop::new(requests, connections, secs);
            by_tokens.push(self.curve_point("tokens", distinct, &plan).await?);
        }
        drop(tokens);

        let mut by_projects = Vec::new();
        for &distinct in self.plan.cache_points {
            let requests = (0..distinct)
                .map(|i| {
                    let url =
                        format!("http://127.0.0.1:{gateway_port}/api/v1/projects/curve-{i:07}");
                    (url, own.clone())
                })
                .collect();
            let plan = ClosedLoop::new(requests, connections, secs);
            by_projects.push(self.curve_point("projects", distinct, &plan).await?);
        }
        Ok(GatewayCacheCurves {
            generator: GENERATOR.to_owned(),
            ceiling,
            tokens: by_tokens,
            projects: by_projects,
            token_cache_size: TOKEN_CACHE_SIZE,
            access_cache_size: ACCESS_CACHE_SIZE,
        })
    }

    /// Every request of `plan` once, then the measured runs.
    async fn curve_point(
        &self,
        curve: &str,
        distinct: usize,
        plan: &ClosedLoop,
    ) -> anyhow::Result<CurvePoint> {
        let touched = plan.touch_all().await?;
        if touched.success_rate < 1.0 {
            bail!(
                "{curve} x {distinct}: {:.1}% of the first pass failed",
                (1.0 - touched.success_rate) * 100.0
            );
        }
        let mut runs = Vec::new();
        self.closed_runs(&format!("{curve} x {distinct}"), plan, &mut runs)
            .await?;
        Ok(CurvePoint {
            distinct: distinct as u64,
            runs,
        })
    }

    async fn closed_runs(
        &self,
        what: &str,
        plan: &ClosedLoop,
        runs: &mut Vec<LoadRun>,
    ) -> anyhow::Result<()> {
        for _ in 0..self.plan.runs {
            let run = plan.run().await?;
            if run.success_rate < 1.0 {
                bail!(
                    "{what}: {:.1}% of the requests failed",
                    (1.0 - run.success_rate) * 100.0
                );
            }
            eprintln!(
                "bench:   {what}: {:.0} req/s, p99 {:.2} ms",
                run.requests_per_sec, run.p99_ms
            );
            runs.push(run);
        }
        Ok(())
    }
}

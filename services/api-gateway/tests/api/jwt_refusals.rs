//! Every way a bearer token can be wrong gets the same 401 problem, and
//! nothing in a token makes the gateway fetch anything it was not told to.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{self, CHANGE_SEEN_WITHIN, Platform, User, eddsa_header, sign, token_claims};

fn valid_claims(user: &User) -> Value {
    let mut claims = token_claims(&user.access_token);
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now);
    claims["nbf"] = json!(now);
    claims["exp"] = json!(now + 300);
    claims
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A token whose header is given as raw JSON, signed with our Ed25519 key.
fn with_raw_header(header: &Value, claims: &Value, key: &EncodingKey, kid: &str) -> String {
    // Sign a normal token, then swap the header: the signature no longer
    // covers it, which is exactly the attack surface under test.
    let genuine = sign(eddsa_header(kid), claims, key);
    let signature = genuine.rsplit('.').next().unwrap().to_owned();
    format!("{}.{}.{signature}", b64(header), b64(claims))
}

async fn assert_refused(platform: &Platform, token: &str, case: &str) {
    let response = platform
        .send(Method::GET, "/api/v1/me", Some(token), None)
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "{case}: {}",
        response.text
    );
}

#[tokio::test]
async fn every_malformed_forged_or_mis_claimed_token_is_a_401_problem() {
    let platform = helpers::spawn(&[]).await;
    let user = platform.sign_up_and_log_in("target@example.com").await;
    assert_eq!(
        platform
            .send(Method::GET, "/api/v1/me", Some(&user.access_token), None)
            .await
            .status,
        StatusCode::OK
    );
    let (kid, key, public) = platform.signing_key().await;
    let claims = valid_claims(&user);
    let genuine_fresh = sign(eddsa_header(&kid), &claims, &key);
    assert_eq!(
        platform
            .send(Method::GET, "/api/v1/me", Some(&genuine_fresh), None)
            .await
            .status,
        StatusCode::OK,
        "the harness signs valid tokens"
    );

    let mut cases: Vec<(String, String)> = Vec::new();
    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "at+jwt", "kid": kid });
        cases.push((
            format!("alg {alg}"),
            format!("{}.{}.", b64(&header), b64(&claims)),
        ));
    }
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    hs.typ = Some("at+jwt".into());
    cases.push((
        "HS256 with the public key as secret".into(),
        sign(hs, &claims, &EncodingKey::from_secret(&public)),
    ));
    for alg in ["ES256", "RS256"] {
        cases.push((
            format!("{alg} header on the EdDSA key"),
            with_raw_header(
                &json!({ "alg": alg, "typ": "at+jwt", "kid": kid }),
                &claims,
                &key,
                &kid,
            ),
        ));
    }
    for bad_kid in [
        "../../dev/null".to_owned(),
        "' OR 1=1--".to_owned(),
        "k".repeat(10 * 1024),
    ] {
        cases.push((
            format!("kid {}", &bad_kid[..bad_kid.len().min(20)]),
            with_raw_header(
                &json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": bad_kid }),
                &claims,
                &key,
                &kid,
            ),
        ));
    }
    cases.push(("embedded jwk".into(), with_raw_header(&json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, "jwk": { "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&public) } }), &claims, &key, &kid)));
    cases.push(("crit extension".into(), with_raw_header(&json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["faultline-ext"], "faultline-ext": 1 }), &claims, &key, &kid)));
    cases.push((
        "typ JWT".into(),
        with_raw_header(
            &json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid }),
            &claims,
            &key,
            &kid,
        ),
    ));

    let now = chrono::Utc::now().timestamp();
    let mut mutate = |name: &str, change: &dyn Fn(&mut Value)| {
        let mut changed = claims.clone();
        change(&mut changed);
        cases.push((name.to_owned(), sign(eddsa_header(&kid), &changed, &key)));
    };
    mutate("expired beyond leeway", &|c| c["exp"] = json!(now - 120));
    mutate("missing exp", &|c| {
        c.as_object_mut().unwrap().remove("exp");
    });
    mutate("nbf an hour ahead", &|c| c["nbf"] = json!(now + 3600));
    mutate("wrong iss", &|c| c["iss"] = json!("someone-else"));
    mutate("missing iss", &|c| {
        c.as_object_mut().unwrap().remove("iss");
    });
    mutate("wrong aud", &|c| c["aud"] = json!("another-api"));
    mutate("missing aud", &|c| {
        c.as_object_mut().unwrap().remove("aud");
    });
    mutate("exp as a string", &|c| {
        c["exp"] = json!((now + 300).to_string())
    });

    let mut tampered_claims = claims.clone();
    tampered_claims["user_role"] = json!("admin");
    let parts: Vec<&str> = genuine_fresh.split('.').collect();
    cases.push((
        "tampered payload".into(),
        format!("{}.{}.{}", parts[0], b64(&tampered_claims), parts[2]),
    ));
    cases.push((
        "all-zero signature".into(),
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode([0_u8; 64])
        ),
    ));
    cases.push(("two segments".into(), format!("{}.{}", parts[0], parts[1])));
    cases.push((
        "four segments".into(),
        format!("{genuine_fresh}.{}", parts[2]),
    ));
    cases.push(("a refresh token".into(), user.refresh_token.clone()));

    for (case, token) in &cases {
        assert_refused(&platform, token, case).await;
    }

    platform
        .send(Method::GET, "/api/v1/me", Some("not-a-token"), None)
        .await
        .expect_problem(401, "auth.invalid_token");
}

#[tokio::test]
async fn an_oversized_token_is_refused_before_parsing() {
    let platform = helpers::spawn(&[]).await;
    let big = format!("eyJ{}", "A".repeat(9 * 1024));
    assert_refused(&platform, &big, "9 KiB token").await;
    let huge = "A".repeat(1024 * 1024);
    let response = platform
        .send(Method::GET, "/api/v1/me", Some(&huge), None)
        .await;
    assert!(
        matches!(
            response.status,
            StatusCode::UNAUTHORIZED | StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        ),
        "a 1 MB token is refused at the header limit: {}",
        response.status
    );
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_interval_and_jku_is_never_followed() {
    let platform = helpers::spawn(&[]).await;
    let user = platform.sign_up_and_log_in("kid@example.com").await;
    let (_, key, _) = platform.signing_key().await;
    let claims = valid_claims(&user);

    // A server the token points at; it must never be contacted.
    let contacted = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jku = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let counter = contacted.clone();
    tokio::spawn(async move {
        while let Ok((_stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });

    let before = platform.metric("gateway_jwks_fetches_total").await;
    for i in 0..100 {
        let mut header = eddsa_header(&format!("unknown-{i}"));
        if i % 2 == 0 {
            header.jku = Some(jku.clone());
        } else {
            header.x5u = Some(jku.clone());
        }
        let token = sign(header, &claims, &key);
        assert_refused(&platform, &token, "unknown kid").await;
    }
    for i in 0..100 {
        let token = sign(eddsa_header(&format!("unknown-{i}")), &claims, &key);
        assert_refused(&platform, &token, "unknown kid").await;
    }
    let fetches = platform.metric("gateway_jwks_fetches_total").await - before;
    assert!(
        fetches <= 1.0,
        "{fetches} JWKS fetches for 200 unknown kids"
    );
    assert_eq!(
        contacted.load(Ordering::SeqCst),
        0,
        "the jku/x5u target was contacted"
    );
}

#[tokio::test]
async fn duplicate_authorization_headers_are_a_400() {
    let platform = helpers::spawn(&[]).await;
    let user = platform.sign_up_and_log_in("dup@example.com").await;
    test_support::Reply::from_request(
        platform
            .request(Method::GET, "/api/v1/me")
            .header("authorization", format!("Bearer {}", user.access_token))
            .header("authorization", format!("Bearer {}", user.access_token)),
    )
    .await
    .expect_problem(400, "gateway.duplicate_authorization");
}

#[tokio::test]
async fn a_token_of_a_key_removed_from_the_jwks_stops_verifying_even_if_cached() {
    let platform = helpers::spawn_with(
        &[
            ("service.jwks_max_age_secs", "0".to_owned()),
            ("service.keyring_refresh_secs", "0".to_owned()),
        ],
        &[("service.jwks_refresh_secs", "0".to_owned())],
    )
    .await;
    let user = platform.sign_up_and_log_in("rotate@example.com").await;
    assert_eq!(
        platform
            .send(Method::GET, "/api/v1/me", Some(&user.access_token), None)
            .await
            .status,
        StatusCode::OK,
        "verified and cached"
    );
    let admin = platform.database.admin_client().await;
    // Rotate, then let the old key's publication window pass.
    let (old_kid, _, _) = platform.signing_key().await;
    admin
        .execute("UPDATE auth.signing_keys SET state = 'retired', retired_at = now(), publish_until = now() - interval '1 second' WHERE kid = $1", &[&old_kid])
        .await
        .unwrap();
    // The auth service makes a fresh key on its next keyring load; the
    // gateway's next JWKS refresh no longer has the old one.
    let jwks = platform
        .auth
        .request(Method::GET, "/.well-known/jwks.json")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"] != old_kid.as_str())
    );
    // A refresh that started after the old key left the JWKS has finished
    // once the one after it has started (the refreshes run one by one).
    let fetches = platform.metric("gateway_jwks_fetches_total").await;
    platform
        .gateway
        .wait_for_metric("gateway_jwks_fetches_total", CHANGE_SEEN_WITHIN, |now| {
            now >= fetches + 2.0
        })
        .await;
    assert_refused(&platform, &user.access_token, "token of a removed key").await;
}

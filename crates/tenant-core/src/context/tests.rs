//! The context token's issuer against its verifier and a plain JWT library.

use secrecy::SecretString;

use super::*;

fn settings(signing_key_id: &str) -> InternalTokenSettings {
    InternalTokenSettings {
        issuer: "faultline-internal".to_owned(),
        signing_key_id: signing_key_id.to_owned(),
        keys: [
            (
                "k1".to_owned(),
                SecretString::from("first-secret-of-32-bytes-or-more!"),
            ),
            (
                "k2".to_owned(),
                SecretString::from("second-secret-of-32-bytes-or-more"),
            ),
        ]
        .into_iter()
        .collect(),
        ttl_secs: 30,
        leeway_secs: 5,
    }
}

fn context() -> TenantContext {
    TenantContext::new(
        Principal {
            id: Uuid::now_v7(),
            kind: PrincipalKind::User,
        },
        Some(ProjectAccess {
            project_id: Uuid::now_v7(),
            role: Role::Admin,
        }),
        "req-1",
    )
    .with_client_ip("192.0.2.7".parse().unwrap())
}

#[test]
fn an_issued_token_is_a_standard_hs256_jwt_naming_its_key() {
    let token = InternalTokenIssuer::new(&settings("k2"))
        .unwrap()
        .issue("failure", &context())
        .unwrap();

    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.kid.as_deref(), Some("k2"));
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["failure"]);
    let decoded = jsonwebtoken::decode::<serde_json::Value>(
        &token,
        &DecodingKey::from_secret(b"second-secret-of-32-bytes-or-more"),
        &validation,
    )
    .unwrap();
    assert_eq!(decoded.claims["iss"], "faultline-internal");
    assert_eq!(decoded.claims["rid"], "req-1");
    assert_eq!(decoded.claims["cip"], "192.0.2.7");
}

#[test]
fn a_verifier_accepts_the_issuer_s_tokens_and_refuses_another_key_s() {
    let issued = context();
    let token = InternalTokenIssuer::new(&settings("k1"))
        .unwrap()
        .issue("failure", &issued)
        .unwrap();
    let verified = InternalTokenVerifier::new(&settings("k1"), "failure")
        .verify(&token)
        .unwrap();
    assert_eq!(verified.principal(), issued.principal());
    assert_eq!(verified.project(), issued.project());
    assert_eq!(verified.client_ip(), Some("192.0.2.7".parse().unwrap()));

    let (head, rest) = token.split_once('.').unwrap();
    let (payload, _) = rest.split_once('.').unwrap();
    let other_key = hmac::Key::new(hmac::HMAC_SHA256, b"an-attacker-s-key-of-32-bytes-ok");
    let forged_signature = hmac::sign(&other_key, format!("{head}.{payload}").as_bytes());
    let forged = format!(
        "{head}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(forged_signature.as_ref())
    );
    assert!(
        InternalTokenVerifier::new(&settings("k1"), "failure")
            .verify(&forged)
            .is_err()
    );
}

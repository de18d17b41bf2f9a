//! The real binary refuses to start in prod with a development secret, and
//! names the key to fix.

use std::process::Command;

#[test]
fn prod_with_a_default_secret_refuses_to_start_naming_the_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_failure-service"))
        .arg("serve")
        .env("FAULTLINE__ENVIRONMENT", "prod")
        .env(
            "FAULTLINE__INTERNAL_TOKEN__KEYS__DEV",
            "faultline-dev-internal-token-key-not-for-production",
        )
        .env(
            "FAULTLINE__DATABASE__APP_PASSWORD",
            "faultline-dev-failure_app",
        )
        .env_remove("FAULTLINE_CONFIG")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("internal_token.keys.dev is a development default"),
        "{stderr}"
    );
    assert!(
        stderr.contains("database.app_password is a development default"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("faultline-dev-failure_app"),
        "the secret itself must not be printed: {stderr}"
    );
}

#[test]
fn prod_with_strong_secrets_passes_the_config_check() {
    let output = Command::new(env!("CARGO_BIN_EXE_failure-service"))
        .arg("check-config")
        .env("FAULTLINE__ENVIRONMENT", "prod")
        .env(
            "FAULTLINE__INTERNAL_TOKEN__KEYS__DEV",
            "a-production-secret-of-more-than-32-bytes",
        )
        .env(
            "FAULTLINE__DATABASE__APP_PASSWORD",
            "another-production-secret-of-32-bytes+",
        )
        .env_remove("FAULTLINE_CONFIG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

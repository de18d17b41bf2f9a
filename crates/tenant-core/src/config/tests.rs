//! Unit tests of the configuration loader and its validation.

#[cfg(test)]
mod loading_and_validation {
    use crate::config::*;
    use std::time::Duration;

    static WITH_SCHEMA: ServiceSpec = ServiceSpec {
        name: "config-test",
        schema: Some("failure"),
        migrations: &[],
    };

    fn load(overrides: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let overrides: Vec<(&str, String)> = overrides
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect();
        load_with_overrides(&WITH_SCHEMA, &overrides)
    }

    const STRONG: &str = "a-production-secret-of-more-than-32-bytes";

    #[test]
    fn dev_starts_with_embedded_defaults() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.environment, Environment::Dev);
        let database = settings.database.unwrap();
        assert_eq!(database.app_user, "failure_app");
        assert_eq!(database.owner_user, "failure_owner");
    }

    #[test]
    fn prod_with_a_default_secret_refuses_naming_the_key() {
        let error = load(&[
            ("environment", "prod"),
            ("internal_token.keys.dev", DEV_INTERNAL_KEY),
            ("database.app_password", STRONG),
        ])
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("internal_token.keys.dev is a development default"),
            "{message}"
        );
        assert!(
            message.contains("FAULTLINE__INTERNAL_TOKEN__KEYS__DEV"),
            "{message}"
        );

        let error = load(&[
            ("environment", "prod"),
            ("internal_token.keys.dev", STRONG),
            ("database.app_password", "faultline-dev-failure_app"),
        ])
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("database.app_password is a development default"),
            "{error}"
        );
    }

    #[test]
    fn in_dev_a_configured_key_keeps_the_development_key_out_of_the_keyring() {
        let alone = load(&[]).unwrap().internal_token.keys;
        assert_eq!(alone.keys().collect::<Vec<_>>(), ["dev"]);

        let settings = load(&[
            ("internal_token.keys.blue", STRONG),
            ("internal_token.signing_key_id", "blue"),
        ])
        .unwrap();
        assert_eq!(settings.environment, Environment::Dev);
        assert_eq!(
            settings.internal_token.keys.keys().collect::<Vec<_>>(),
            ["blue"]
        );

        let message = load(&[
            ("internal_token.keys.blue", STRONG),
            ("internal_token.keys.dev", DEV_INTERNAL_KEY),
            ("internal_token.signing_key_id", "blue"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            message.contains(
                "internal_token.keys.dev is a development default and is refused beside other keys"
            ),
            "{message}"
        );
    }

    #[test]
    fn outside_dev_the_development_key_is_neither_supplied_nor_accepted() {
        let message = load(&[("environment", "test")]).unwrap_err().to_string();
        assert!(
            message.contains("internal_token.keys is missing"),
            "{message}"
        );
        let message = load(&[
            ("environment", "test"),
            ("internal_token.keys.dev", DEV_INTERNAL_KEY),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            message.contains(
                "internal_token.keys.dev is a development default and is refused in test"
            ),
            "{message}"
        );
        let settings = load(&[
            ("environment", "test"),
            ("internal_token.keys.dev", "a key of the test suite's own"),
        ])
        .unwrap();
        assert_eq!(settings.internal_token.keys.len(), 1);
    }

    #[test]
    fn prod_with_missing_or_short_secrets_refuses_naming_each_key() {
        let message = load(&[("environment", "prod")]).unwrap_err().to_string();
        assert!(
            message.contains("internal_token.keys is missing"),
            "{message}"
        );
        assert!(
            message.contains("database.app_password is required in prod"),
            "{message}"
        );

        let message = load(&[
            ("environment", "prod"),
            ("internal_token.keys.dev", "short"),
            ("database.app_password", STRONG),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            message.contains("internal_token.keys.dev is shorter than 32 bytes"),
            "{message}"
        );
    }

    #[test]
    fn prod_with_strong_secrets_starts() {
        let settings = load(&[
            ("environment", "prod"),
            ("internal_token.keys.dev", STRONG),
            ("database.app_password", STRONG),
        ])
        .unwrap();
        assert_eq!(settings.environment, Environment::Prod);
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let settings = load(&[
            ("database.app_password", STRONG),
            ("internal_token.keys.dev", STRONG),
        ])
        .unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains(STRONG), "{debug}");
        assert!(!debug.contains(DEV_INTERNAL_KEY), "{debug}");
    }

    #[test]
    fn listeners_default_to_plain_http_only_with_limits_and_timeouts() {
        let server = load(&[]).unwrap().server;
        assert!(server.http_enabled);
        assert!(!server.tls.enabled);
        assert_eq!(server.tls.port, 8443);
        assert_eq!(
            (server.max_request_headers, server.max_request_header_bytes),
            (64, 32768)
        );
        assert_eq!(server.client_request_timeout(), Duration::from_secs(5));
        assert_eq!(server.keep_alive(), Some(Duration::from_secs(5)));
        let server = load(&[("server.keep_alive_secs", "0")]).unwrap().server;
        assert_eq!(server.keep_alive(), None);
        let message = load(&[("server.client_request_timeout_ms", "0")])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("server.client_request_timeout_ms"),
            "{message}"
        );
        assert_eq!(server.body_idle_timeout(), Duration::from_secs(10));
        for out_of_range in ["0", "99", "120001"] {
            let message = load(&[("server.body_idle_timeout_ms", out_of_range)])
                .unwrap_err()
                .to_string();
            assert!(message.contains("server.body_idle_timeout_ms"), "{message}");
        }
        let message = load(&[("server.max_request_header_bytes", "1000000")])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("server.max_request_header_bytes must be between 1024 and 65536"),
            "{message}"
        );
    }

    #[test]
    fn invalid_values_are_refused_naming_the_key() {
        let message = load(&[("internal_token.ttl_secs", "3600")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("internal_token.ttl_secs"), "{message}");
        let message = load(&[("internal_token.signing_key_id", "missing")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("signing_key_id `missing`"), "{message}");
        let error = load(&[("server.port", "not-a-port")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("server.port"), "{error}");
    }

    #[test]
    fn trusted_proxies_are_networks_or_addresses_and_nothing_is_trusted_by_default() {
        let none = load(&[]).unwrap().server.trusted_proxies;
        assert!(none.is_empty());
        assert!(!none.contains("127.0.0.1".parse().unwrap()));

        let trusted = load(&[("server.trusted_proxies", "10.1.0.0/16, 192.0.2.7,fd00::/8")])
            .unwrap()
            .server
            .trusted_proxies;
        for inside in ["10.1.200.3", "192.0.2.7", "fd00::1", "::ffff:10.1.0.9"] {
            assert!(trusted.contains(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["10.2.0.1", "192.0.2.8", "2001:db8::1"] {
            assert!(!trusted.contains(outside.parse().unwrap()), "{outside}");
        }

        let error = load(&[("server.trusted_proxies", "10.0.0.0/8,ingress-nginx")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("server.trusted_proxies: `ingress-nginx`"),
            "{error}"
        );
    }
}

#[cfg(test)]
mod nested_override_tests {
    use crate::config::*;

    #[derive(Debug, Default, Deserialize)]
    struct Nested {
        upstreams: BTreeMap<String, Upstream>,
    }

    #[derive(Debug, Deserialize)]
    struct Upstream {
        url: String,
        audience: String,
    }

    impl ServiceSettings for Nested {
        const DEFAULTS: &'static str =
            "[upstreams.auth]\nurl = \"http://a\"\naudience = \"auth-service\"\n";
    }

    static SPEC: ServiceSpec = ServiceSpec {
        name: "nested-test",
        schema: None,
        migrations: &[],
    };

    #[test]
    fn overriding_one_key_of_a_table_keeps_its_siblings() {
        let settings: Settings<Nested> = load_with_overrides(
            &SPEC,
            &[("service.upstreams.auth.url", "http://b".to_owned())],
        )
        .unwrap();
        let auth = &settings.service.upstreams["auth"];
        assert_eq!(
            (auth.url.as_str(), auth.audience.as_str()),
            ("http://b", "auth-service")
        );
    }
}

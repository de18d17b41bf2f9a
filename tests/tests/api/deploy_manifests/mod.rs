//! The deployment as it would reach a cluster: every overlay under
//! `deploy/k8s/overlays` rendered with `kubectl kustomize`, and the image
//! definition in `deploy/docker`, checked against what the platform needs.
//!
//! Needs `kubectl` on the PATH (or its path in `KUBECTL`); without it every
//! test here fails and says how to get it. `make validate-deploy` installs
//! it (Debian's kubernetes-client, as root) along with the schema and policy
//! checkers, which complement these tests.

mod manifests;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Value, json};

use manifests::{
    Manifests, Workload, config_number, container_port, has_port, list_at, name_of, policy_types,
    read, rendered, selects, str_at,
};

const OVERLAYS: [&str; 3] = ["dev", "prod", "prod-failure-v2"];
const PRODUCTION_OVERLAYS: [&str; 2] = ["prod", "prod-failure-v2"];
const GATEWAY: &str = "api-gateway";
/// The API's backends: each owns a schema and sits behind the gateway.
const BACKENDS: [&str; 5] = [
    "auth-service",
    "project-service",
    "failure-service",
    "analytics-service",
    "integration-gateway",
];
/// The web dashboard: behind the gateway, calling the gateway, with a
/// schema of its own (its sessions).
const WEB: &str = "web-service";
/// Every service that owns a schema: each has a migration Job and reaches
/// PostgreSQL.
const SCHEMA_OWNERS: [&str; 6] = [
    "auth-service",
    "project-service",
    "failure-service",
    "analytics-service",
    "integration-gateway",
    WEB,
];
/// The gateway's HTTPS port, which the web dashboard calls.
const GATEWAY_HTTPS_PORT: u64 = 8443;
/// Scaled horizontally under load.
const HOT_SERVICES: [&str; 2] = [GATEWAY, "failure-service"];
/// The user the image runs as (distroless' `nonroot`).
const RUNTIME_UID: u64 = 65532;
const MONITORING_NAMESPACE: &str = "monitoring";
const INGRESS_NAMESPACE: &str = "ingress-nginx";

/// Who may open connections to a backend's public port.
fn allowed_callers(service: &str) -> &'static [&'static str] {
    match service {
        "failure-service" => &[GATEWAY, "integration-gateway"],
        "integration-gateway" => &[GATEWAY, "failure-service", "analytics-service"],
        "analytics-service" => &[GATEWAY, "failure-service"],
        "project-service" => &[GATEWAY, "analytics-service"],
        _ => &[GATEWAY],
    }
}

// ------------------------------------------------------------------- tests

#[test]
fn every_overlay_deploys_into_its_own_namespace_under_the_restricted_pod_security_standard() {
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        let namespaces: Vec<&Value> = manifests.of_kind("Namespace").collect();
        assert_eq!(namespaces.len(), 1, "{overlay}: one Namespace");
        let namespace = name_of(namespaces[0]);
        let labels = &namespaces[0]["metadata"]["labels"];
        assert_eq!(
            labels["pod-security.kubernetes.io/enforce"], "restricted",
            "{overlay}: the namespace enforces the restricted Pod Security Standard"
        );
        for object in manifests
            .objects
            .iter()
            .filter(|o| o["kind"] != "Namespace")
        {
            assert_eq!(
                object["metadata"]["namespace"],
                namespace,
                "{overlay}: {} {} is in {namespace}",
                object["kind"],
                name_of(object)
            );
        }
        let services: BTreeSet<&str> = manifests
            .deployments()
            .iter()
            .map(Workload::service)
            .collect();
        let expected: BTreeSet<&str> = BACKENDS.iter().copied().chain([GATEWAY, WEB]).collect();
        assert_eq!(services, expected, "{overlay}: every service is deployed");
    }
}

#[test]
fn every_container_runs_as_a_numeric_non_root_user_with_a_read_only_root_filesystem() {
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        for workload in manifests.workloads() {
            let at = format!("{overlay}: {} {}", workload.kind, workload.name);
            let pod = workload.pod();
            let pod_security = &pod["securityContext"];
            assert_eq!(pod_security["runAsNonRoot"], true, "{at}: runAsNonRoot");
            assert_eq!(
                pod_security["runAsUser"], RUNTIME_UID,
                "{at}: numeric runAsUser"
            );
            assert_eq!(
                pod_security["seccompProfile"]["type"], "RuntimeDefault",
                "{at}: seccomp"
            );
            assert_eq!(
                pod["automountServiceAccountToken"], false,
                "{at}: no API token"
            );
            for host in ["hostNetwork", "hostPID", "hostIPC"] {
                assert_ne!(pod[host], true, "{at}: {host}");
            }
            let account = str_at(pod, "/serviceAccountName").unwrap_or("default");
            let account = manifests
                .find("ServiceAccount", account)
                .unwrap_or_else(|| panic!("{at}: its ServiceAccount {account} is deployed"));
            assert_eq!(
                account["automountServiceAccountToken"], false,
                "{at}: account has no token"
            );

            for container in workload.containers() {
                let at = format!("{at}, container {}", container["name"]);
                let security = &container["securityContext"];
                let user = security
                    .get("runAsUser")
                    .unwrap_or(&pod_security["runAsUser"]);
                assert!(
                    user.as_u64().is_some_and(|uid| uid > 0),
                    "{at}: numeric non-root user"
                );
                assert_ne!(security["runAsNonRoot"], false, "{at}: runAsNonRoot");
                assert_eq!(
                    security["readOnlyRootFilesystem"], true,
                    "{at}: read-only root fs"
                );
                assert_eq!(
                    security["allowPrivilegeEscalation"], false,
                    "{at}: no escalation"
                );
                assert_ne!(security["privileged"], true, "{at}: not privileged");
                assert_eq!(
                    security["capabilities"]["drop"],
                    json!(["ALL"]),
                    "{at}: drops ALL"
                );
                assert!(
                    list_at(security, "/capabilities/add").is_empty(),
                    "{at}: adds nothing"
                );
            }
        }
    }
}

#[test]
fn probes_ask_the_admin_listener_for_readyz_and_healthz() {
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        for workload in manifests.deployments() {
            let at = format!("{overlay}: Deployment {}", workload.name);
            let container = workload.only_container();
            let config = manifests.configuration(container);
            for host in ["FAULTLINE__SERVER__HOST", "FAULTLINE__SERVER__ADMIN_HOST"] {
                assert_eq!(
                    config.get(host).map(String::as_str),
                    Some("0.0.0.0"),
                    "{at}: {host}"
                );
            }
            let admin_port = config_number(&config, "FAULTLINE__SERVER__ADMIN_PORT", 9090);
            assert_eq!(
                container_port(container, "admin"),
                Some(admin_port),
                "{at}: admin port"
            );
            // The gateway serves HTTPS only (its TLS port); the others plain HTTP.
            let (public_name, public_port) = if workload.service() == GATEWAY {
                assert_eq!(
                    config
                        .get("FAULTLINE__SERVER__TLS__ENABLED")
                        .map(String::as_str),
                    Some("true"),
                    "{at}: TLS on"
                );
                assert_eq!(
                    config
                        .get("FAULTLINE__SERVER__HTTP_ENABLED")
                        .map(String::as_str),
                    Some("false"),
                    "{at}: plain HTTP off"
                );
                (
                    "https",
                    config_number(&config, "FAULTLINE__SERVER__TLS__PORT", 8443),
                )
            } else {
                (
                    "http",
                    config_number(&config, "FAULTLINE__SERVER__PORT", 8080),
                )
            };
            assert_eq!(
                container_port(container, public_name),
                Some(public_port),
                "{at}: public port named {public_name}"
            );
            for (probe, path) in [
                ("startupProbe", "/healthz"),
                ("readinessProbe", "/readyz"),
                ("livenessProbe", "/healthz"),
            ] {
                let get = &container[probe]["httpGet"];
                assert_eq!(get["path"], path, "{at}: {probe} path");
                assert_eq!(get["port"], "admin", "{at}: {probe} port");
            }
        }
    }
}

#[test]
fn rollouts_keep_capacity_and_pods_drain_before_they_are_killed() {
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        for workload in manifests.deployments() {
            let at = format!("{overlay}: Deployment {}", workload.name);
            let spec = &workload.object["spec"];
            assert_eq!(
                spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0,
                "{at}"
            );
            let container = workload.only_container();
            let config = manifests.configuration(container);

            let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
                .as_u64()
                .unwrap_or_else(|| panic!("{at}: preStop sleep"));
            let drain_ms = config_number(&config, "FAULTLINE__SERVER__DRAIN_DELAY_MS", 0);
            let shutdown = config_number(&config, "FAULTLINE__SERVER__SHUTDOWN_TIMEOUT_SECS", 30);
            let grace = workload.pod()["terminationGracePeriodSeconds"]
                .as_u64()
                .unwrap_or_else(|| panic!("{at}: terminationGracePeriodSeconds"));
            assert!(
                grace * 1000 > pre_stop * 1000 + drain_ms + shutdown * 1000,
                "{at}: grace {grace} s must exceed preStop {pre_stop} s + drain {drain_ms} ms \
                 + shutdown {shutdown} s"
            );
            let readiness = &container["readinessProbe"];
            let unready_after_ms = readiness["periodSeconds"].as_u64().unwrap_or(10)
                * readiness["failureThreshold"].as_u64().unwrap_or(3)
                * 1000;
            assert!(
                drain_ms >= unready_after_ms,
                "{at}: the drain delay ({drain_ms} ms) covers the readiness probe noticing ({unready_after_ms} ms)"
            );

            let resources = &container["resources"];
            for (pointer, what) in [
                ("/requests/cpu", "CPU request"),
                ("/requests/memory", "memory request"),
                ("/limits/memory", "memory limit"),
            ] {
                assert!(str_at(resources, pointer).is_some(), "{at}: {what}");
            }

            let spread = list_at(workload.pod(), "/topologySpreadConstraints");
            assert!(
                spread
                    .iter()
                    .any(|c| c["topologyKey"] == "topology.kubernetes.io/zone"
                        && selects(&c["labelSelector"], workload.pod_labels())),
                "{at}: spread across zones"
            );
            assert!(
                manifests
                    .of_kind("PodDisruptionBudget")
                    .any(|b| selects(&b["spec"]["selector"], workload.pod_labels())),
                "{at}: a PodDisruptionBudget covers it"
            );
            let service = manifests.get("Service", workload.name);
            assert!(
                selects(
                    &json!({ "matchLabels": service["spec"]["selector"] }),
                    workload.pod_labels()
                ),
                "{at}: its Service selects its pods"
            );
        }
    }
}

#[test]
fn every_backend_accepts_connections_only_from_its_declared_callers() {
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        assert!(
            manifests.of_kind("NetworkPolicy").any(|p| {
                p["spec"]["podSelector"]
                    .as_object()
                    .is_none_or(|s| s.is_empty())
                    && policy_types(p) == ["Ingress", "Egress"]
                    && list_at(p, "/spec/ingress").is_empty()
                    && list_at(p, "/spec/egress").is_empty()
            }),
            "{overlay}: a default-deny policy for ingress and egress"
        );

        for workload in manifests.deployments() {
            let service = workload.service();
            let at = format!("{overlay}: Deployment {}", workload.name);
            let labels = workload.pod_labels();
            assert!(
                manifests.network_policies_selecting(labels).any(|p| {
                    p["spec"]["podSelector"]
                        .as_object()
                        .is_some_and(|s| !s.is_empty())
                        && policy_types(p).contains(&"Ingress")
                }),
                "{at}: a NetworkPolicy of its own covers it"
            );
            let container = workload.only_container();
            let admin = [
                json!("admin"),
                json!(container_port(container, "admin").unwrap()),
            ];
            let public_name = if service == GATEWAY { "https" } else { "http" };
            let public = [
                json!(public_name),
                json!(container_port(container, public_name).unwrap()),
            ];
            let ingress_rules = manifests
                .network_policies_selecting(labels)
                .filter(|p| policy_types(p).contains(&"Ingress"))
                .flat_map(|p| list_at(p, "/spec/ingress"));
            let mut public_peers = 0;
            for rule in ingress_rules {
                assert!(
                    !list_at(rule, "/ports").is_empty(),
                    "{at}: a rule opens every port"
                );
                let peers = list_at(rule, "/from");
                assert!(!peers.is_empty(), "{at}: a rule admits everyone");
                for peer in peers {
                    let from_namespace = str_at(
                        peer,
                        "/namespaceSelector/matchLabels/kubernetes.io~1metadata.name",
                    );
                    let from_service =
                        str_at(peer, "/podSelector/matchLabels/app.kubernetes.io~1name");
                    assert!(
                        peer.get("ipBlock").is_none(),
                        "{at}: admits an address range"
                    );
                    if has_port(rule, &admin) {
                        assert_eq!(
                            from_namespace,
                            Some(MONITORING_NAMESPACE),
                            "{at}: admin port"
                        );
                        assert!(
                            peer.get("podSelector").is_none(),
                            "{at}: admin port, any pod of monitoring"
                        );
                    }
                    if has_port(rule, &public) {
                        public_peers += 1;
                        if service == GATEWAY && from_service == Some(WEB) {
                            assert!(
                                from_namespace.is_none(),
                                "{at}: the dashboard of this namespace"
                            );
                        } else if service == GATEWAY {
                            assert_eq!(from_namespace, Some(INGRESS_NAMESPACE), "{at}: clients");
                        } else {
                            assert!(
                                from_namespace.is_none(),
                                "{at}: callers from this namespace only"
                            );
                            assert!(
                                from_service.is_some_and(
                                    |caller| allowed_callers(service).contains(&caller)
                                ),
                                "{at}: {peer} may not call {service}"
                            );
                        }
                    }
                }
            }
            assert!(public_peers > 0, "{at}: someone may call it");
        }
    }
}

/// Whether some policy lets pods with `from` labels open connections to
/// `port` on a peer accepted by `to`.
fn egress_allowed(
    manifests: &Manifests,
    from: &Value,
    port: u64,
    to: impl Fn(&Value) -> bool,
) -> bool {
    manifests
        .network_policies_selecting(from)
        .filter(|p| policy_types(p).contains(&"Egress"))
        .flat_map(|p| list_at(p, "/spec/egress"))
        .any(|rule| has_port(rule, &[json!(port)]) && list_at(rule, "/to").iter().any(&to))
}

#[test]
fn the_calls_between_services_and_to_postgres_are_allowed_out_explicitly() {
    let same_namespace_pods = |target: &'static Value| {
        move |peer: &Value| {
            peer.get("namespaceSelector").is_none() && selects(&peer["podSelector"], target)
        }
    };
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        let gateway = manifests.deployment(GATEWAY).pod_labels();
        for backend in BACKENDS {
            let target = manifests.deployment(backend).pod_labels();
            assert!(
                egress_allowed(manifests, gateway, 8080, same_namespace_pods(target)),
                "{overlay}: api-gateway may call {backend}"
            );
        }
        for backend in SCHEMA_OWNERS {
            let target = manifests.deployment(backend).pod_labels();
            assert!(
                egress_allowed(manifests, target, 5432, |_| true),
                "{overlay}: {backend} reaches PostgreSQL"
            );
            let job = manifests.get("Job", &format!("{backend}-migrate"));
            assert!(
                egress_allowed(
                    manifests,
                    &job["spec"]["template"]["metadata"]["labels"],
                    5432,
                    |_| true
                ),
                "{overlay}: {backend}'s migration Job reaches PostgreSQL"
            );
        }
        let web = manifests.deployment(WEB).pod_labels();
        assert!(
            egress_allowed(manifests, gateway, 8080, same_namespace_pods(web)),
            "{overlay}: api-gateway may send pages to {WEB}"
        );
        assert!(
            egress_allowed(
                manifests,
                web,
                GATEWAY_HTTPS_PORT,
                same_namespace_pods(gateway)
            ),
            "{overlay}: {WEB} may call the API through the gateway"
        );
        for (caller, callee) in [
            ("failure-service", "integration-gateway"),
            ("analytics-service", "integration-gateway"),
            ("integration-gateway", "failure-service"),
            ("failure-service", "analytics-service"),
            ("analytics-service", "project-service"),
        ] {
            let from = manifests.deployment(caller).pod_labels();
            let target = manifests.deployment(callee).pod_labels();
            assert!(
                egress_allowed(manifests, from, 8080, same_namespace_pods(target)),
                "{overlay}: {caller} may call {callee}"
            );
        }
    }
}

#[test]
fn the_hot_services_scale_on_cpu_with_an_autoscaler() {
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        for workload in manifests.deployments() {
            let service = workload.service();
            let autoscaler = manifests.find("HorizontalPodAutoscaler", workload.name);
            if !HOT_SERVICES.contains(&service) {
                assert!(
                    autoscaler.is_none(),
                    "{overlay}: {} is not autoscaled",
                    workload.name
                );
                continue;
            }
            let at = format!("{overlay}: {}", workload.name);
            let autoscaler = autoscaler.unwrap_or_else(|| panic!("{at}: an autoscaler"));
            assert_eq!(autoscaler["apiVersion"], "autoscaling/v2", "{at}");
            assert_eq!(
                autoscaler["spec"]["scaleTargetRef"],
                json!({ "apiVersion": "apps/v1", "kind": "Deployment", "name": workload.name }),
                "{at}: scales its Deployment"
            );
            assert!(
                list_at(autoscaler, "/spec/metrics")
                    .iter()
                    .any(|m| m["type"] == "Resource" && m["resource"]["name"] == "cpu"),
                "{at}: on CPU"
            );
            assert!(
                workload.object["spec"].get("replicas").is_none(),
                "{at}: the Deployment leaves the replica count to the autoscaler"
            );
        }
    }
}

#[test]
fn production_runs_pinned_release_tags_never_latest() {
    for overlay in OVERLAYS {
        for workload in rendered(overlay).workloads() {
            for container in workload.containers() {
                let image = container["image"].as_str().unwrap();
                let at = format!("{overlay}: {} {}: {image}", workload.kind, workload.name);
                let last = image.rsplit('/').next().unwrap();
                let tag = last.split_once(':').map(|(_, tag)| tag);
                assert_ne!(tag, Some("latest"), "{at}");
                if PRODUCTION_OVERLAYS.contains(&overlay) {
                    assert!(
                        image.contains("@sha256:") || tag.is_some_and(|t| !t.is_empty()),
                        "{at}: production names a tag or a digest"
                    );
                    assert!(
                        image.contains('/') && image.split('/').next().unwrap().contains('.'),
                        "{at}: production pulls from a named registry"
                    );
                }
            }
        }
    }
}

#[test]
fn each_schema_is_migrated_by_its_own_job_holding_the_owner_password() {
    const OWNER_PASSWORD: &str = "FAULTLINE__DATABASE__OWNER_PASSWORD";
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        let jobs: BTreeSet<&str> = manifests.of_kind("Job").map(name_of).collect();
        assert!(
            !jobs.contains("api-gateway-migrate"),
            "{overlay}: the gateway has no schema"
        );
        for backend in SCHEMA_OWNERS {
            let job = manifests.get("Job", &format!("{backend}-migrate"));
            let job = Workload {
                kind: "Job",
                name: name_of(job),
                object: job,
            };
            let at = format!("{overlay}: Job {}", job.name);
            assert_eq!(job.service(), backend, "{at}");
            assert_eq!(
                job.label("app.kubernetes.io/component"),
                "migration",
                "{at}"
            );
            assert_eq!(job.pod()["restartPolicy"], "Never", "{at}");
            let container = job.only_container();
            assert_eq!(
                container["args"],
                json!(["migrate"]),
                "{at}: runs `{backend} migrate`"
            );
            assert_eq!(
                container["image"],
                manifests.deployment(backend).only_container()["image"],
                "{at}: the same image as the Deployment"
            );
            assert!(
                list_at(container, "/env")
                    .iter()
                    .any(|v| v["name"] == OWNER_PASSWORD),
                "{at}: holds the owner password"
            );
        }
        for workload in manifests.deployments() {
            let container = workload.only_container();
            assert_eq!(
                container["args"],
                json!(["serve"]),
                "{overlay}: {} serves",
                workload.name
            );
            assert!(
                list_at(container, "/env")
                    .iter()
                    .all(|v| v["name"] != OWNER_PASSWORD),
                "{overlay}: serving pods of {} never hold the owner password",
                workload.name
            );
        }
    }
}

#[test]
fn secrets_reach_pods_only_through_secret_key_refs_and_none_are_committed() {
    let is_secret = |key: &str| key.contains("PASSWORD") || key.contains("KEYS__");
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        assert_eq!(
            manifests.of_kind("Secret").count(),
            0,
            "{overlay}: no Secret is rendered"
        );
        for map in manifests.of_kind("ConfigMap") {
            for key in map["data"].as_object().unwrap().keys() {
                assert!(
                    !is_secret(key),
                    "{overlay}: ConfigMap {} holds {key}",
                    name_of(map)
                );
            }
        }
        for workload in manifests.workloads() {
            for container in workload.containers() {
                let env = list_at(container, "/env");
                for variable in env
                    .iter()
                    .filter(|v| is_secret(v["name"].as_str().unwrap()))
                {
                    assert!(
                        variable.pointer("/valueFrom/secretKeyRef/name").is_some(),
                        "{overlay}: {} takes {} from a secretKeyRef",
                        workload.name,
                        variable["name"]
                    );
                }
                if ![GATEWAY, WEB].contains(&workload.service()) {
                    assert!(
                        env.iter()
                            .any(|v| v["name"] == "FAULTLINE__DATABASE__APP_PASSWORD"),
                        "{overlay}: {} gets its database password",
                        workload.name
                    );
                }
                assert!(
                    env.iter().any(|v| v["name"]
                        .as_str()
                        .unwrap()
                        .starts_with("FAULTLINE__INTERNAL_TOKEN__KEYS__")),
                    "{overlay}: {} gets the internal-token keys",
                    workload.name
                );
            }
        }
    }

    let example = read("deploy/k8s/secrets.example.yaml");
    for document in serde_norway::Deserializer::from_str(&example) {
        let secret = Value::deserialize(document).unwrap();
        for (key, value) in secret["stringData"].as_object().unwrap() {
            assert!(
                value.as_str().is_some_and(|v| v.starts_with('<')),
                "secrets.example.yaml: {} {key} is a placeholder",
                name_of(&secret)
            );
        }
    }
    assert!(
        read("deploy/k8s/.gitignore")
            .lines()
            .any(|line| line == "/secrets.yaml"),
        "the filled-in copy of secrets.example.yaml is git-ignored"
    );
}

#[test]
fn configured_upstreams_name_services_and_ports_that_exist() {
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        for map in manifests.of_kind("ConfigMap") {
            for (key, value) in map["data"].as_object().unwrap() {
                let is_upstream = key.starts_with("FAULTLINE__SERVICE__") && key.ends_with("_URL");
                let Some(rest) = value.as_str().and_then(|v| v.strip_prefix("http://")) else {
                    continue;
                };
                if !is_upstream {
                    continue;
                }
                let (host, port) = rest.trim_end_matches('/').split_once(':').unwrap();
                let service = manifests.find("Service", host).unwrap_or_else(|| {
                    panic!("{overlay}: {key} names Service {host}, which is not deployed")
                });
                assert!(
                    list_at(service, "/spec/ports")
                        .iter()
                        .any(|p| p["port"].as_u64() == port.parse().ok()),
                    "{overlay}: {key}: Service {host} has no port {port}"
                );
            }
        }
    }
}

#[test]
fn the_gateway_serves_its_certificate_from_a_secret_behind_the_production_ingress() {
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        let gateway = manifests.deployment(GATEWAY);
        let volume = list_at(gateway.pod(), "/volumes")
            .iter()
            .find(|v| v["secret"]["secretName"] == "api-gateway-tls")
            .unwrap_or_else(|| panic!("{overlay}: the gateway mounts the api-gateway-tls Secret"));
        let container = gateway.only_container();
        let mount = list_at(container, "/volumeMounts")
            .iter()
            .find(|m| m["name"] == volume["name"])
            .unwrap_or_else(|| panic!("{overlay}: the certificate volume is mounted"));
        assert_eq!(mount["readOnly"], true, "{overlay}: read-only certificate");
        let directory = mount["mountPath"].as_str().unwrap();
        let config = manifests.configuration(container);
        for (key, file) in [
            ("FAULTLINE__SERVER__TLS__CERT_PATH", "tls.crt"),
            ("FAULTLINE__SERVER__TLS__KEY_PATH", "tls.key"),
        ] {
            assert_eq!(
                config.get(key),
                Some(&format!("{directory}/{file}")),
                "{overlay}: {key}"
            );
        }
    }
    for overlay in PRODUCTION_OVERLAYS {
        let manifests = rendered(overlay);
        let ingress = manifests
            .of_kind("Ingress")
            .next()
            .unwrap_or_else(|| panic!("{overlay}: an Ingress"));
        let backends: Vec<&Value> = list_at(ingress, "/spec/rules")
            .iter()
            .flat_map(|r| list_at(r, "/http/paths"))
            .map(|p| &p["backend"]["service"])
            .collect();
        assert!(
            !backends.is_empty(),
            "{overlay}: the Ingress routes somewhere"
        );
        for backend in backends {
            assert_eq!(
                backend["name"], GATEWAY,
                "{overlay}: only the gateway is exposed"
            );
            let port = backend["port"]["name"].as_str().unwrap();
            let service = manifests.get("Service", GATEWAY);
            assert!(
                list_at(service, "/spec/ports")
                    .iter()
                    .any(|p| p["name"] == port),
                "{overlay}: the gateway's Service has port {port}"
            );
        }
    }
}

#[test]
fn the_gateway_takes_client_addresses_only_from_the_ingress_controller_which_sees_the_requests() {
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        let container = manifests.deployment(GATEWAY).only_container();
        let trusted = manifests
            .configuration(container)
            .get("FAULTLINE__SERVER__TRUSTED_PROXIES")
            .cloned()
            .unwrap_or_else(|| panic!("{overlay}: the gateway names its trusted proxies"));
        let trusted: tenant_core::config::TrustedProxies = trusted
            .parse()
            .unwrap_or_else(|error| panic!("{overlay}: {error}"));
        assert!(!trusted.is_empty(), "{overlay}: some proxy is trusted");
    }
    for overlay in PRODUCTION_OVERLAYS {
        let manifests = rendered(overlay);
        let ingress = manifests.of_kind("Ingress").next().unwrap();
        // Passed-through TLS would hide the request, and with it the
        // client's address, from the controller.
        assert_ne!(
            ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-passthrough"],
            "true",
            "{overlay}: the controller terminates TLS"
        );
        assert!(
            !list_at(ingress, "/spec/tls").is_empty(),
            "{overlay}: the controller has a certificate"
        );
        assert_eq!(
            ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"],
            "HTTPS",
            "{overlay}: and speaks TLS to the gateway"
        );
    }
}

#[test]
fn a_team_applies_its_service_alone_by_its_name_label() {
    const SHARED: &str = "faultline-common";
    for overlay in OVERLAYS {
        let manifests = rendered(overlay);
        for workload in manifests.workloads() {
            let service = workload.service();
            let at = format!("{overlay}: {} {}", workload.kind, workload.name);
            assert_eq!(
                manifests::service_label(workload.object),
                Some(service),
                "{at}: labelled with its service"
            );
            let account = str_at(workload.pod(), "/serviceAccountName").unwrap();
            assert_eq!(
                manifests::service_label(manifests.get("ServiceAccount", account)),
                Some(service),
                "{at}: its ServiceAccount is applied with it"
            );
            for container in workload.containers() {
                for source in list_at(container, "/envFrom") {
                    let name = str_at(source, "/configMapRef/name").unwrap();
                    if manifests::without_hash(name) == SHARED {
                        continue;
                    }
                    assert_eq!(
                        manifests::service_label(manifests.get("ConfigMap", name)),
                        Some(service),
                        "{at}: its ConfigMap {name} is applied with it"
                    );
                }
            }
        }
    }
}

#[test]
fn failure_service_v2_deploys_beside_v1_and_changes_nothing_but_the_gateway_route() {
    let prod = rendered("prod");
    let v2 = rendered("prod-failure-v2");
    let key = |o: &Value| {
        (
            o["kind"].as_str().unwrap().to_owned(),
            manifests::without_hash(name_of(o)).to_owned(),
        )
    };
    let before: BTreeMap<_, _> = prod.objects.iter().map(|o| (key(o), o)).collect();
    let after: BTreeMap<_, _> = v2.objects.iter().map(|o| (key(o), o)).collect();

    let gateway_config = ("ConfigMap".to_owned(), "api-gateway-config".to_owned());
    let gateway = ("Deployment".to_owned(), GATEWAY.to_owned());
    for (id, object) in &before {
        let changed = after.get(id).unwrap_or_else(|| panic!("v2 removes {id:?}"));
        if *id == gateway_config || *id == gateway {
            continue;
        }
        assert_eq!(object, changed, "v2 changes {id:?}");
    }

    // The gateway: only its route table changes, by the one v2 route.
    let mut routes_before = before[&gateway_config]["data"].as_object().unwrap().clone();
    let routes_after = after[&gateway_config]["data"].as_object().unwrap();
    routes_before.insert(
        "FAULTLINE__SERVICE__UPSTREAMS__FAILURE_V2__URL".into(),
        json!("http://failure-service-v2:8080"),
    );
    routes_before.insert(
        "FAULTLINE__SERVICE__UPSTREAMS__FAILURE_V2__AUDIENCE".into(),
        json!("failure-service"),
    );
    assert_eq!(
        &routes_before, routes_after,
        "v2 adds exactly the failure_v2 upstream"
    );
    let config_names = |o: &Value| -> Vec<String> {
        list_at(o, "/spec/template/spec/containers/0/envFrom")
            .iter()
            .map(|s| {
                manifests::without_hash(s["configMapRef"]["name"].as_str().unwrap()).to_owned()
            })
            .collect()
    };
    let mut gateway_before = before[&gateway].clone();
    let mut gateway_after = after[&gateway].clone();
    assert_eq!(config_names(&gateway_before), config_names(&gateway_after));
    for deployment in [&mut gateway_before, &mut gateway_after] {
        deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"] = Value::Null;
    }
    assert_eq!(
        gateway_before, gateway_after,
        "the gateway changes only its ConfigMap"
    );

    // Everything new belongs to failure-service v2.
    let added: Vec<_> = after
        .keys()
        .filter(|id| !before.contains_key(*id))
        .collect();
    assert!(
        added.iter().any(|(kind, _)| kind == "Deployment"),
        "v2 is its own Deployment"
    );
    for (kind, name) in &added {
        assert!(
            name.starts_with("failure-service-v2"),
            "v2 adds {kind} {name}"
        );
    }
    let v2_pods =
        v2.get("Deployment", "failure-service-v2")["spec"]["template"]["metadata"]["labels"]
            .clone();
    let v1_pods = v2.deployment("failure-service").pod_labels();
    let selects_service = |service: &str, pods: &Value| {
        selects(
            &json!({ "matchLabels": v2.get("Service", service)["spec"]["selector"] }),
            pods,
        )
    };
    assert!(
        selects_service("failure-service-v2", &v2_pods),
        "v2's Service reaches v2"
    );
    assert!(
        !selects_service("failure-service-v2", v1_pods),
        "v2's Service skips v1"
    );
    assert!(
        !selects_service("failure-service", &v2_pods),
        "v1's Service skips v2"
    );
    assert_eq!(
        v2_pods["app.kubernetes.io/name"], "failure-service",
        "same policies as v1"
    );
}

#[test]
fn the_image_builds_one_service_and_runs_it_in_prod_without_a_shell_as_a_numeric_user() {
    let dockerfile = read("deploy/docker/Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let runtime_stage = instructions
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("a FROM");
    let runtime = &instructions[runtime_stage..];
    assert!(
        runtime[0].contains("distroless"),
        "minimal runtime without a shell: {}",
        runtime[0]
    );
    assert!(
        !dockerfile.contains(":latest"),
        "no image is taken at latest"
    );

    let find = |prefix: &str| {
        runtime
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("the runtime stage has {prefix}"))
            .trim_start_matches(prefix)
            .trim()
    };
    assert_eq!(
        find("USER "),
        format!("{RUNTIME_UID}:{RUNTIME_UID}"),
        "numeric non-root user"
    );
    let entrypoint: Vec<String> =
        serde_json::from_str(find("ENTRYPOINT ")).expect("exec-form ENTRYPOINT");
    assert_eq!(entrypoint.len(), 1, "the entrypoint is the service binary");
    let healthcheck_at = dockerfile.find("HEALTHCHECK").expect("a HEALTHCHECK");
    let healthcheck = &dockerfile[healthcheck_at..];
    let command = healthcheck[healthcheck.find("CMD ").unwrap() + 4..]
        .lines()
        .next()
        .unwrap();
    let command: Vec<String> = serde_json::from_str(command).expect("exec-form HEALTHCHECK");
    assert_eq!(
        command,
        [entrypoint[0].clone(), "healthcheck".into()],
        "health via the binary"
    );

    // The runtime stage's ENV, continuation lines joined.
    let runtime_text = dockerfile[dockerfile.rfind("\nFROM ").unwrap()..].replace("\\\n", " ");
    let environment: Vec<&str> = runtime_text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ENV "))
        .flat_map(str::split_whitespace)
        .collect();
    assert!(
        environment.contains(&"FAULTLINE__ENVIRONMENT=prod"),
        "an image runs in prod unless its deployment says otherwise: {environment:?}"
    );

    let position = |needle: &str| {
        instructions
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("the Dockerfile has {needle}"))
    };
    let cook = position("cargo chef cook --release");
    let sources = instructions
        .iter()
        .enumerate()
        .skip(cook)
        .find(|(_, l)| **l == "COPY . .")
        .map(|(i, _)| i)
        .expect("sources copied after the dependency layer");
    assert!(
        cook < sources,
        "dependencies build before the sources are copied"
    );
    assert!(
        position("ARG SERVICE") > cook,
        "the dependency layer is shared by every service"
    );
    assert!(position("cargo build --release --locked --bin") > sources);

    let ignore = read(".dockerignore");
    assert_eq!(
        ignore.lines().find(|l| !l.starts_with('#')),
        Some("*"),
        ".dockerignore allow-lists"
    );
    for kept_out in [
        "target/debug/x",
        ".faultline/venv",
        "deploy/k8s/secrets.yaml",
        "docs/x.md",
    ] {
        assert!(
            !in_build_context(&ignore, kept_out),
            ".dockerignore keeps out {kept_out}"
        );
    }
    for file in embedded_files() {
        assert!(
            in_build_context(&ignore, &file),
            "{file} is compiled into a service (include_str!) but .dockerignore keeps it out"
        );
    }
}

/// Whether `.dockerignore` lets `path` into the build context: the last
/// matching line decides, `!` lets in. Handles the patterns this
/// repository uses (`*`, a path prefix, `**/name`, `**/*.ext`).
fn in_build_context(ignore: &str, path: &str) -> bool {
    let matches = |pattern: &str| {
        let pattern = pattern.trim_end_matches('/');
        if pattern == "*" {
            return true;
        }
        if let Some(any_depth) = pattern.strip_prefix("**/") {
            return match any_depth.strip_prefix('*') {
                Some(suffix) => path.ends_with(suffix),
                None => path.split('/').any(|component| component == any_depth),
            };
        }
        path == pattern || path.starts_with(&format!("{pattern}/"))
    };
    let mut included = true;
    for line in ignore.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.strip_prefix('!') {
            Some(pattern) if matches(pattern) => included = true,
            None if matches(line) => included = false,
            _ => {}
        }
    }
    included
}

/// Files the service crates embed with `include_str!` / `include_bytes!`,
/// relative to the workspace root.
fn embedded_files() -> Vec<String> {
    let root = manifests::repo_root();
    let mut files = Vec::new();
    let mut pending = vec![root.join("crates"), root.join("services")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for (_, rest) in source
                .match_indices("include_str!(\"")
                .chain(source.match_indices("include_bytes!(\""))
                .map(|(at, m)| (at, &source[at + m.len()..]))
            {
                let relative = &rest[..rest.find('"').unwrap()];
                let target = path.parent().unwrap().join(relative);
                let target = std::path::absolute(&target).unwrap();
                let mut normal = std::path::PathBuf::new();
                for component in target.components() {
                    match component {
                        std::path::Component::ParentDir => {
                            normal.pop();
                        }
                        other => normal.push(other),
                    }
                }
                let relative = normal.strip_prefix(&root).unwrap();
                files.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    assert!(
        files.iter().any(|f| f.starts_with("migrations/")),
        "found the embedded migrations"
    );
    files
}

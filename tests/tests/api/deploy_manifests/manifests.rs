//! Rendering the overlays and reading the objects they produce.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use super::OVERLAYS;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

pub fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The objects one overlay renders to.
#[derive(Debug)]
pub struct Manifests {
    pub overlay: &'static str,
    pub objects: Vec<Value>,
}

pub fn rendered(overlay: &str) -> &'static Manifests {
    static RENDERED: OnceLock<Vec<Manifests>> = OnceLock::new();
    RENDERED
        .get_or_init(|| OVERLAYS.iter().map(|o| render(o)).collect())
        .iter()
        .find(|m| m.overlay == overlay)
        .unwrap_or_else(|| panic!("no overlay {overlay}"))
}

fn render(overlay: &'static str) -> Manifests {
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let dir = repo_root().join("deploy/k8s/overlays").join(overlay);
    let output = match Command::new(&kubectl).arg("kustomize").arg(&dir).output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{kubectl}` was not found. These tests render deploy/k8s with `kubectl kustomize`: \
             run `make validate-deploy` (as root it installs Debian's kubernetes-client) or \
             install kubectl, or point KUBECTL at one, then run them again."
        ),
        Err(error) => panic!("cannot run `{kubectl} kustomize`: {error}"),
    };
    assert!(
        output.status.success(),
        "`{kubectl} kustomize {}` failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("kustomize prints UTF-8");
    let objects = serde_norway::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).expect("kustomize prints valid YAML"))
        .filter(|object| !object.is_null())
        .collect::<Vec<_>>();
    assert!(!objects.is_empty(), "overlay {overlay} renders nothing");
    Manifests { overlay, objects }
}

pub fn name_of(object: &Value) -> &str {
    object["metadata"]["name"]
        .as_str()
        .expect("every object has a name")
}

/// The service an object belongs to (`app.kubernetes.io/name`).
pub fn service_label(object: &Value) -> Option<&str> {
    str_at(object, "/metadata/labels/app.kubernetes.io~1name")
}

pub fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

pub fn list_at<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A Deployment or a Job: something that runs pods.
#[derive(Debug, Clone, Copy)]
pub struct Workload<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub object: &'a Value,
}

impl<'a> Workload<'a> {
    pub fn pod(&self) -> &'a Value {
        &self.object["spec"]["template"]["spec"]
    }

    pub fn pod_labels(&self) -> &'a Value {
        &self.object["spec"]["template"]["metadata"]["labels"]
    }

    pub fn label(&self, key: &str) -> &'a str {
        self.pod_labels()[key]
            .as_str()
            .unwrap_or_else(|| panic!("{} {} has no pod label {key}", self.kind, self.name))
    }

    /// The service this workload runs (`app.kubernetes.io/name`).
    pub fn service(&self) -> &'a str {
        self.label("app.kubernetes.io/name")
    }

    pub fn containers(&self) -> impl Iterator<Item = &'a Value> {
        list_at(self.pod(), "/containers")
            .iter()
            .chain(list_at(self.pod(), "/initContainers"))
    }

    pub fn only_container(&self) -> &'a Value {
        let containers = list_at(self.pod(), "/containers");
        assert_eq!(
            containers.len(),
            1,
            "{} {} runs one container",
            self.kind,
            self.name
        );
        &containers[0]
    }
}

impl Manifests {
    pub fn of_kind<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Value> + use<'a> {
        let kind = kind.to_owned();
        self.objects
            .iter()
            .filter(move |o| o["kind"] == kind.as_str())
    }

    pub fn find(&self, kind: &str, name: &str) -> Option<&Value> {
        self.of_kind(kind).find(|o| name_of(o) == name)
    }

    pub fn get(&self, kind: &str, name: &str) -> &Value {
        self.find(kind, name)
            .unwrap_or_else(|| panic!("{}: no {kind} {name}", self.overlay))
    }

    pub fn workloads(&self) -> Vec<Workload<'_>> {
        self.objects
            .iter()
            .filter(|o| o["kind"] == "Deployment" || o["kind"] == "Job")
            .map(|object| Workload {
                kind: object["kind"].as_str().unwrap(),
                name: name_of(object),
                object,
            })
            .collect()
    }

    pub fn deployments(&self) -> Vec<Workload<'_>> {
        self.workloads()
            .into_iter()
            .filter(|w| w.kind == "Deployment")
            .collect()
    }

    /// The Deployment of a service's main instance (not a v2 beside it).
    pub fn deployment(&self, service: &str) -> Workload<'_> {
        self.deployments()
            .into_iter()
            .find(|w| w.name == service)
            .unwrap_or_else(|| panic!("{}: no Deployment {service}", self.overlay))
    }

    /// The configuration a container starts with: its ConfigMaps in
    /// `envFrom` order (later ones win), then literal `env` values.
    pub fn configuration(&self, container: &Value) -> BTreeMap<String, String> {
        let mut config = BTreeMap::new();
        for source in list_at(container, "/envFrom") {
            let name = str_at(source, "/configMapRef/name").expect("envFrom uses ConfigMaps only");
            let map = self.get("ConfigMap", name);
            for (key, value) in map["data"].as_object().expect("ConfigMap has data") {
                config.insert(key.clone(), value.as_str().unwrap().to_owned());
            }
        }
        for variable in list_at(container, "/env") {
            if let Some(value) = variable["value"].as_str() {
                config.insert(
                    variable["name"].as_str().unwrap().to_owned(),
                    value.to_owned(),
                );
            }
        }
        config
    }

    pub fn network_policies_selecting<'a>(
        &'a self,
        labels: &'a Value,
    ) -> impl Iterator<Item = &'a Value> {
        self.of_kind("NetworkPolicy")
            .filter(move |p| selects(&p["spec"]["podSelector"], labels))
    }
}

/// Whether a label selector (`matchLabels` and `matchExpressions`) selects
/// these labels. An empty selector selects everything.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    let match_labels = selector["matchLabels"].as_object().into_iter().flatten();
    let expressions = list_at(selector, "/matchExpressions");
    match_labels
        .into_iter()
        .all(|(key, value)| label(key) == value.as_str())
        && expressions.iter().all(|expression| {
            let key = expression["key"].as_str().unwrap();
            let values: Vec<&str> = list_at(expression, "/values")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            match (expression["operator"].as_str().unwrap(), label(key)) {
                ("In", Some(value)) => values.contains(&value),
                ("NotIn", value) => value.is_none_or(|v| !values.contains(&v)),
                ("Exists", value) => value.is_some(),
                ("DoesNotExist", value) => value.is_none(),
                _ => false,
            }
        })
}

pub fn policy_types(policy: &Value) -> Vec<&str> {
    list_at(policy, "/spec/policyTypes")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

pub fn has_port(rule: &Value, wanted: &[Value]) -> bool {
    list_at(rule, "/ports")
        .iter()
        .any(|p| wanted.contains(&p["port"]))
}

/// The container port with this name, as a number.
pub fn container_port(container: &Value, name: &str) -> Option<u64> {
    list_at(container, "/ports")
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_u64())
}

pub fn config_number(config: &BTreeMap<String, String>, key: &str, default: u64) -> u64 {
    config.get(key).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{key}={v} is not a number"))
    })
}

/// kustomize appends a content hash to generated ConfigMap names.
pub fn without_hash(name: &str) -> &str {
    name.rsplit_once('-')
        .filter(|(_, hash)| hash.len() == 10 && hash.chars().all(|c| c.is_ascii_alphanumeric()))
        .map_or(name, |(base, _)| base)
}

//! The shape every service crate keeps, so a newcomer who learned one knows
//! where everything is in the next: the same top-level modules, SQL only in
//! the repository (and background jobs), no source file past 600 lines, and
//! one integration-test binary per crate.

use std::path::{Path, PathBuf};

/// The longest a production source file may grow before it is split.
const MAX_SOURCE_LINES: usize = 600;

/// What `main.rs` may hold besides calling `build`: a few admin commands.
const MAX_MAIN_LINES: usize = 120;

/// Calls that run SQL on a `TenantTx` (or any PostgreSQL client).
const SQL_CALLS: &[&str] = &[
    ".query(",
    ".query_one(",
    ".query_opt(",
    ".execute(",
    ".batch_execute(",
];

/// Where SQL may be written in a service that keeps data.
const SQL_HOMES: &[&str] = &["repository", "jobs"];

struct ServiceCrate {
    dir: &'static str,
    /// Services that own a schema have a repository; the gateway does not.
    keeps_data: bool,
}

const SERVICES: &[ServiceCrate] = &[
    ServiceCrate {
        dir: "services/auth",
        keeps_data: true,
    },
    ServiceCrate {
        dir: "services/project",
        keeps_data: true,
    },
    ServiceCrate {
        dir: "services/failure",
        keeps_data: true,
    },
    ServiceCrate {
        dir: "services/analytics",
        keeps_data: true,
    },
    ServiceCrate {
        dir: "services/integration-gateway",
        keeps_data: true,
    },
    ServiceCrate {
        dir: "services/api-gateway",
        keeps_data: false,
    },
    ServiceCrate {
        dir: "services/web",
        keeps_data: false,
    },
];

/// Crates with integration tests of their own.
const TESTED_CRATES: &[&str] = &[
    "services/auth",
    "services/project",
    "services/failure",
    "services/analytics",
    "services/integration-gateway",
    "services/api-gateway",
    "services/web",
    "crates/tenant-core",
    "tests",
];

fn root() -> PathBuf {
    test_support::workspace_root()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_service_has_the_same_top_level_modules() {
    let mut missing = Vec::new();
    for service in SERVICES {
        let src = root().join(service.dir).join("src");
        let mut expected = vec![
            "lib.rs",
            "main.rs",
            "settings.rs",
            "error.rs",
            "routes/mod.rs",
        ];
        if service.keeps_data {
            expected.extend(["domain/mod.rs", "repository/mod.rs"]);
        }
        for file in expected {
            if !src.join(file).is_file() {
                missing.push(format!("{}/src/{file}", service.dir));
            }
        }
        // Background work, where there is some, is a folder like the rest.
        if src.join("jobs.rs").exists() {
            missing.push(format!("{}/src/jobs/mod.rs (not jobs.rs)", service.dir));
        }
        let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
        if !lib.contains("pub async fn build(") {
            missing.push(format!("{}/src/lib.rs: `pub async fn build`", service.dir));
        }
        if service.keeps_data {
            for item in ["pub const MIGRATIONS", "pub static SPEC"] {
                if !lib.contains(item) {
                    missing.push(format!("{}/src/lib.rs: `{item}`", service.dir));
                }
            }
        }
        let main = std::fs::read_to_string(src.join("main.rs")).unwrap_or_default();
        if main.lines().count() > MAX_MAIN_LINES {
            missing.push(format!(
                "{}/src/main.rs is over {MAX_MAIN_LINES} lines: building the app belongs in lib.rs",
                service.dir
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "missing from the layout:\n{}",
        missing.join("\n")
    );
}

#[test]
fn sql_runs_only_in_repositories_and_jobs() {
    let mut misplaced = Vec::new();
    for service in SERVICES.iter().filter(|service| service.keeps_data) {
        let src = root().join(service.dir).join("src");
        for file in rust_files(&src) {
            let inside = file.strip_prefix(&src).unwrap_or(&file);
            let top = inside
                .components()
                .next()
                .and_then(|part| part.as_os_str().to_str())
                .unwrap_or_default();
            // Unit tests' fixtures (stack traces, SQL quoted in a message)
            // are text, not calls.
            let is_test = inside.components().any(|part| part.as_os_str() == "tests")
                || inside
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name == "tests.rs" || name.ends_with("_tests.rs"));
            if SQL_HOMES.contains(&top) || is_test {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for (number, line) in text.lines().enumerate() {
                if SQL_CALLS.iter().any(|call| line.contains(call)) {
                    misplaced.push(format!(
                        "{}:{}: {}",
                        relative(&file),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        misplaced.is_empty(),
        "SQL outside repository/ and jobs/:\n{}",
        misplaced.join("\n")
    );
}

#[test]
fn no_production_source_file_is_over_600_lines() {
    let mut long = Vec::new();
    for dir in ["services", "crates", "bench/src"] {
        for file in rust_files(&root().join(dir)) {
            let path = relative(&file);
            // Integration tests are not production code.
            if path.contains("/tests/") || path.ends_with("/tests.rs") {
                continue;
            }
            let lines = std::fs::read_to_string(&file)
                .unwrap_or_default()
                .lines()
                .count();
            if lines > MAX_SOURCE_LINES {
                long.push(format!("{path}: {lines} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these by concern (at most {MAX_SOURCE_LINES} lines each):\n{}",
        long.join("\n")
    );
}

#[test]
fn each_crate_has_one_integration_test_binary_and_says_why_of_any_other() {
    let mut problems = Vec::new();
    for krate in TESTED_CRATES {
        let tests = root().join(krate).join("tests");
        if !tests.join("api/main.rs").is_file() {
            problems.push(format!("{krate}/tests/api/main.rs is missing"));
        }
        let Ok(entries) = std::fs::read_dir(&tests) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_binary = path.extension().is_some_and(|ext| ext == "rs")
                || (path.is_dir() && path.join("main.rs").is_file() && !path.ends_with("api"));
            if !is_binary {
                continue;
            }
            // Another binary is for a test that acts on its whole process
            // (signals, the global subscriber, the allocator); its module
            // docs say so.
            let main = if path.is_dir() {
                path.join("main.rs")
            } else {
                path.clone()
            };
            let docs: String = std::fs::read_to_string(&main)
                .unwrap_or_default()
                .lines()
                .take_while(|line| line.starts_with("//!"))
                .map(|line| line.trim_start_matches("//!").trim())
                .collect::<Vec<_>>()
                .join(" ");
            if !docs.contains("of its own") {
                problems.push(format!(
                    "{}: a test binary beside tests/api must say in its module docs why it needs a process of its own",
                    relative(&path)
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

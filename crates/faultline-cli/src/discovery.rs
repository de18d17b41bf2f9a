//! Finding the report files a command line names: files as they are,
//! directories searched for `*.xml` (JUnit reports; a directory's JSON
//! files are too often something else), and glob patterns (`*`, `?`, and
//! `**` for any number of directories) for anything else. Searches skip
//! hidden directories (`.git`, `.gradle`) and `node_modules`, whose XML
//! files are never a run's reports.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::error::CliError;

/// How the server reads a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// JUnit XML: many go into one zip archive.
    JunitXml,
    /// A JSON batch (`{"results": [...]}`): sent on its own.
    JsonBatch,
}

/// One report file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    pub path: PathBuf,
    /// The name it has in an archive and in messages: relative to the
    /// working directory when it is under it, with `/` separators.
    pub name: String,
    pub kind: ReportKind,
}

/// Every report `patterns` name, each once, ordered by name; an error
/// listing the patterns when there is none.
pub fn find_reports(patterns: &[String], cwd: &Path) -> Result<Vec<ReportFile>, CliError> {
    let mut found: BTreeMap<PathBuf, ReportFile> = BTreeMap::new();
    for pattern in patterns {
        let path = cwd.join(pattern);
        let mut add = |path: PathBuf| {
            let key = path.canonicalize().unwrap_or_else(|_| path.clone());
            found.entry(key).or_insert_with(|| report(&path, cwd));
        };
        if path.is_file() {
            add(path);
        } else if path.is_dir() {
            for file in walk(&path) {
                if has_extension(&file, "xml") {
                    add(file);
                }
            }
        } else if is_glob(pattern) {
            for file in glob(pattern, cwd) {
                add(file);
            }
        }
    }
    if found.is_empty() {
        return Err(CliError::NoReports {
            patterns: patterns.iter().map(|p| format!("`{p}`")).collect(),
        });
    }
    let mut reports: Vec<ReportFile> = found.into_values().collect();
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    dedupe_names(&mut reports);
    Ok(reports)
}

fn report(path: &Path, cwd: &Path) -> ReportFile {
    let name = display_name(path, cwd);
    let kind = if has_extension(path, "json") {
        ReportKind::JsonBatch
    } else {
        ReportKind::JunitXml
    };
    ReportFile {
        path: path.to_path_buf(),
        name,
        kind,
    }
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case(extension))
}

/// The path relative to `cwd` when it is under it, else as given, with
/// `/` separators and no `.` segments.
fn display_name(path: &Path, cwd: &Path) -> String {
    let relative = path.strip_prefix(cwd).unwrap_or(path);
    let parts: Vec<String> = relative
        .components()
        .filter_map(|component| match component {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// Two files may end up with one name (`../a/x.xml` and `a/x.xml` from
/// another directory); an archive needs distinct entries.
fn dedupe_names(reports: &mut [ReportFile]) {
    let mut seen = std::collections::HashSet::new();
    for report in reports.iter_mut() {
        let mut name = report.name.clone();
        let mut n = 2;
        while !seen.insert(name.clone()) {
            name = format!("{}~{n}", report.name);
            n += 1;
        }
        report.name = name;
    }
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Every file under `dir`, in no particular order; unreadable directories
/// are skipped, symbolic links to directories are not followed.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if !name.starts_with('.') && name != "node_modules" {
                    pending.push(entry.path());
                }
            } else if kind.is_file() || (kind.is_symlink() && entry.path().is_file()) {
                files.push(entry.path());
            }
        }
    }
    files
}

/// The files matching `pattern`, relative to `cwd` unless absolute.
fn glob(pattern: &str, cwd: &Path) -> Vec<PathBuf> {
    let absolute = pattern.starts_with('/');
    let segments: Vec<&str> = pattern
        .split('/')
        .filter(|segment| !segment.is_empty() && *segment != ".")
        .collect();
    let literal = segments
        .iter()
        .take_while(|segment| !is_glob(segment))
        .count();
    let mut base = if absolute {
        PathBuf::from("/")
    } else {
        cwd.to_path_buf()
    };
    for segment in &segments[..literal] {
        base.push(segment);
    }
    let rest = &segments[literal..];
    if rest.is_empty() || !base.is_dir() {
        return Vec::new();
    }
    walk(&base)
        .into_iter()
        .filter(|file| {
            let Ok(relative) = file.strip_prefix(&base) else {
                return false;
            };
            let parts: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            matches_segments(rest, &parts)
        })
        .collect()
}

/// Whether path segments match pattern segments, `**` matching any
/// number of them.
fn matches_segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| matches_segments(rest, &path[skip..])),
        Some((segment, rest)) => path.split_first().is_some_and(|(part, path_rest)| {
            matches_name(segment.as_bytes(), part.as_bytes()) && matches_segments(rest, path_rest)
        }),
    }
}

/// One segment: `*` any run of characters, `?` one.
fn matches_name(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| matches_name(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && matches_name(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && matches_name(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "faultline-cli-discovery-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        for file in [
            "a/target/surefire-reports/TEST-One.xml",
            "a/target/surefire-reports/TEST-Two.xml",
            "a/target/surefire-reports/notes.txt",
            "b/build/test-results/TEST-Three.xml",
            "b/package.json",
            ".git/hooks/TEST-Hidden.xml",
            "node_modules/x/TEST-Dependency.xml",
            "results.json",
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "<testsuite/>").unwrap();
        }
        root
    }

    fn names(reports: &[ReportFile]) -> Vec<&str> {
        reports.iter().map(|report| report.name.as_str()).collect()
    }

    #[test]
    fn a_directory_gives_its_xml_files_and_a_named_json_file_is_a_batch() {
        let root = tree();
        let reports = find_reports(&["b".to_owned(), "results.json".to_owned()], &root).unwrap();
        assert_eq!(
            names(&reports),
            ["b/build/test-results/TEST-Three.xml", "results.json"]
        );
        assert_eq!(reports[1].kind, ReportKind::JsonBatch);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn double_star_globs_match_any_depth_and_files_count_once() {
        let root = tree();
        let reports = find_reports(
            &[
                "**/TEST-*.xml".to_owned(),
                "a/target/surefire-reports/TEST-One.xml".to_owned(),
            ],
            &root,
        )
        .unwrap();
        assert_eq!(
            names(&reports),
            [
                "a/target/surefire-reports/TEST-One.xml",
                "a/target/surefire-reports/TEST-Two.xml",
                "b/build/test-results/TEST-Three.xml",
            ]
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn nothing_found_lists_every_pattern() {
        let root = tree();
        let error =
            find_reports(&["missing/*.xml".to_owned(), "none".to_owned()], &root).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no report files found for `missing/*.xml`, `none`"
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn name_patterns_match_stars_and_question_marks() {
        assert!(matches_name(b"TEST-*.xml", b"TEST-a.b.C.xml"));
        assert!(matches_name(b"?.xml", b"a.xml"));
        assert!(!matches_name(b"TEST-*.xml", b"TEST-a.json"));
        assert!(matches_segments(&["**", "*.xml"], &["x.xml"]));
        assert!(!matches_segments(&["*", "*.xml"], &["x.xml"]));
    }
}

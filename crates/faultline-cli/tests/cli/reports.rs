//! Report files for the tests: the JUnit corpus of real reports and
//! generated Surefire-style ones with known counts.

use std::path::{Path, PathBuf};

use crate::platform::TempDir;

/// Corpus files the server refuses (services/failure/tests/api/corpus.rs).
const REFUSED: &[&str] = &[
    "corrupt-junit__e2e-tests__corrupt__target__sf-reports__TEST-test.CorruptTest.xml",
    "dotnet-nunit.xml",
    "external_nunit-sample.xml",
];

fn corpus_root() -> PathBuf {
    test_support::workspace_root().join("services/failure/tests/fixtures/junit")
}

/// Every corpus report the server ingests, relative to the corpus root.
pub fn corpus_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for runner in std::fs::read_dir(corpus_root()).unwrap() {
        let runner = runner.unwrap().path();
        if !runner.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&runner).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_str().unwrap().to_owned();
            if name.ends_with(".xml") && !REFUSED.contains(&name.as_str()) {
                files.push(file.strip_prefix(corpus_root()).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// A Surefire report of one class: `passing` passing tests and `failing`
/// failing ones.
pub fn surefire_report(class: &str, passing: usize, failing: usize) -> String {
    let mut cases = String::new();
    for n in 0..passing {
        cases.push_str(&format!(
            "  <testcase classname=\"{class}\" name=\"passes_{n}\" time=\"0.01\"/>\n"
        ));
    }
    for n in 0..failing {
        cases.push_str(&format!(
            "  <testcase classname=\"{class}\" name=\"fails_{n}\" time=\"0.02\">\n    \
             <failure message=\"expected {n} but was {}\" type=\"java.lang.AssertionError\">\
             java.lang.AssertionError: expected {n}\n\tat {class}.fails_{n}({}.java:{})\n</failure>\n  \
             </testcase>\n",
            n + 1,
            class.rsplit('.').next().unwrap(),
            10 + n
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{class}\" tests=\"{}\" \
         failures=\"{failing}\" errors=\"0\" skipped=\"0\">\n{cases}</testsuite>\n",
        passing + failing
    )
}

/// Writes `count` generated reports of 3 tests (one failing in every
/// tenth) under `dir/module-*/target/surefire-reports/`; returns their
/// (tests, failures).
pub fn write_generated(dir: &TempDir, count: usize) -> (usize, usize) {
    let (mut tests, mut failures) = (0, 0);
    for n in 0..count {
        let failing = usize::from(n % 10 == 0);
        let class = format!("com.example.module{}.Generated{n}Test", n % 7);
        dir.write(
            &format!("module-{}/target/surefire-reports/TEST-{class}.xml", n % 7),
            &surefire_report(&class, 3 - failing, failing),
        );
        tests += 3;
        failures += failing;
    }
    (tests, failures)
}

/// A directory with every ingestible corpus report and generated ones,
/// `total` files in all.
pub fn corpus_build(total: usize) -> TempDir {
    let dir = TempDir::new("corpus");
    let corpus = corpus_files();
    for file in &corpus {
        let target = dir.path().join("corpus").join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(corpus_root().join(file), target).unwrap();
    }
    write_generated(&dir, total - corpus.len());
    dir
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// A zip archive of every file under `dir`, made here rather than by the
/// command, as the reference a command's upload is compared with.
pub fn zip_of(dir: &Path) -> Vec<u8> {
    use std::io::Write;
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for file in files_under(dir) {
        archive
            .start_file(
                file.to_str().unwrap(),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        archive
            .write_all(&std::fs::read(dir.join(&file)).unwrap())
            .unwrap();
    }
    archive.finish().unwrap().into_inner()
}

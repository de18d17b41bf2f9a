//! Which frames are the project's own code.
//!
//! A failure's fingerprint is made of the frames the project wrote: the
//! frames of the JDK, of the test runner or of a mocking library are the
//! same for every failure that passes through them, and change with their
//! versions rather than with the project's code.

use super::frames::Frame;
use Namespace::{Function, Module, PathPart, PathPrefix};

/// A project's setting: the package or path prefixes of its own code
/// (`com.shop.`, `shop::`, `/app/src/`, `src/`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InAppRules {
    pub prefixes: Vec<String>,
}

impl InAppRules {
    /// With prefixes, a frame is in-app when its module or its file starts
    /// with one of them (a file printed relative, `./src/cart.rs`, is read
    /// without its `./`). Without, a frame is in-app unless it belongs to
    /// one of the [`FRAMEWORKS`]. A frame with neither module nor file
    /// (`Promise.all (index 0)`, `[native code]`, `<unknown>`) is built-in
    /// code and never in-app.
    pub fn is_in_app(&self, frame: &Frame) -> bool {
        let file = frame
            .file
            .as_deref()
            .map(|file| file.strip_prefix("./").unwrap_or(file));
        if frame.module.is_empty() && file.is_none() {
            return false;
        }
        if self.prefixes.iter().any(|prefix| !prefix.is_empty()) {
            return self
                .prefixes
                .iter()
                .filter(|prefix| !prefix.is_empty())
                .any(|prefix| {
                    frame.module.starts_with(prefix.as_str())
                        || file.is_some_and(|file| file.starts_with(prefix.as_str()))
                });
        }
        !FRAMEWORKS
            .iter()
            .any(|(namespace, _)| namespace.matches(frame, file))
    }
}

/// How a framework's frames are recognised.
#[derive(Debug, Clone, Copy)]
pub enum Namespace {
    /// The module starts with this (`java.`, `std::`), or is this without
    /// its final `.` or `::` (Go's package `runtime`).
    Module(&'static str),
    /// The file's path contains this (`site-packages`, `node_modules`).
    PathPart(&'static str),
    /// The file's path starts with this (`node:`, `<frozen `).
    PathPrefix(&'static str),
    /// The function is this (`<unknown>`).
    Function(&'static str),
}

impl Namespace {
    fn matches(self, frame: &Frame, file: Option<&str>) -> bool {
        match self {
            Self::Module(prefix) => {
                frame.module.starts_with(prefix)
                    || frame.module == prefix.trim_end_matches(['.', ':'])
            }
            Self::PathPart(part) => file.is_some_and(|file| file.contains(part)),
            Self::PathPrefix(prefix) => file.is_some_and(|file| file.starts_with(prefix)),
            Self::Function(function) => frame.function == function,
        }
    }
}

/// The framework, runtime and test-runner code no project writes: the
/// frames [`InAppRules::is_in_app`] leaves out when a project names no
/// prefixes. Each entry says whose code it is.
#[rustfmt::skip]
pub const FRAMEWORKS: &[(Namespace, &str)] = &[
    // JVM: the JDK and the languages' runtimes.
    (Module("java."),                       "JDK"),
    (Module("javax."),                      "JDK"),
    (Module("jdk."),                        "JDK (reflection, proxies)"),
    (Module("sun."),                        "JDK"),
    (Module("com.sun."),                    "JDK"),
    (Module("kotlin."),                     "Kotlin runtime"),
    (Module("kotlinx.coroutines"),          "Kotlin coroutines"),
    (Module("_COROUTINE."),                 "Kotlin coroutines' debug boundary"),
    (Module("scala."),                      "Scala runtime"),
    // JVM: test runners, assertions, mocks, proxies, build tools.
    (Module("org.junit"),                   "JUnit 4 and 5"),
    (Module("junit."),                      "JUnit 3"),
    (Module("org.opentest4j."),             "JUnit 5 assertion errors"),
    (Module("org.testng"),                  "TestNG"),
    (Module("org.apache.maven.surefire"),   "Maven Surefire"),
    (Module("org.gradle."),                 "Gradle test workers"),
    (Module("worker.org.gradle."),          "Gradle test workers"),
    (Module("com.intellij.rt."),            "IntelliJ test runner"),
    (Module("org.hamcrest"),                "Hamcrest"),
    (Module("org.assertj"),                 "AssertJ"),
    (Module("org.mockito"),                 "Mockito"),
    (Module("net.bytebuddy."),              "Byte Buddy (Mockito's mocks)"),
    (Module("org.springframework."),        "Spring, its test context and CGLIB proxies"),
    (Module("net.sf.cglib."),               "CGLIB proxies"),
    (Module("org.scalatest"),               "ScalaTest"),
    (Module("io.kotest"),                   "Kotest"),
    // JVM: libraries found in most traces (elsewhere, dependencies are
    // known by their installation path).
    (Module("org.apache."),                 "Apache libraries (Tomcat, Kafka, Commons)"),
    (Module("org.hibernate."),              "Hibernate"),
    (Module("org.postgresql."),             "PostgreSQL JDBC driver"),
    (Module("com.mysql."),                  "MySQL JDBC driver"),
    (Module("com.zaxxer.hikari."),          "HikariCP"),
    (Module("com.fasterxml.jackson."),      "Jackson"),
    (Module("io.netty."),                   "Netty"),
    (Module("reactor."),                    "Project Reactor"),
    (Module("okhttp3."),                    "OkHttp"),
    (Module("org.eclipse.jetty."),          "Jetty"),
    // Python.
    (PathPart("site-packages"),             "installed Python packages (pytest, pluggy, ...)"),
    (PathPart("dist-packages"),             "installed Python packages (Debian)"),
    (PathPart("/lib/python3."),             "Python standard library (unittest, ...)"),
    (PathPart("/lib/python2."),             "Python standard library"),
    (PathPart("\\Lib\\"),                   "Python standard library (Windows)"),
    (PathPart("/_pytest/"),                 "pytest"),
    (PathPart("/pluggy/"),                  "pytest's plugin system"),
    (PathPrefix("<frozen "),                "Python's frozen modules (importlib)"),
    // JavaScript and TypeScript.
    (PathPart("node_modules"),              "npm packages (jest, mocha, ...)"),
    (PathPrefix("node:"),                   "Node.js internals"),
    (PathPart("jest-circus"),               "Jest's runner"),
    (PathPart("jest-jasmine2"),             "Jest's older runner"),
    (PathPart("jest-runner"),               "Jest"),
    (PathPart("/mocha/lib/"),               "Mocha"),
    // Go.
    (Module("runtime."),                    "Go runtime"),
    (Module("testing."),                    "Go's testing package"),
    (Module("reflect."),                    "Go reflection"),
    (Module("github.com/stretchr/testify"), "testify"),
    (PathPart("/pkg/mod/"),                 "Go module cache (dependencies)"),
    (PathPart("/usr/local/go/src/"),        "Go standard library (official builds, Docker)"),
    (PathPart("/usr/lib/go"),               "Go standard library (Linux packages)"),
    (PathPart("/hostedtoolcache/go/"),      "Go standard library (GitHub Actions)"),
    (PathPart("/Cellar/go/"),               "Go standard library (Homebrew)"),
    (PathPart("/sdk/go1."),                 "Go standard library (`go install golang.org/dl/...`)"),
    // Rust.
    (Module("std::"),                       "Rust standard library"),
    (Module("core::"),                      "Rust core library"),
    (Module("alloc::"),                     "Rust alloc library"),
    (Module("test::"),                      "Rust test harness"),
    (Module("__rustc::"),                   "Rust panic entry points"),
    (Module("panic_unwind::"),              "Rust unwinding"),
    (Module("tokio::"),                     "Tokio runtime"),
    (Function("<unknown>"),                 "unresolved symbols"),
    (Function("rust_begin_unwind"),         "Rust panic entry point"),
    (PathPart("/rustc/"),                   "Rust standard library sources"),
    (PathPart("/.cargo/registry/"),         "crates.io dependencies"),
    // .NET.
    (Module("System."),                     ".NET base library"),
    (Module("Microsoft."),                  ".NET and MSTest"),
    (Module("NUnit."),                      "NUnit"),
    (Module("Xunit."),                      "xUnit"),
    (Module("xunit."),                      "xUnit"),
    (Module("MSTest."),                     "MSTest"),
    (Module("Castle."),                     "Castle DynamicProxy (Moq's proxies)"),
    (Module("Moq."),                        "Moq"),
    (Module("FluentAssertions."),           "FluentAssertions"),
    (Module("Newtonsoft."),                 "Json.NET"),
    (Module("Npgsql."),                     "Npgsql"),
    // Ruby.
    (PathPart("/gems/"),                    "installed gems"),
    (PathPart("/rspec-core"),               "RSpec"),
    (PathPart("/rspec-expectations"),       "RSpec"),
    (PathPart("/rspec-mocks"),              "RSpec"),
    (PathPart("/minitest-"),                "Minitest"),
    (PathPart("/lib/ruby/"),                "Ruby standard library"),
    (PathPrefix("<internal:"),              "Ruby core"),
    (Module("RSpec::"),                     "RSpec"),
    (Module("Minitest::"),                  "Minitest"),
];

#[cfg(test)]
mod tests;

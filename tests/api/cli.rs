//! The `rapport` binary: configuration errors, startup against an unreachable database,
//! zero-config tokens, migrations, and graceful shutdown.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rapport::auth::JwtKeys;

use crate::helpers::{postgres_url, TEST_SECRET};

fn rapport(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .expect("run rapport")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn invalid_configuration_stops_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("RAPPORT_ADDR", "nowhere")], "RAPPORT_ADDR"),
        (&[("DATABASE_URL", "postgres://postgres@127.0.0.1/x")], "RAPPORT_JWT_SECRET"),
        (&[("RAPPORT_JWT_SECRET", "short")], "RAPPORT_JWT_SECRET"),
        (&[("DATABASE_URL", "mysql://root@localhost/x")], "DATABASE_URL"),
        (&[("RAPPORT_DEFAULT_COUNTRY", "Atlantis")], "RAPPORT_DEFAULT_COUNTRY"),
    ];
    for (vars, variable) in cases {
        let output = rapport(dir.path(), &["serve"], vars);
        assert!(!output.status.success(), "{vars:?} must fail");
        let text = stderr(&output);
        assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
        assert!(text.starts_with("rapport: invalid configuration: ") && text.contains(variable), "{text}");
    }
}

#[test]
fn unreachable_postgres_at_startup_retries_then_exits_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = rapport(
        dir.path(),
        &["migrate"],
        &[
            ("DATABASE_URL", "postgres://postgres:secret@127.0.0.1:1/rapport"),
            ("RAPPORT_JWT_SECRET", TEST_SECRET),
            ("RAPPORT_DB_STARTUP_TIMEOUT", "2"),
        ],
    );
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("not reachable yet"), "it retried: {text}");
    assert!(
        text.contains(
            "rapport: cannot reach the database at postgres://postgres:***@127.0.0.1:1/rapport (gave up after"
        ),
        "{text}"
    );
    assert!(!text.contains("secret@"), "the password is not printed");
    assert!(started.elapsed() >= Duration::from_secs(2), "it retried for RAPPORT_DB_STARTUP_TIMEOUT");
}

#[test]
#[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
fn a_missing_postgres_database_fails_at_once() {
    let admin = postgres_url();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path("/rapport_no_such_database");
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = rapport(
        dir.path(),
        &["migrate"],
        &[("DATABASE_URL", url.as_str()), ("RAPPORT_JWT_SECRET", TEST_SECRET), ("RAPPORT_DB_STARTUP_TIMEOUT", "30")],
    );
    assert!(!output.status.success());
    assert!(stderr(&output).contains("does not exist"), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(20), "no retrying what cannot heal");
}

#[test]
fn token_without_configuration_uses_a_generated_secret_file() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [("DATABASE_URL", "sqlite://data.db")];
    let first = rapport(
        dir.path(),
        &["token", "--sub", "shop", "--scope", "customers:read customers:write", "--ttl", "1h"],
        &vars,
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let secret_path = dir.path().join("data.db.jwt-secret");
    let secret = std::fs::read_to_string(&secret_path).expect("secret file beside the database");
    assert_eq!(secret.trim().len(), 64, "256 bits, hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let keys = JwtKeys::new(secret.trim().as_bytes());
    let token = String::from_utf8(first.stdout).unwrap();
    let caller = keys.verify(token.trim()).expect("token signed with the file's secret");
    assert_eq!(caller.sub, "shop");
    assert!(caller.has(rapport::auth::Scope::CustomersWrite));
    assert!(!caller.has(rapport::auth::Scope::OrdersRead));

    let second = rapport(dir.path(), &["token", "--sub", "shop", "--scope", "admin"], &vars);
    let token = String::from_utf8(second.stdout).unwrap();
    assert!(keys.verify(token.trim()).is_ok(), "the same secret is reused");

    let unknown = rapport(dir.path(), &["token", "--sub", "x", "--scope", "customers:reed"], &vars);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("unknown scope `customers:reed`"));
    let bad_ttl = rapport(dir.path(), &["token", "--sub", "x", "--scope", "admin", "--ttl", "forever"], &vars);
    assert!(stderr(&bad_ttl).contains("--ttl"));
}

#[test]
fn token_signs_with_the_current_secret_during_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let current = "current-secret-0123456789abcdef0123456789abcdef";
    let vars =
        [("DATABASE_URL", "data.db"), ("RAPPORT_JWT_SECRET", current), ("RAPPORT_JWT_PREVIOUS_SECRETS", TEST_SECRET)];
    let output = rapport(dir.path(), &["token", "--sub", "shop", "--scope", "admin"], &vars);
    assert!(output.status.success(), "{}", stderr(&output));
    let token = String::from_utf8(output.stdout).unwrap();
    let kid = jsonwebtoken::decode_header(token.trim()).unwrap().kid;
    assert_eq!(kid, Some(rapport::auth::key_id(current.as_bytes())));
    assert!(JwtKeys::new(current.as_bytes()).verify(token.trim()).is_ok());
    assert!(JwtKeys::new(TEST_SECRET.as_bytes()).verify(token.trim()).is_err());

    let short = rapport(
        dir.path(),
        &["token", "--sub", "shop", "--scope", "admin"],
        &[("DATABASE_URL", "data.db"), ("RAPPORT_JWT_SECRET", current), ("RAPPORT_JWT_PREVIOUS_SECRETS", "too-short")],
    );
    assert!(!short.status.success());
    assert!(stderr(&short).contains("RAPPORT_JWT_PREVIOUS_SECRETS"), "{}", stderr(&short));
}

#[test]
fn openapi_subcommand_prints_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let output = rapport(dir.path(), &["openapi"], &[]);
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, serde_json::to_value(rapport::openapi::document()).unwrap());
}

#[test]
fn migrate_applies_migrations_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = rapport(dir.path(), &["migrate"], &[("DATABASE_URL", "fresh.db")]);
    assert!(sqlite.status.success(), "{}", stderr(&sqlite));
    assert!(String::from_utf8_lossy(&sqlite.stdout).contains("migrations are up to date"));
    assert!(dir.path().join("fresh.db").exists());
    let missing_dir = rapport(dir.path(), &["migrate"], &[("DATABASE_URL", "sqlite://no/such/dir/x.db")]);
    assert!(stderr(&missing_dir).contains("does not exist"), "{}", stderr(&missing_dir));
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn serve_answers_then_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .current_dir(dir.path())
        .env_clear()
        .env("RAPPORT_ADDR", &addr)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = None;
    for _ in 0..100 {
        if let Some(response) = http_get(port, "/readyz") {
            ready = Some(response);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let ready = ready.expect("the server answers");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(dir.path().join("rapport.db").exists(), "default SQLite file in the working directory");
    assert!(dir.path().join("rapport.db.jwt-secret").exists());

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let mut status = None;
    for _ in 0..100 {
        if let Some(exit) = child.try_wait().unwrap() {
            status = Some(exit);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("rapport did not stop on SIGTERM");
    });
    assert!(status.success(), "graceful stop exits 0: {status:?}");
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.contains("token signing secret"), "logs where the secret is: {logs}");
}

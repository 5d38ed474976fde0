//! Tells the test suite whether its PostgreSQL half runs: with `TEST_DATABASE_URL` set (or
//! under CI, where a missing database must fail the run) the PostgreSQL variants run;
//! without it they are reported as ignored, never as passed.
fn main() {
    println!("cargo:rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo:rerun-if-env-changed=CI");
    println!("cargo:rustc-check-cfg=cfg(postgres_tests)");
    let url_set = std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.trim().is_empty());
    let under_ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty());
    if url_set || under_ci {
        println!("cargo:rustc-cfg=postgres_tests");
    }
}

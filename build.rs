//! The build's identity for `--version`: the git commit it was built from, when there is one
//! (a package or a release artifact says which code it holds).

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown commit".to_string());
    println!("cargo:rustc-env=AWS_S3_COMMIT={commit}");
    // Only paths that exist: cargo takes a missing one as changed and reruns this script, and
    // relinks the crate, on every build (a clone without .git/packed-refs, a tarball). When
    // refs are packed later, .git/refs/heads changes too.
    println!("cargo:rerun-if-changed=build.rs");
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

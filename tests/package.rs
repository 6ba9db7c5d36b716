//! What the Debian package ships besides the binary: man pages and bash and zsh completions that `certfs package-assets` renders from the command line's own definition.

mod common;

use std::fs;
use std::process::Command;

use common::certfs_bin;

#[test]
fn package_assets_are_the_man_pages_and_completions_of_this_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(certfs_bin())
        .arg("package-assets")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |rel: &str| {
        fs::read_to_string(dir.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    let page = read("man/certfs.1");
    assert!(
        page.starts_with(".ie"),
        "roff: {}",
        &page[..80.min(page.len())]
    );
    assert!(page.contains("certfs"), "{page}");
    let mount_page = read("man/certfs-mount.1");
    for option in ["allow\\-other", "key\\-file", "smtp\\-password\\-file"] {
        assert!(mount_page.contains(option), "{option} in certfs-mount.1");
    }
    let bash = read("completions/certfs.bash");
    assert!(
        bash.contains("--key-file") && bash.contains("complete "),
        "{bash}"
    );
    let zsh = read("completions/_certfs");
    assert!(zsh.starts_with("#compdef certfs"), "{zsh}");
    assert!(zsh.contains("--allow-other"), "{zsh}");
    // The packaging word is not offered to users.
    assert!(!dir.path().join("man/certfs-package-assets.1").exists());
    assert!(!zsh.contains("package-assets"), "{zsh}");
}

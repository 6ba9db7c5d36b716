//! Tests of `serving_copy`: which directories `--export` takes, and what it writes of a certificate.

use super::*;

#[test]
fn an_empty_or_missing_directory_is_taken_and_marked() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("a/b");
    ServingCopy::open(&missing).unwrap();
    assert!(missing.join(MARKER).is_file());
    // A copy made before is taken again, whatever it holds.
    std::fs::create_dir(missing.join("prod")).unwrap();
    ServingCopy::open(&missing).unwrap();
    // Kept as an absolute path: a daemon may change its working directory.
    let roundabout = root.path().join("a/../a/b");
    let copy = ServingCopy::open(&roundabout).unwrap();
    assert_eq!(copy.root, missing.canonicalize().unwrap());
}

#[test]
fn a_file_or_a_directory_of_something_else_is_refused_by_name() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let e = ServingCopy::open(&file).err().unwrap();
    assert!(matches!(e, ExportDirError::NotADirectory(_)));
    assert!(e.to_string().contains("is not a directory"), "{e}");
    let used = root.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("notes"), "x").unwrap();
    let e = ServingCopy::open(&used).err().unwrap();
    assert!(matches!(e, ExportDirError::Foreign(_)));
    assert!(e.to_string().contains(MARKER), "{e}");
    let under_file = file.join("copy");
    let e = ServingCopy::open(&under_file).err().unwrap();
    assert!(e.to_string().contains("cannot"), "{e}");
}

#[test]
fn metrics_count_failing_certificates_and_failed_writes() {
    let root = tempfile::tempdir().unwrap();
    let copy = ServingCopy::open(root.path()).unwrap();
    assert!(copy.metrics().contains("certfs_serving_copy_failing 0\n"));
    let key = (
        VaultName::parse("prod").unwrap(),
        CertificateName::parse("web").unwrap(),
    );
    let e = AtomicDirError {
        doing: "write",
        path: root.path().join("prod/web"),
        source: io::Error::from(io::ErrorKind::StorageFull),
    };
    copy.failed(&key, &e);
    copy.failed(&key, &e);
    let text = copy.metrics();
    assert!(text.contains("certfs_serving_copy_failing 1\n"), "{text}");
    assert!(
        text.contains("certfs_serving_copy_write_failures_total 2\n"),
        "{text}"
    );
    copy.succeeded(&key);
    assert!(copy.metrics().contains("certfs_serving_copy_failing 0\n"));
}

//! Tests of `atomic_dir`: the layout, the swap, what a switch keeps and removes, foreign files left alone.

use super::*;
use std::os::unix::fs::MetadataExt;

fn file(name: &str, bytes: &str, mode: u32) -> FileSpec {
    FileSpec {
        name: name.into(),
        bytes: Arc::from(bytes.as_bytes()),
        mode,
        uid: None,
        gid: None,
        compare_bytes: true,
    }
}

const DIR: DirSpec = DirSpec {
    mode: 0o755,
    uid: None,
    gid: None,
};

fn data_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("..") && n != DATA_LINK)
        .collect();
    names.sort();
    names
}

#[test]
fn files_are_links_through_data_to_a_timestamped_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("v/c");
    let files = [
        file("cert.pem", "one", 0o444),
        file("privkey.pem", "key", 0o600),
    ];
    write(&dir, &DIR, &files).unwrap();
    assert!(is_atomic_dir(&dir));
    let target = fs::read_link(dir.join(DATA_LINK)).unwrap();
    assert!(target.to_string_lossy().starts_with("..20"), "{target:?}");
    assert_eq!(
        fs::read_link(dir.join("cert.pem")).unwrap(),
        Path::new("..data/cert.pem")
    );
    assert_eq!(fs::read(dir.join("privkey.pem")).unwrap(), b"key");
    let mode = |n: &str| fs::metadata(dir.join(n)).unwrap().mode() & 0o7777;
    assert_eq!(mode("privkey.pem"), 0o600);
    assert_eq!(mode("cert.pem"), 0o444);
    assert!(shows(&dir, &DIR, &files));
    assert!(!shows(&dir, &DIR, &[file("cert.pem", "one", 0o444)]));
    assert!(!shows(
        &dir,
        &DIR,
        &[file("cert.pem", "two", 0o444), files[1].clone()]
    ));
    assert!(!shows(
        &dir,
        &DIR,
        &[file("cert.pem", "one", 0o400), files[1].clone()]
    ));
    let mut salted = file("privkey.pem", "other", 0o600);
    salted.compare_bytes = false;
    assert!(shows(&dir, &DIR, &[files[0].clone(), salted]));
}

#[test]
fn a_switch_keeps_the_previous_directory_removes_older_ones_and_gone_names() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("c");
    write(&dir, &DIR, &[file("a", "1", 0o444), file("b", "1", 0o444)]).unwrap();
    let first = data_dirs(&dir);
    let mut open = File::open(dir.join("a")).unwrap();
    write(&dir, &DIR, &[file("a", "2", 0o444)]).unwrap();
    assert_eq!(fs::read(dir.join("a")).unwrap(), b"2");
    assert!(fs::symlink_metadata(dir.join("b")).is_err(), "b is gone");
    let second = data_dirs(&dir);
    assert_eq!(second.len(), 2);
    assert!(second.contains(&first[0]), "the previous one stays");
    write(&dir, &DIR, &[file("a", "3", 0o444)]).unwrap();
    let third = data_dirs(&dir);
    assert_eq!(third.len(), 2);
    assert!(!third.contains(&first[0]), "older ones go");
    let mut kept = String::new();
    open.read_to_string(&mut kept).unwrap();
    assert_eq!(kept, "1", "an open file keeps its bytes");
}

#[test]
fn remove_takes_what_it_made_and_leaves_foreign_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("c");
    write(&dir, &DIR, &[file("a", "1", 0o444)]).unwrap();
    write(&dir, &DIR, &[file("a", "2", 0o444)]).unwrap();
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    remove(&dir).unwrap();
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![OsString::from("notes.txt")]);
    fs::remove_file(dir.join("notes.txt")).unwrap();
    write(&dir, &DIR, &[file("a", "1", 0o444)]).unwrap();
    remove(&dir).unwrap();
    assert!(!dir.exists());
    remove(&dir).unwrap();
}

#[test]
fn a_directory_mode_is_set_and_failures_name_the_path() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("c");
    let spec = DirSpec {
        mode: 0o750,
        uid: None,
        gid: None,
    };
    write(&dir, &spec, &[file("a", "1", 0o444)]).unwrap();
    assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, 0o750);
    assert!(!shows(&dir, &DIR, &[file("a", "1", 0o444)]));
    fs::write(root.path().join("plain"), "x").unwrap();
    let e = write(&root.path().join("plain/c"), &DIR, &[file("a", "1", 0o444)]).unwrap_err();
    assert!(e.to_string().contains("plain"), "{e}");
}

//! Tests of `as_user`, run as root (as CI runs): files and directories of made-up uids, a FIFO, `/dev/zero`.
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

use super::*;
use std::os::unix::fs::{MetadataExt, chown};

const X: Identity = Identity {
    uid: 47101,
    gid: 47101,
    groups: Vec::new(),
};
const Y: Identity = Identity {
    uid: 47102,
    gid: 47102,
    groups: Vec::new(),
};

/// A directory every user may search (a temporary directory is 0700).
fn open_dir() -> tempfile::TempDir {
    // SAFETY: geteuid cannot fail and touches no memory.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "these tests act as other users: run them as root, as CI does"
    );
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// The calling thread's fsuid, unchanged by a call.
fn own_fsuid() -> i64 {
    // SAFETY: an invalid id changes nothing and returns the current fsuid.
    unsafe { libc::syscall(libc::SYS_setfsuid, u32::MAX) }
}

#[test]
fn a_file_only_uid_x_may_read_is_read_as_x_and_refused_to_y_like_a_missing_one() {
    let dir = open_dir();
    let file = dir.path().join("x-only.pem");
    fs::write(&file, b"x's bytes").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    chown(&file, Some(X.uid), Some(X.gid)).unwrap();

    assert_eq!(read_file(&X, &file, MAX_READ).unwrap(), b"x's bytes");
    let denied = read_file(&Y, &file, MAX_READ).unwrap_err();
    assert!(
        matches!(denied, AsUserError::Unreachable { .. }),
        "{denied:?}"
    );
    let missing_path = dir.path().join("nothing.pem");
    let missing = read_file(&Y, &missing_path, MAX_READ).unwrap_err();
    let same = |e: &AsUserError, p: &Path| e.to_string().replace(&p.display().to_string(), "P");
    assert_eq!(same(&denied, &file), same(&missing, &missing_path));
    assert_eq!(
        denied.to_string(),
        format!(
            "cannot open {} as user 47102: no such file, or that user may not read it",
            file.display()
        )
    );
    // The system's own reason is kept as the source (for logs).
    assert!(std::error::Error::source(&denied).is_some());
    // Root (the daemon's own user) reads it; this thread is still root.
    assert_eq!(
        read_file(&Identity::daemon(), &file, MAX_READ).unwrap(),
        b"x's bytes"
    );
    assert_eq!(own_fsuid(), 0);
}

#[test]
fn a_group_grant_is_honoured_through_the_supplementary_groups() {
    let dir = open_dir();
    let file = dir.path().join("group.pem");
    fs::write(&file, b"shared").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
    chown(&file, Some(X.uid), Some(47999)).unwrap();
    let member = Identity {
        groups: vec![47999],
        ..Y
    };
    let before = own_groups();
    assert_eq!(read_file(&member, &file, MAX_READ).unwrap(), b"shared");
    assert!(read_file(&Y, &file, MAX_READ).is_err());
    // Only the operation's own thread had those groups (not glibc's
    // process-wide setgroups).
    assert_eq!(own_groups(), before);
}

#[test]
fn a_fifo_a_device_and_a_directory_are_refused_at_once_as_not_regular_files() {
    let dir = open_dir();
    let fifo = dir.path().join("fifo");
    let c_path = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o666) }, 0);
    fs::set_permissions(&fifo, fs::Permissions::from_mode(0o666)).unwrap();
    // No writer ever comes: a blocking open would hang this test.
    for who in [&X, &Identity::daemon()] {
        let e = read_file(who, &fifo, MAX_READ).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{} is not a regular file (it is a FIFO)", fifo.display())
        );
        let e = read_file(who, Path::new("/dev/zero"), MAX_READ).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("is not a regular file (it is a character device)"),
            "{e}"
        );
        let e = read_file(who, dir.path(), MAX_READ).unwrap_err();
        assert!(e.to_string().ends_with("(it is a directory)"), "{e}");
    }
    let e = check_may_create(&X, &fifo, Path::new("a")).unwrap_err();
    assert!(
        e.to_string().ends_with("is not a directory (it is a FIFO)"),
        "{e}"
    );
}

#[test]
fn reads_are_bounded() {
    let dir = open_dir();
    let file = dir.path().join("big");
    fs::write(&file, vec![b'x'; 2048]).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(read_file(&X, &file, 2048).unwrap().len(), 2048);
    let e = read_file(&X, &file, 1024).unwrap_err();
    assert!(
        matches!(e, AsUserError::TooLarge { limit: 1024, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("larger than 1024 bytes"), "{e}");
}

#[test]
fn files_are_written_and_removed_only_where_the_user_may_write() {
    let dir = open_dir();
    let theirs = dir.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    chown(&theirs, Some(X.uid), Some(X.gid)).unwrap();
    let below = Path::new(".well-known/acme-challenge");

    check_may_create(&X, &theirs, below).unwrap();
    let e = check_may_create(&Y, &theirs, below).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("user 47102 may not create files in {}", theirs.display())
    );
    let missing = dir.path().join("none");
    let e = check_may_create(&X, &missing, below).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot open {} as user 47101: no such directory, or that user may not open it",
            missing.display()
        )
    );
    // One the user may not open (root's, 0700) looks the same.
    let closed = dir.path().join("closed");
    fs::create_dir(&closed).unwrap();
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o700)).unwrap();
    let e = check_may_create(&X, &closed, below).unwrap_err();
    assert!(matches!(e, AsUserError::Unreachable { .. }), "{e:?}");

    let written = write_file(&X, &theirs.join(below), "tok", b"tok.thumb", 0o644).unwrap();
    let meta = fs::metadata(&written).unwrap();
    assert_eq!(
        (meta.uid(), meta.permissions().mode() & 0o777),
        (X.uid, 0o644)
    );
    assert_eq!(fs::read(&written).unwrap(), b"tok.thumb");
    assert_eq!(fs::read_dir(written.parent().unwrap()).unwrap().count(), 1);
    // Once the directories exist, they decide.
    check_may_create(&X, &theirs, below).unwrap();
    assert!(check_may_create(&Y, &theirs, below).is_err());

    // Names stay inside the directory.
    for bad in ["../escape", "", "..", "a/b"] {
        assert!(
            write_file(&X, &theirs, bad, b"x", 0o644).is_err(),
            "{bad:?}"
        );
    }
    assert!(!dir.path().join("escape").exists());
    // Y may not write there, nor remove X's file.
    let e = write_file(&Y, &theirs.join(below), "other", b"x", 0o644).unwrap_err();
    assert!(matches!(e, AsUserError::NotWritable { .. }), "{e:?}");
    assert!(remove_file(&Y, &written).is_err());
    remove_file(&X, &written).unwrap();
    assert!(!written.exists());
    remove_file(&X, &written).unwrap();

    // A root-owned 0755 directory (like /etc/cron.d): nothing is made in it.
    let roots = dir.path().join("cron.d");
    fs::create_dir(&roots).unwrap();
    fs::set_permissions(&roots, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(matches!(
        check_may_create(&X, &roots, below),
        Err(AsUserError::NotWritable { .. })
    ));
    assert!(write_file(&X, &roots.join(below), "tok", b"x", 0o644).is_err());
    assert_eq!(fs::read_dir(&roots).unwrap().count(), 0);
    assert_eq!(own_fsuid(), 0);
}

#[test]
fn without_faccessat2_the_modes_decide_who_may_create_files() {
    let dir = open_dir();
    let sub = dir.path().join("w");
    fs::create_dir(&sub).unwrap();
    chown(&sub, Some(X.uid), Some(X.gid)).unwrap();
    let with_group = |gid: u32| Identity {
        uid: Y.uid,
        gid: Y.gid,
        groups: vec![gid],
    };
    for (mode, who, lets_in) in [
        (0o700, X.clone(), true),
        (0o700, Y.clone(), false),
        (0o500, X.clone(), false),
        (0o770, with_group(X.gid), true),
        (0o750, with_group(X.gid), false),
        (0o703, Y.clone(), true),
        (0o702, Y.clone(), false),
        (
            0o000,
            Identity {
                uid: 0,
                gid: 0,
                groups: Vec::new(),
            },
            true,
        ),
    ] {
        fs::set_permissions(&sub, fs::Permissions::from_mode(mode)).unwrap();
        let meta = fs::metadata(&sub).unwrap();
        assert_eq!(mode_lets_in(&who, &meta), lets_in, "{mode:o} for {who:?}");
    }
}

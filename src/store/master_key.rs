//! The master key that seals private keys and issuer secrets at rest: reading it from a key file (raw, hex or base64), refusing a file others can read, and creating the default one.
//!
//! # Key file format
//!
//! A key file holds 32 random bytes in one of three spellings, told apart
//! by the file's length:
//!
//! - exactly 32 bytes: the key itself, raw (`openssl rand 32 > certfs.key`;
//!   the default `master.key` is written this way);
//! - 64 hexadecimal digits (`openssl rand -hex 32 > certfs.key`);
//! - 44 characters of standard base64 with padding
//!   (`openssl rand -base64 32 > certfs.key`).
//!
//! In the text spellings, one trailing newline (`\n` or `\r\n`) is allowed.
//! Anything else is refused with a message that names the file and its
//! length, never its bytes.
//!
//! The file must not be accessible to group or others (like ssh's private
//! keys): a mode with any of the bits 0077 set is refused.

use std::error::Error;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

/// The length of a master key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// The largest key file read: long enough for base64 with `\r\n`.
const MAX_FILE_LEN: usize = 64 + 2;

/// The AES-256-GCM key under which [`super::encrypted::EncryptedStore`]
/// seals. Zeroed on drop; `Debug` prints `MasterKey(<elided>)`.
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<elided>)")
    }
}

/// Why a key file was not usable. Names the file, never its content.
#[derive(Debug)]
pub enum KeyFileError {
    /// The file does not exist.
    Missing(PathBuf),
    /// Group or others have access to it: its permission bits.
    TooOpen { path: PathBuf, mode: u32 },
    /// It cannot be read.
    Read { path: PathBuf, source: io::Error },
    /// It is not a regular file.
    NotAFile(PathBuf),
    /// It holds no key: how many bytes it has (`None`: more than any
    /// spelling of a key).
    NotAKey { path: PathBuf, len: Option<usize> },
    /// It cannot be created.
    Create { path: PathBuf, source: io::Error },
    /// No random numbers for a new key.
    NoRandom,
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Missing(path) => {
                write!(f, "the master key file {} does not exist", path.display())
            }
            KeyFileError::TooOpen { path, mode } => {
                let shown = path.display();
                write!(
                    f,
                    "the master key file {shown} is accessible by group or others \
                     (mode {mode:04o}); it must be private: chmod 600 {shown}"
                )
            }
            KeyFileError::Read { path, source } => {
                write!(
                    f,
                    "cannot read the master key file {}: {source}",
                    path.display()
                )
            }
            KeyFileError::NotAFile(path) => {
                write!(
                    f,
                    "the master key file {} is not a regular file",
                    path.display()
                )
            }
            KeyFileError::NotAKey { path, len } => {
                write!(f, "the master key file {} holds ", path.display())?;
                match len {
                    Some(len) => write!(f, "{len}")?,
                    None => write!(f, "more than {MAX_FILE_LEN}")?,
                }
                f.write_str(
                    " bytes that are not a key: \
                     expected 32 raw bytes, 64 hex digits or 44 base64 characters",
                )
            }
            KeyFileError::Create { path, source } => {
                write!(
                    f,
                    "cannot create the master key file {}: {source}",
                    path.display()
                )
            }
            KeyFileError::NoRandom => f.write_str("no random numbers for a master key"),
        }
    }
}

impl Error for KeyFileError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            KeyFileError::Read { source, .. } | KeyFileError::Create { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl MasterKey {
    /// A key from raw bytes (tests, and key material obtained elsewhere).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        MasterKey(Zeroizing::new(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, KeyFileError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        aws_lc_rs::rand::fill(&mut bytes[..]).map_err(|_| KeyFileError::NoRandom)?;
        Ok(MasterKey(bytes))
    }

    /// Reads the key from `path` (see the module's format). `Missing` if
    /// the file is absent, `TooOpen` if group or others may access it,
    /// `Read`, `NotAFile` or `NotAKey` if it cannot be read or holds no key.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let read = |source| KeyFileError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(KeyFileError::Missing(path.to_path_buf()));
            }
            Err(e) => return Err(read(e)),
        };
        let meta = file.metadata().map_err(read)?;
        if !meta.is_file() {
            return Err(KeyFileError::NotAFile(path.to_path_buf()));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
        let mut buf = Zeroizing::new([0u8; MAX_FILE_LEN + 1]);
        let mut len = 0;
        while len < buf.len() {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(read(e)),
            }
        }
        parse(&buf[..len])
            .map(MasterKey)
            .ok_or_else(|| KeyFileError::NotAKey {
                path: path.to_path_buf(),
                len: (len <= MAX_FILE_LEN).then_some(len),
            })
    }

    /// Reads the key at `path`, or creates it there when absent: 32 random
    /// bytes, raw, mode 0600 (the parent must exist). Returns the key and
    /// whether it was created now.
    ///
    /// Creation writes a temporary file beside `path` and hard-links it
    /// into place, so a crash never leaves a partial key and a concurrent
    /// creator's key is never replaced (the loser reads the winner's key).
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), KeyFileError> {
        match Self::load(path) {
            Err(KeyFileError::Missing(_)) => {}
            other => return other.map(|key| (key, false)),
        }
        let key = Self::generate()?;
        let mut salt = [0u8; 8];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| KeyFileError::NoRandom)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let salt: String = salt.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = dir.join(format!(".{name}.{}-{salt}.tmp", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&key.0[..]).and_then(|()| f.sync_all()));
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                // Best effort: make the new name durable.
                let _ = File::open(dir).and_then(|d| d.sync_all());
                Ok((key, true))
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Self::load(path).map(|k| (k, false)),
            Err(source) => Err(KeyFileError::Create {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The AEAD key for one seal or open.
    pub(super) fn aead(&self) -> LessSafeKey {
        // A 32-byte key is always valid for AES-256-GCM.
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.0[..]).expect("32 bytes make an AES-256 key"),
        )
    }
}

/// The key in a key file's bytes, in any of the three spellings.
fn parse(content: &[u8]) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if content.len() == KEY_LEN {
        key.copy_from_slice(content);
        return Some(key);
    }
    let text = content
        .strip_suffix(b"\r\n")
        .or_else(|| content.strip_suffix(b"\n"))
        .unwrap_or(content);
    match text.len() {
        64 => {
            for (i, pair) in text.chunks_exact(2).enumerate() {
                key[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
            }
            Some(key)
        }
        44 => {
            let mut out = Zeroizing::new([0u8; 33]);
            match B64.decode_slice(text, &mut out[..]) {
                Ok(KEY_LEN) => {
                    key.copy_from_slice(&out[..KEY_LEN]);
                    Some(key)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The value of one hexadecimal digit (either case).
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, content: &[u8], mode: u32) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn bytes(key: &MasterKey) -> [u8; KEY_LEN] {
        *key.0
    }

    #[test]
    fn raw_hex_and_base64_spellings_give_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let raw: [u8; KEY_LEN] = std::array::from_fn(|i| (i * 7 + 3) as u8);
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = B64.encode(raw);
        let spellings: Vec<(&str, Vec<u8>)> = vec![
            ("raw", raw.to_vec()),
            ("hex", hex.clone().into_bytes()),
            ("hex-nl", format!("{hex}\n").into_bytes()),
            (
                "HEX-crlf",
                format!("{}\r\n", hex.to_uppercase()).into_bytes(),
            ),
            ("b64", b64.clone().into_bytes()),
            ("b64-nl", format!("{b64}\n").into_bytes()),
        ];
        for (name, content) in spellings {
            let path = write(dir.path(), name, &content, 0o600);
            assert_eq!(bytes(&MasterKey::load(&path).unwrap()), raw, "{name}");
        }
    }

    #[test]
    fn files_that_hold_no_key_are_refused_without_their_content() {
        let dir = tempfile::tempdir().unwrap();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("short", vec![1; 31]),
            ("raw-nl", [vec![b'z'; 32], b"\n".to_vec()].concat()),
            ("bad-hex", vec![b'g'; 64]),
            ("bad-b64", vec![b'*'; 44]),
            ("b64-33", B64.encode([9u8; 33]).into_bytes()),
            ("long", vec![b'a'; 4096]),
        ];
        for (name, content) in cases {
            let path = write(dir.path(), name, &content, 0o400);
            let err = MasterKey::load(&path).unwrap_err();
            let KeyFileError::NotAKey { path: named, len } = &err else {
                panic!("{name}: {err:?}")
            };
            assert_eq!(named, &path);
            assert_eq!(
                *len,
                (content.len() <= MAX_FILE_LEN).then_some(content.len())
            );
            let message = err.to_string();
            assert!(message.contains(&*path.to_string_lossy()), "{message}");
            assert!(message.contains("not a key"), "{message}");
            assert!(!message.contains("zzzz") && !message.contains("gggg"));
        }
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660, 0o601] {
            let path = write(dir.path(), "k", &[5; 32], mode);
            let err = MasterKey::load(&path).unwrap_err();
            assert!(
                matches!(err, KeyFileError::TooOpen { mode: m, .. } if m == mode),
                "{mode:o}: {err:?}"
            );
            assert!(err.to_string().contains("chmod 600"), "{err}");
            assert!(err.to_string().contains(&format!("{mode:04o}")), "{err}");
        }
        let path = write(dir.path(), "k", &[5; 32], 0o400);
        assert!(MasterKey::load(&path).is_ok());
    }

    #[test]
    fn a_missing_file_is_missing_and_load_or_create_makes_it_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        assert!(matches!(
            MasterKey::load(&path),
            Err(KeyFileError::Missing(_))
        ));
        let (first, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o600);
        assert_eq!(meta.len(), 32);
        let (again, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(bytes(&first), bytes(&again));
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left");
        let other = MasterKey::load_or_create(&dir.path().join("other.key"))
            .unwrap()
            .0;
        assert_ne!(bytes(&first), bytes(&other));
    }

    #[test]
    fn io_failures_keep_the_os_error_and_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // A path through a regular file does not open: ENOTDIR.
        let file = write(dir.path(), "file", b"", 0o600);
        let through = file.join("master.key");
        let err = MasterKey::load(&through).unwrap_err();
        let io = err
            .source()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .unwrap_or_else(|| panic!("no I/O error under {err:?}"));
        assert_eq!(io.kind(), ErrorKind::NotADirectory, "{err:?}");
        assert!(
            err.to_string().contains(&*through.to_string_lossy()),
            "{err}"
        );
        // A directory is not a key file, and there is no OS error to keep.
        let err = MasterKey::load(dir.path()).unwrap_err();
        assert!(matches!(err, KeyFileError::NotAFile(_)), "{err:?}");
        assert!(err.source().is_none());
        // No parent directory: the new key cannot be created.
        let path = dir.path().join("missing").join("master.key");
        let err = MasterKey::load_or_create(&path).unwrap_err();
        assert!(
            matches!(&err, KeyFileError::Create { path: p, .. } if p == &path),
            "{err:?}"
        );
        assert!(err.source().is_some_and(|s| s.is::<io::Error>()), "{err:?}");
        assert!(
            err.to_string().starts_with(&format!(
                "cannot create the master key file {}: ",
                path.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn debug_shows_no_key() {
        let key = MasterKey::from_bytes([0xab; KEY_LEN]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "MasterKey(<elided>)");
    }
}

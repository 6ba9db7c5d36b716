//! Helpers for tests that check pki output with the real `openssl` and Python `cryptography`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a tool printed.
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program args`, feeding `stdin`.
pub fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `/usr/bin/openssl args` and insists that it succeeds.
pub fn openssl(args: &[&str]) -> String {
    let out = run("/usr/bin/openssl", args, b"");
    assert!(
        out.ok,
        "openssl {args:?} failed:\n{}\n{}",
        out.stdout, out.stderr
    );
    out.stdout + &out.stderr
}

/// Writes `bytes` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

/// A root, an intermediate and a leaf certificate made by `openssl`, each
/// with its key, in a temporary directory: `root.pem`, `inter.pem`,
/// `leaf.pem` and their keys `root.key`, `inter.key`, `leaf.key` (PKCS#8).
pub struct Chain {
    pub dir: tempfile::TempDir,
}

impl Chain {
    /// Makes the chain; `leaf_key` is `rsa` (2048) or a curve (`P-256`, `P-384`, `P-521`).
    pub fn new(leaf_key: &str) -> Chain {
        let chain = Chain {
            dir: tempfile::tempdir().unwrap(),
        };
        let ca_ext = write(
            chain.dir.path(),
            "ca.ext",
            b"basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
        );
        let leaf_ext = write(
            chain.dir.path(),
            "leaf.ext",
            b"basicConstraints=CA:FALSE\nsubjectAltName=DNS:leaf.example.com\n",
        );
        let p = |name: &str| chain.path(name);
        let key_args = |name: &str, kind: &str| -> Vec<String> {
            let mut args = vec!["genpkey".to_string(), "-out".into(), p(name)];
            if kind == "rsa" {
                args.extend(
                    ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"].map(String::from),
                );
            } else {
                args.extend(["-algorithm", "EC", "-pkeyopt"].map(String::from));
                args.push(format!("ec_paramgen_curve:{kind}"));
            }
            args
        };
        for (name, kind) in [
            ("root.key", "P-256"),
            ("inter.key", "P-256"),
            ("leaf.key", leaf_key),
        ] {
            let args = key_args(name, kind);
            openssl(&args.iter().map(String::as_str).collect::<Vec<_>>());
        }
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            &p("root.key"),
            "-subj",
            "/CN=Test Root CA",
            "-days",
            "30",
            "-out",
            &p("root.pem"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        for (name, subject, issuer, ext, serial) in [
            ("inter", "/CN=Test Intermediate CA", "root", &ca_ext, "2"),
            (
                "leaf",
                "/CN=leaf.example.com/O=Contoso",
                "inter",
                &leaf_ext,
                "3",
            ),
        ] {
            let csr = p(&format!("{name}.csr"));
            openssl(&[
                "req",
                "-new",
                "-key",
                &p(&format!("{name}.key")),
                "-subj",
                subject,
                "-out",
                &csr,
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &p(&format!("{issuer}.pem")),
                "-CAkey",
                &p(&format!("{issuer}.key")),
                "-set_serial",
                serial,
                "-days",
                "30",
                "-extfile",
                ext,
                "-out",
                &p(&format!("{name}.pem")),
            ]);
        }
        chain
    }

    /// The path of `name` in the chain's directory.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// The bytes of `name` in the chain's directory.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).unwrap()
    }

    /// Writes `bytes` as `name` in the chain's directory; returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        write(self.dir.path(), name, bytes)
    }

    /// The DER of certificate `name` (`root`, `inter` or `leaf`).
    pub fn der(&self, name: &str) -> Vec<u8> {
        let text = self.read(&format!("{name}.pem"));
        ::pem::parse(text).unwrap().into_contents()
    }

    /// `leaf`, `inter`, `root` DER, in chain order.
    pub fn ders(&self) -> Vec<Vec<u8>> {
        ["leaf", "inter", "root"]
            .iter()
            .map(|n| self.der(n))
            .collect()
    }
}

/// Deterministic pseudo-random bytes (xorshift) for garbage inputs.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

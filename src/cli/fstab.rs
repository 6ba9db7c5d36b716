//! The form mount(8) uses for `mount -t fuse.certfs` and an `/etc/fstab` line of type `fuse.certfs`: `certfs SOURCE MOUNTPOINT [-o OPTIONS] [-f]`, turned into `certfs mount` arguments.
//!
//! `mount.fuse3` runs `certfs SOURCE MOUNTPOINT -o OPTIONS` and expects it
//! to return once mounted, as sshfs does: so this form detaches
//! (`--daemon`) unless `-f` says foreground. SOURCE is the store: a store
//! URL, or `certfs` (or `none`) for the default store in `data=`.
//! OPTIONS (comma-separated) are certfs' own (`data=DIR`, `allow_other`,
//! `threads=N`, `key_file=PATH`, `audit=FILE`, `export=DIR`, `store_file=FILE`: a
//! root-only file holding the store URL, for a URL with a password, which
//! then stays off every command line) and mount(8)'s generic ones, which
//! mean nothing to certfs and are ignored (`rw`, `defaults`, `nofail`,
//! `_netdev`, `x-systemd.*`, ...). Anything else is refused by name, so a
//! typo (`alow_other`) does not mount something other than what was meant.

use super::error::CliError;
use std::ffi::OsString;

/// mount(8)'s and mount.fuse's own options, which certfs ignores.
const GENERIC: &[&str] = &[
    "rw",
    "defaults",
    "auto",
    "noauto",
    "user",
    "nouser",
    "users",
    "owner",
    "group",
    "nofail",
    "_netdev",
    "dev",
    "nodev",
    "suid",
    "nosuid",
    "exec",
    "noexec",
    "async",
    "sync",
    "atime",
    "noatime",
    "relatime",
    "norelatime",
    "strictatime",
    "diratime",
    "nodiratime",
    "lazytime",
    "nolazytime",
    "silent",
    "loud",
    "comment",
];

/// What the fstab form asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct FstabMount {
    /// The `certfs mount` arguments (without the program name).
    pub args: Vec<OsString>,
    /// A file whose content is the store URL (`store_file=`), for
    /// `$CERTFS_STORE`: it never goes on a command line.
    pub store_file: Option<OsString>,
}

/// Whether `args` (without the program name) are the fstab form: two
/// operands first, the first not a subcommand or an option.
pub fn is_fstab_form(args: &[OsString]) -> bool {
    let first = args.first().and_then(|a| a.to_str());
    match first {
        None => false,
        Some(first) => {
            args.len() >= 2
                && !first.starts_with('-')
                && !matches!(first, "mount" | "help")
                && args
                    .get(1)
                    .is_some_and(|a| !a.to_string_lossy().starts_with('-'))
        }
    }
}

/// Turns `SOURCE MOUNTPOINT [-o OPTIONS] [-f] [-n -s -v]` into `certfs mount` arguments.
pub fn translate(args: &[OsString]) -> Result<FstabMount, CliError> {
    let (source, mountpoint) = match args {
        [source, mountpoint, ..] => (source, mountpoint),
        _ => return Err("usage: certfs SOURCE MOUNTPOINT [-o OPTIONS] [-f]".into()),
    };
    let mut options: Vec<String> = Vec::new();
    let mut foreground = false;
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        let text = arg
            .to_str()
            .ok_or_else(|| format!("{}: not UTF-8", arg.to_string_lossy()))?;
        match text {
            "-o" => {
                let list = rest.next().ok_or("-o needs a list of options")?;
                let list = list.to_str().ok_or("the options are not UTF-8")?;
                options.extend(list.split(',').map(str::to_owned));
            }
            "-f" => foreground = true,
            // mount(8)'s: no mtab, sloppy, verbose.
            "-n" | "-s" | "-v" => {}
            other if other.starts_with("-o") => {
                options.extend(other[2..].split(',').map(str::to_owned));
            }
            other => {
                return Err(format!("{other}: not an option of certfs SOURCE MOUNTPOINT").into());
            }
        }
    }
    let mut out: Vec<OsString> = vec!["mount".into(), mountpoint.clone()];
    let mut store_file = None;
    for option in options.iter().filter(|o| !o.is_empty()) {
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (option.as_str(), None),
        };
        let flag = |flag: &str| -> Result<[OsString; 2], String> {
            match value {
                Some(v) if !v.is_empty() => Ok([flag.into(), v.into()]),
                _ => Err(format!("{name}= needs a value")),
            }
        };
        match name {
            "data" => out.extend(flag("--data")?),
            "threads" => out.extend(flag("--threads")?),
            "key_file" => out.extend(flag("--key-file")?),
            "audit" => out.extend(flag("--audit")?),
            "export" => out.extend(flag("--export")?),
            "store_file" => store_file = Some(flag("")?[1].clone()),
            "allow_other" if value.is_none() => out.push("--allow-other".into()),
            "ro" => return Err("certfs cannot be mounted read-only (ro): it is written to".into()),
            "fsname" | "subtype" => {}
            generic if GENERIC.contains(&generic) || generic.starts_with("x-") => {}
            unknown => return Err(format!("unknown mount option '{unknown}'").into()),
        }
    }
    match source.to_str() {
        Some("certfs" | "none" | "") => {}
        _ if store_file.is_some() => {
            return Err("give the store either as SOURCE or in store_file=, not both".into());
        }
        Some(url) if !url.contains("://") => {
            return Err(format!(
                "'{url}' is neither a command (certfs mount MOUNTPOINT) nor a store \
                 (sqlite:///path/certfs.db, postgres://user@host/db, or certfs for the default)"
            )
            .into());
        }
        _ => {
            out.push("--store".into());
            out.push(source.clone());
        }
    }
    if !foreground {
        out.push("--daemon".into());
    }
    Ok(FstabMount {
        args: out,
        store_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn mount_fuse3s_command_line_becomes_certfs_mount() {
        let got = translate(&args(&[
            "sqlite:///var/lib/certfs/certfs.db",
            "/etc/certs",
            "-o",
            "rw,allow_other,data=/var/lib/certfs,threads=8,export=/run/certfs,_netdev,x-systemd.after=network.target",
        ]))
        .unwrap();
        assert_eq!(
            got.args,
            args(&[
                "mount",
                "/etc/certs",
                "--allow-other",
                "--data",
                "/var/lib/certfs",
                "--threads",
                "8",
                "--export",
                "/run/certfs",
                "--store",
                "sqlite:///var/lib/certfs/certfs.db",
                "--daemon",
            ])
        );
        assert_eq!(got.store_file, None);
    }

    #[test]
    fn the_default_store_foreground_and_a_store_file() {
        let got = translate(&args(&[
            "certfs",
            "/mnt",
            "-ostore_file=/etc/certfs/url",
            "-f",
        ]))
        .unwrap();
        assert_eq!(got.args, args(&["mount", "/mnt"]));
        assert_eq!(got.store_file, Some("/etc/certfs/url".into()));
        let got = translate(&args(&["none", "/mnt"])).unwrap();
        assert_eq!(got.args, args(&["mount", "/mnt", "--daemon"]));
    }

    #[test]
    fn typos_read_only_and_garbage_are_refused_by_name() {
        let refused = |list: &[&str]| translate(&args(list)).unwrap_err().to_string();
        assert!(refused(&["certfs", "/m", "-o", "alow_other"]).contains("'alow_other'"));
        assert!(refused(&["certfs", "/m", "-o", "ro"]).contains("read-only"));
        assert!(refused(&["certfs", "/m", "-o", "data="]).contains("data= needs a value"));
        assert!(refused(&["certfs", "/m", "-o"]).contains("-o needs"));
        assert!(refused(&["certfs", "/m", "--bogus"]).contains("--bogus"));
        assert!(refused(&["certfs"]).contains("usage"));
        assert!(refused(&["postgres://u@h/db", "/m", "-o", "store_file=/f"]).contains("not both"));
        assert!(refused(&["moutn", "/m"]).contains("neither a command"));
    }

    #[test]
    fn only_two_operands_first_are_the_fstab_form() {
        assert!(is_fstab_form(&args(&["certfs", "/mnt", "-o", "rw"])));
        assert!(is_fstab_form(&args(&["postgres://u@h/db", "/mnt"])));
        assert!(!is_fstab_form(&args(&["mount", "/mnt"])));
        assert!(!is_fstab_form(&args(&["--help"])));
        assert!(!is_fstab_form(&args(&["certfs"])));
        assert!(!is_fstab_form(&args(&["certfs", "--version"])));
        assert!(!is_fstab_form(&[]));
    }
}

//! The command line: `certfs mount MOUNTPOINT [--data DIR] [--store URL] [--key-file PATH] [--allow-other] [--audit FILE] [--smtp URL ...]`, and mount(8)'s `certfs SOURCE MOUNTPOINT -o OPTIONS` ([`fstab`]).
#![allow(unsafe_code)] // libc calls, each with its SAFETY comment

mod assets;
mod daemon;
mod error;
mod fstab;
mod notify;
mod open_store;

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use self::error::CliError;

use crate::fuse::{self, MountOptions};
use crate::mail::{MailConfig, MailOptions, Mailer, SmtpMailer};
use crate::store::StoreLocation;
use crate::vault::VaultService;
use crate::vault::audit::AuditLog;
use crate::vault::backup::BackupKey;
use crate::vault::serving_copy::ServingCopy;

/// certfs: certificates managed the way Azure Key Vault does it, as files.
///
/// Vaults are directories; writing a policy.json creates a certificate;
/// servers read fullchain.pem and privkey.pem straight from the mount.
/// Logging goes to standard error and follows RUST_LOG (default: info).
#[derive(Debug, Parser)]
#[command(name = "certfs", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mount certfs and serve it in the foreground until unmounted or
    /// interrupted (Ctrl-C / SIGTERM unmount cleanly).
    Mount {
        /// An existing, empty directory to mount on.
        mountpoint: PathBuf,
        /// Directory of the store (created if missing). Default: /var/lib/certfs
        /// for root, else $XDG_DATA_HOME/certfs or ~/.local/share/certfs.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// The store, when not certfs.db in --data: sqlite:///path/certfs.db,
        /// or postgres://user@host/database for one database shared by
        /// several certfs daemons (no TLS: see docs/deployment.md). Also read
        /// from $CERTFS_STORE, the place for a URL with a password (command
        /// lines are visible to all users); a password is never printed.
        /// --data still holds backup.key.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// The master key that seals private keys and issuer secrets in the
        /// store: a file of 32 random bytes (raw, 64 hex digits or base64),
        /// mode 0600. Default: the systemd credential certfs.key if
        /// $CREDENTIALS_DIRECTORY holds one, else DIR/master.key (created
        /// on first use).
        #[arg(long, value_name = "PATH")]
        key_file: Option<PathBuf>,
        /// Let other users use the mount; certfs then checks file modes,
        /// owners and the vaults' access roles on every request (needs
        /// user_allow_other in /etc/fuse.conf when not root).
        #[arg(long)]
        allow_other: bool,
        /// Append one JSON line per action and per read of a key or secret
        /// file to FILE (created 0600).
        #[arg(long, value_name = "FILE")]
        audit: Option<PathBuf>,
        /// Serve from a detached process; return once mounted.
        #[arg(long)]
        daemon: bool,
        /// Threads serving kernel requests.
        #[arg(long, default_value_t = 4, value_name = "N")]
        threads: usize,
        /// Keep a serving copy of every certificate's current files in
        /// DIR/<vault>/<cert>/ (a tmpfs, or any local directory), switched
        /// all at once and left in place if certfs stops: servers read it
        /// at tmpfs speed. DIR must be empty or a copy certfs made.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
        /// E-mail to the vaults' contacts.
        #[command(flatten)]
        mail: MailArgs,
    },
}

/// The mail options of `certfs mount`.
#[derive(Debug, Args)]
pub struct MailArgs {
    /// SMTP server for e-mail to certificate contacts (expiring
    /// certificates, renewals that need a signed CSR): smtp://host[:port]
    /// (no TLS, port 25), smtp+starttls://host[:port] (STARTTLS required,
    /// 587) or smtps://host[:port] (TLS, 465). Without it nothing is mailed.
    #[arg(long, value_name = "URL")]
    pub smtp: Option<String>,
    /// Sender of that mail. Default: certfs@<hostname>.
    #[arg(long, value_name = "ADDRESS", requires = "smtp")]
    pub smtp_from: Option<String>,
    /// User for SMTP AUTH (with --smtp-password-file; never in the URL).
    #[arg(long, value_name = "USER", requires_all = ["smtp", "smtp_password_file"])]
    pub smtp_user: Option<String>,
    /// File whose first line is the SMTP password, read once at mount
    /// (keeps it out of ps; make it mode 0600).
    #[arg(long, value_name = "PATH", requires_all = ["smtp", "smtp_user"])]
    pub smtp_password_file: Option<PathBuf>,
    /// PEM file of CA certificates to trust for the SMTP server besides the
    /// system's (a relay with a private CA).
    #[arg(long, value_name = "PATH", requires = "smtp")]
    pub smtp_ca_file: Option<PathBuf>,
}

impl MailArgs {
    /// The mailer these options describe, or none without `--smtp`.
    pub fn mailer(&self) -> Result<Option<Arc<dyn Mailer>>, CliError> {
        let Some(smtp) = &self.smtp else {
            return Ok(None);
        };
        let config = MailConfig::load(&MailOptions {
            smtp: smtp.clone(),
            from: self.smtp_from.clone(),
            user: self.smtp_user.clone(),
            password_file: self.smtp_password_file.clone(),
            ca_file: self.smtp_ca_file.clone(),
        })
        .map_err(|e| CliError::caused(e.to_string(), e))?;
        let from = config.from.clone();
        let mailer = SmtpMailer::new(config).map_err(|e| CliError::caused(e.to_string(), e))?;
        log::info!(
            "mail to contacts goes through {} from {from}{}",
            mailer.server(),
            match &self.smtp_user {
                Some(user) => format!(" as user {user}"),
                None => String::new(),
            }
        );
        Ok(Some(Arc::new(mailer)))
    }
}

/// The store directory used when `--data` is absent.
pub fn default_data_dir() -> PathBuf {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/certfs");
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("certfs");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/certfs")
}

/// Runs the program.
pub fn main() -> ExitCode {
    let given: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if given.first().is_some_and(|a| a == assets::SUBCOMMAND) {
        return assets::main(&given[1..]);
    }
    let args = if fstab::is_fstab_form(&given) {
        // `mount -t fuse.certfs SOURCE MOUNTPOINT -o OPTIONS`, through mount.fuse3.
        let form = match fstab::translate(&given) {
            Ok(form) => form,
            Err(message) => {
                eprintln!("certfs: {message}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(file) = &form.store_file {
            match std::fs::read_to_string(file) {
                // SAFETY: nothing else runs yet: no thread reads the environment.
                Ok(url) => unsafe { std::env::set_var("CERTFS_STORE", url.trim()) },
                Err(e) => {
                    eprintln!(
                        "certfs: cannot read store_file {}: {e}",
                        Path::new(file).display()
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
        form.args
    } else {
        given
    };
    let program = std::iter::once(std::ffi::OsString::from("certfs"));
    let cli = Cli::parse_from(program.chain(args.iter().cloned()));
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        // At debug level tokio-postgres logs every statement's parameters:
        // keys, documents, secrets. Never below info, whatever RUST_LOG says.
        .filter_module("tokio_postgres", log::LevelFilter::Info)
        .init();
    match cli.command {
        Command::Mount {
            mountpoint, daemon, ..
        } if daemon => {
            let args = args.into_iter().filter(|a| a != "--daemon").collect();
            daemon::run_detached(args, &mountpoint)
        }
        Command::Mount {
            mountpoint,
            data,
            store,
            key_file,
            allow_other,
            audit,
            daemon: _,
            threads,
            export,
            mail,
        } => {
            let data = data.unwrap_or_else(default_data_dir);
            let store = match store_location(store, &data) {
                Ok(store) => store,
                Err(message) => {
                    eprintln!("certfs: {message}");
                    return ExitCode::FAILURE;
                }
            };
            match mount(
                &mountpoint,
                &data,
                &store,
                key_file.as_deref(),
                &Outputs {
                    audit: audit.as_deref(),
                    export: export.as_deref(),
                },
                &MountOptions {
                    allow_other,
                    threads,
                },
                &mail,
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("certfs: {message}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The store `--store` (or `$CERTFS_STORE`) names, else certfs.db in `data`.
/// Errors never repeat the URL: it may hold a password.
fn store_location(store: Option<String>, data: &Path) -> Result<StoreLocation, CliError> {
    let (text, origin) = match store {
        Some(text) => (text, "--store"),
        None => match std::env::var("CERTFS_STORE") {
            Ok(text) if !text.is_empty() => (text, "CERTFS_STORE"),
            _ => return Ok(StoreLocation::in_data_dir(data)),
        },
    };
    text.parse()
        .map_err(|e| CliError::caused(format!("{origin}: {e}"), e))
}

/// What a mount writes besides its tree: the audit log, the serving copy.
struct Outputs<'a> {
    audit: Option<&'a Path>,
    export: Option<&'a Path>,
}

fn mount(
    mountpoint: &Path,
    data: &Path,
    store: &StoreLocation,
    key_file: Option<&Path>,
    outputs: &Outputs<'_>,
    options: &MountOptions,
    mail: &MailArgs,
) -> Result<(), CliError> {
    check_mountpoint(mountpoint)?;
    let mailer = mail.mailer()?;
    let copy = outputs
        .export
        .map(ServingCopy::open)
        .transpose()
        .map_err(|e| CliError::caused(e.to_string(), e))?;
    if data.exists() && !data.is_dir() {
        return Err(CliError::new(format!(
            "the store directory {} is not a directory (--data names a directory that holds certfs.db)",
            data.display()
        )));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data)
        .map_err(|e| {
            CliError::caused(
                format!("cannot create the store directory {}: {e}", data.display()),
                e,
            )
        })?;
    let opened = open_store::open_store(store, data, key_file)?;
    let backup_key = BackupKey::load_or_create(&data.join("backup.key"))
        .map_err(|e| CliError::caused(format!("cannot open the backup key: {e}"), e))?;
    let vault = VaultService::open(Box::new(opened))
        .map_err(|e| CliError::caused(format!("cannot load the store {store}: {e}"), e))?;
    let mut vault = vault.with_backup_key(backup_key);
    if let Some(path) = outputs.audit {
        let log = AuditLog::open(path).map_err(|e| {
            CliError::caused(
                format!("cannot open the audit log {}: {e}", path.display()),
                e,
            )
        })?;
        vault = vault.with_audit(log);
    }
    if let Some(mailer) = mailer {
        vault = vault.with_mailer(mailer);
    }
    let vault = vault.into_shared();
    vault.set_mount_path(
        std::fs::canonicalize(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf()),
    );
    // Before anything else can change: the copy is current once mounted.
    if let Some(copy) = copy {
        vault.export_to(copy);
    }
    // Deleted certificates past their retention are purged by themselves;
    // CA orders and lifetime actions go on in the background.
    vault.start_housekeeping(std::time::Duration::from_secs(60));
    vault.start_worker();
    vault.start_renewals();
    // Other daemons sharing the store (PostgreSQL): their changes show here.
    vault
        .start_sync()
        .map_err(|e| CliError::caused(format!("cannot follow the store's changes: {e}"), e))?;
    let shown = mountpoint.display().to_string();
    // Said once everything is checked: a refusal stays one line.
    warn_if_open(data);
    // Under systemd (Type=notify): ready once mounted, stopping at the end.
    let mut notifier = notify::Notifier::new();
    let served = fuse::run(vault, mountpoint, options, || {
        log::info!("certfs mounted at {shown} (store {store})");
        notifier.ready(&shown);
    });
    notifier.stopped();
    served.map_err(|e| {
        CliError::caused(format!("cannot mount at {}: {e}", mountpoint.display()), e)
    })?;
    log::info!("certfs unmounted from {}", mountpoint.display());
    Ok(())
}

/// Says so when the store directory lets group or others in: certfs
/// makes its own 0700, and one that existed keeps the mode it had (the
/// store file and keys in it are 0600 all the same).
fn warn_if_open(data: &Path) {
    if let Ok(meta) = std::fs::metadata(data) {
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            log::warn!(
                "the store directory {} is mode {mode:04o}: group and others may list it \
                 (certfs makes its own 0700; chmod 700 {} to close it)",
                data.display(),
                data.display()
            );
        }
    }
}

/// A clear refusal for a missing, non-directory or already-mounted mountpoint.
fn check_mountpoint(mountpoint: &Path) -> Result<(), CliError> {
    let meta = std::fs::metadata(mountpoint).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("mountpoint {} does not exist", mountpoint.display()),
        std::io::ErrorKind::NotConnected => format!(
            "mountpoint {} is a dead mount (Transport endpoint is not connected): run 'umount {}' first",
            mountpoint.display(),
            mountpoint.display()
        ),
        _ => format!("mountpoint {}: {e}", mountpoint.display()),
    })?;
    if !meta.is_dir() {
        return Err(format!("mountpoint {} is not a directory", mountpoint.display()).into());
    }
    let parent = mountpoint.join("..");
    if let Ok(parent_meta) = std::fs::metadata(&parent) {
        if parent_meta.dev() != meta.dev() && meta.ino() != parent_meta.ino() {
            return Err(format!(
                "mountpoint {} is busy: something is already mounted there",
                mountpoint.display()
            )
            .into());
        }
    }
    Ok(())
}

//! `certfs package-assets DIR`: the man pages and shell completions rendered from the command line's own definition, for the Debian package.
//!
//! Rendered by the binary being packaged, from the same clap definition
//! that parses its arguments, so the man page and completions cannot drift
//! from the options the binary accepts (a build script would need that
//! definition compiled a second time, and its output would sit in an
//! opaque OUT_DIR). The word is taken before clap parses anything and is
//! not part of that definition: neither `--help`, the man pages nor the
//! completions offer it to users.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;
use super::error::CliError;

/// The first argument that asks for the assets.
pub const SUBCOMMAND: &str = "package-assets";

/// `certfs package-assets DIR`.
pub fn main(args: &[std::ffi::OsString]) -> std::process::ExitCode {
    let [dir] = args else {
        eprintln!("usage: certfs {SUBCOMMAND} DIR");
        return std::process::ExitCode::FAILURE;
    };
    match write(Path::new(dir)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("certfs: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Writes `DIR/man/certfs.1` and one page per subcommand
/// (`certfs-mount.1`), `DIR/completions/certfs.bash` and
/// `DIR/completions/_certfs` (zsh).
pub fn write(dir: &Path) -> Result<(), CliError> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    for sub in [&man, &completions] {
        std::fs::create_dir_all(sub)
            .map_err(|e| CliError::caused(format!("cannot create {}: {e}", sub.display()), e))?;
    }
    clap_mangen::generate_to(Cli::command(), &man).map_err(|e| {
        CliError::caused(
            format!("cannot write the man pages in {}: {e}", man.display()),
            e,
        )
    })?;
    for (shell, name) in [(Shell::Bash, "certfs.bash"), (Shell::Zsh, "_certfs")] {
        let path = completions.join(name);
        let mut file = std::fs::File::create(&path)
            .map_err(|e| CliError::caused(format!("cannot create {}: {e}", path.display()), e))?;
        clap_complete::generate(shell, &mut Cli::command(), "certfs", &mut file);
    }
    Ok(())
}

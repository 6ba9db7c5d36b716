//! The `certfs` binary: hands the command line to [`certfs::cli`].

fn main() -> std::process::ExitCode {
    certfs::cli::main()
}

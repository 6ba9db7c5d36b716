//! Why a command stopped: the one line certfs prints before it exits with status 1, and the error that line came from.

use std::error::Error;
use std::fmt;

/// A command's failure: `message` is what the user reads (it names the
/// file, store or option concerned, never a secret); `source`, when there
/// is one, is the error it came from.
#[derive(Debug)]
pub struct CliError {
    message: String,
    source: Option<Box<dyn Error + Send + Sync + 'static>>,
}

impl CliError {
    /// A failure with no error underneath (a bad option, a refused path).
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            source: None,
        }
    }

    /// A failure that `source` caused; `message` already says it in words.
    pub fn caused(message: impl Into<String>, source: impl Error + Send + Sync + 'static) -> Self {
        CliError {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for CliError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError::new(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        CliError::new(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_the_message_and_the_cause_stays_reachable() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = CliError::caused("cannot open the audit log /x: gone", io);
        assert_eq!(e.to_string(), "cannot open the audit log /x: gone");
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("gone"));
        assert!(CliError::new("bad option").source().is_none());
    }
}

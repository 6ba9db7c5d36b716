//! E-mail to contacts: `SmtpMailer` against a real SMTP sink on 127.0.0.1 (delivery, refusals, timeouts, AUTH, STARTTLS, implicit TLS) and the `--smtp` options of `certfs mount`.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use certfs::mail::{
    Mail, MailConfig, MailError, MailOptions, Mailer, SmtpMailer, expiry_notice,
    renewal_needed_notice,
};
use common::nginx::free_port;
use common::smtp::{SinkOptions, SinkTls, SmtpSink};
use common::{Mount, certfs_bin, wait_timeout};

const PASSWORD: &str = "correct horse battery staple";

fn options(url: &str) -> MailOptions {
    MailOptions {
        smtp: url.to_owned(),
        from: Some("certfs <certfs@example.org>".into()),
        ..MailOptions::default()
    }
}

fn mailer(options: &MailOptions) -> SmtpMailer {
    SmtpMailer::new(MailConfig::load(options).expect("config")).expect("mailer")
}

fn short(options: &MailOptions, timeout: Duration) -> SmtpMailer {
    let config = MailConfig::load(options).unwrap().with_timeout(timeout);
    SmtpMailer::new(config).unwrap()
}

fn mail_to(to: &[&str]) -> Mail {
    Mail {
        to: to.iter().map(|s| s.to_string()).collect(),
        subject: "certfs test".into(),
        body: "Hello.\n".into(),
    }
}

/// A password file in `dir`, mode 0600.
fn password_file(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("smtp.password");
    std::fs::write(&path, format!("{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[test]
fn delivers_from_to_subject_and_body_to_several_recipients() {
    let sink = SmtpSink::start();
    let m = mailer(&options(&sink.url()));
    let (subject, body) = expiry_notice(
        "prod",
        "web",
        1_796_738_709,
        12,
        Path::new("/mnt/certs/prod/web"),
    );
    // A line with a leading dot (dot-stuffing) and non-ASCII text.
    let body = format!("{body}\n.hidden? no: shown\nZürich · ✓\n");
    let mail = Mail::new(
        vec![
            "ops@contoso.com".into(),
            "Sec Team <sec@contoso.com>".into(),
        ],
        (subject.clone(), body.clone()),
    );
    m.send(&mail).expect("sent");

    let got = sink.wait_for(1);
    assert_eq!(got.len(), 1, "one message for all recipients");
    let msg = &got[0];
    assert_eq!(msg.from, "certfs@example.org");
    assert_eq!(msg.to, ["ops@contoso.com", "sec@contoso.com"]);
    assert_eq!(msg.header("Subject").as_deref(), Some(subject.as_str()));
    let from = msg.header("From").unwrap();
    assert!(from.contains("certfs@example.org"), "{from}");
    let to = msg.header("To").unwrap();
    assert!(
        to.contains("ops@contoso.com") && to.contains("sec@contoso.com"),
        "{to}"
    );
    assert!(to.contains("Sec Team"), "{to}");
    let content_type = msg.header("Content-Type").unwrap().to_ascii_lowercase();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(content_type.contains("charset=utf-8"), "{content_type}");
    assert_eq!(
        msg.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert!(msg.header("Date").is_some(), "{}", msg.data);
    let id = msg.header("Message-ID").unwrap();
    assert!(id.ends_with("@example.org>"), "{id}");
    assert_eq!(msg.body().trim_end(), body.trim_end());
    assert!(msg.body().contains("2026-12-08T14:05:09Z"));
    assert!(!msg.tls);
    assert_eq!(msg.auth_user, None);

    // A second mail is a second message with its own Message-ID.
    m.send(&mail_to(&["ops@contoso.com"])).unwrap();
    let got = sink.wait_for(2);
    assert_ne!(got[1].header("Message-ID").unwrap(), id);
    assert_eq!(got[1].body().trim_end(), "Hello.");
}

#[test]
fn the_renewal_notice_arrives_as_written() {
    let sink = SmtpSink::start();
    let m = mailer(&options(&sink.url()));
    let notice = renewal_needed_notice("prod", "api", 1_796_738_709, Path::new("/mnt/c/prod/api"));
    m.send(&Mail::new(vec!["ops@contoso.com".into()], notice.clone()))
        .unwrap();
    let got = sink.wait_for(1);
    assert_eq!(got[0].header("Subject").unwrap(), notice.0);
    assert_eq!(got[0].body().trim_end(), notice.1.trim_end());
    assert!(got[0].body().contains("/mnt/c/prod/api/request.csr"));
}

#[test]
fn the_default_sender_is_certfs_at_this_host() {
    let sink = SmtpSink::start();
    let config = MailConfig::load(&MailOptions {
        smtp: sink.url(),
        ..MailOptions::default()
    })
    .unwrap();
    let host = certfs::mail::config::hostname();
    assert_eq!(config.from, format!("certfs@{host}"));
    SmtpMailer::new(config)
        .unwrap()
        .send(&mail_to(&["ops@contoso.com"]))
        .unwrap();
    assert_eq!(sink.wait_for(1)[0].from, format!("certfs@{host}"));
}

#[test]
fn a_refused_recipient_gives_the_servers_words() {
    let sink = SmtpSink::start_with(SinkOptions {
        refuse_rcpt: Some(
            "550 5.1.1 <nobody@contoso.com>: Recipient address rejected: User unknown".into(),
        ),
        ..SinkOptions::default()
    });
    let m = mailer(&options(&sink.url()));
    let e = m.send(&mail_to(&["nobody@contoso.com"])).unwrap_err();
    match &e {
        MailError::Refused { code, message } => {
            assert_eq!(*code, 550);
            assert!(
                message.contains("Recipient address rejected: User unknown"),
                "{message}"
            );
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(!e.is_temporary());
    assert!(e.to_string().contains("550"), "{e}");
    assert!(e.to_string().contains("User unknown"), "{e}");

    sink.refuse_rcpt(Some("451 4.3.0 Mailbox busy, try again later"));
    let e = m.send(&mail_to(&["ops@contoso.com"])).unwrap_err();
    assert!(
        matches!(&e, MailError::Refused { code: 451, message } if message.contains("try again later")),
        "{e:?}"
    );
    assert!(e.is_temporary());
    assert!(sink.messages().is_empty());

    sink.refuse_rcpt(None);
    m.send(&mail_to(&["ops@contoso.com"])).unwrap();
    assert_eq!(sink.wait_for(1).len(), 1);
}

#[test]
fn nothing_listening_is_unavailable_at_once() {
    let port = free_port();
    let m = mailer(&options(&format!("smtp://127.0.0.1:{port}")));
    let started = Instant::now();
    let e = m.send(&mail_to(&["ops@contoso.com"])).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let MailError::Unavailable(text) = &e else {
        panic!("expected Unavailable, got {e:?}");
    };
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(e.is_temporary());
}

/// A server that accepts connections and never says a word.
fn silent_server() -> (u16, std::sync::mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        loop {
            if let Ok((s, _)) = listener.accept() {
                held.push(s);
            }
            if stopped.try_recv().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (port, stop)
}

#[test]
fn a_silent_server_times_out_instead_of_hanging() {
    let (port, stop) = silent_server();
    for scheme in ["smtp", "smtps", "smtp+starttls"] {
        let m = short(
            &options(&format!("{scheme}://127.0.0.1:{port}")),
            Duration::from_secs(2),
        );
        let started = Instant::now();
        let e = m.send(&mail_to(&["ops@contoso.com"])).unwrap_err();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1500),
            "{scheme}: gave up too early: {took:?}"
        );
        assert!(
            took < Duration::from_secs(15),
            "{scheme}: hung for {took:?}"
        );
        let MailError::Unavailable(text) = &e else {
            panic!("{scheme}: expected Unavailable, got {e:?}");
        };
        assert!(text.contains("no answer within 2 s"), "{scheme}: {text}");
    }
    let _ = stop.send(());
}

#[test]
fn auth_with_user_and_password_file_and_the_password_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start_with(SinkOptions {
        auth: Some(("alice".into(), PASSWORD.into())),
        ..SinkOptions::default()
    });
    let mut opts = options(&sink.url());
    opts.user = Some("alice".into());
    opts.password_file = Some(password_file(dir.path()));
    let config = MailConfig::load(&opts).unwrap();
    assert!(!format!("{config:?}").contains(PASSWORD), "{config:?}");
    let m = SmtpMailer::new(config).unwrap();
    let shown = format!("{m:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("alice"), "{shown}");
    m.send(&mail_to(&["ops@contoso.com"])).unwrap();
    let got = sink.wait_for(1);
    assert_eq!(got[0].auth_user.as_deref(), Some("alice"));

    // A wrong password: the server's words, not the password.
    std::fs::write(dir.path().join("smtp.password"), "wrong-password-123\n").unwrap();
    let m = mailer(&opts);
    let e = m.send(&mail_to(&["ops@contoso.com"])).unwrap_err();
    assert!(
        matches!(&e, MailError::Refused { code: 535, message } if message.contains("Authentication credentials invalid")),
        "{e:?}"
    );
    for shown in [e.to_string(), format!("{e:?}"), format!("{m:?}")] {
        assert!(!shown.contains("wrong-password-123"), "{shown}");
    }

    // No credentials: the server wants AUTH first.
    let e = mailer(&options(&sink.url()))
        .send(&mail_to(&["ops@contoso.com"]))
        .unwrap_err();
    assert!(
        matches!(&e, MailError::Refused { code: 530, message } if message.contains("Authentication required")),
        "{e:?}"
    );
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn starttls_delivers_over_tls_trusting_the_ca_file() {
    let sink = SmtpSink::start_with(SinkOptions {
        tls: SinkTls::StartTls,
        auth: Some(("alice".into(), PASSWORD.into())),
        ..SinkOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&sink.url());
    assert!(opts.smtp.starts_with("smtp+starttls://"));
    opts.user = Some("alice".into());
    opts.password_file = Some(password_file(dir.path()));

    // Without the CA the certificate is not trusted: nothing goes out in
    // plain text instead.
    let e = mailer(&opts)
        .send(&mail_to(&["ops@contoso.com"]))
        .unwrap_err();
    let MailError::Unavailable(text) = &e else {
        panic!("expected Unavailable, got {e:?}");
    };
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    assert!(sink.messages().is_empty());

    opts.ca_file = Some(sink.ca_file());
    mailer(&opts).send(&mail_to(&["ops@contoso.com"])).unwrap();
    let got = sink.wait_for(1);
    assert!(got[0].tls, "the mail came over TLS");
    assert_eq!(got[0].auth_user.as_deref(), Some("alice"));
}

#[test]
fn starttls_required_refuses_a_server_without_it() {
    let sink = SmtpSink::start();
    let url = format!("smtp+starttls://127.0.0.1:{}", sink.port());
    let e = mailer(&options(&url))
        .send(&mail_to(&["ops@contoso.com"]))
        .unwrap_err();
    let MailError::Unavailable(text) = &e else {
        panic!("expected Unavailable, got {e:?}");
    };
    assert!(text.contains("offers no STARTTLS"), "{text}");
    assert!(sink.connections() >= 1, "it did talk to the server");
    assert!(sink.messages().is_empty(), "nothing sent in plain text");
}

#[test]
fn smtps_delivers_over_implicit_tls() {
    let sink = SmtpSink::start_with(SinkOptions {
        tls: SinkTls::Implicit,
        ..SinkOptions::default()
    });
    let mut opts = options(&sink.url());
    assert!(opts.smtp.starts_with("smtps://"));
    opts.ca_file = Some(sink.ca_file());
    mailer(&opts).send(&mail_to(&["ops@contoso.com"])).unwrap();
    assert!(sink.wait_for(1)[0].tls);
}

#[test]
fn a_bad_address_is_refused_before_connecting() {
    let sink = SmtpSink::start();
    let m = mailer(&options(&sink.url()));
    for to in [
        vec!["not an address"],
        vec!["ops@contoso.com", "x@"],
        vec![],
    ] {
        let e = m.send(&mail_to(&to)).unwrap_err();
        assert!(matches!(e, MailError::Address(_)), "{to:?}: {e:?}");
    }
    let mut opts = options(&sink.url());
    opts.from = Some("nobody".into());
    let e = SmtpMailer::new(MailConfig::load(&opts).unwrap()).unwrap_err();
    assert!(e.to_string().contains("--smtp-from"), "{e}");
    assert_eq!(sink.connections(), 0);
}

// ----- the command line ---------------------------------------------------

/// `certfs mount <tmp>/mnt --data <tmp>/data ARGS`; must end within 20 s.
fn mount_with(args: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mnt")).unwrap();
    let mut child = Command::new(certfs_bin())
        .arg("mount")
        .arg(dir.path().join("mnt"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if wait_timeout(&mut child, Duration::from_secs(20)).is_none() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        common::lazy_unmount(&dir.path().join("mnt"));
        panic!(
            "certfs mount {args:?} did not stop (it mounted):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (child.wait_with_output().unwrap(), dir)
}

/// Exit 1 and one line on stderr; returns the line.
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr:\n{stderr}");
    assert!(lines[0].starts_with("certfs: "), "{stderr}");
    lines[0].to_owned()
}

#[test]
fn mount_refuses_a_bogus_smtp_url_with_one_line() {
    let (out, dir) = mount_with(&["--smtp", "bogus://x"]);
    let line = refused(&out);
    assert!(line.contains("--smtp"), "{line}");
    assert!(line.contains("\"bogus\""), "{line}");
    assert!(line.contains("smtp+starttls://"), "{line}");
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn mount_refuses_a_password_in_the_url_without_repeating_it() {
    let (out, _dir) = mount_with(&["--smtp", "smtp://alice:Sup3rSecret@mail.example.com"]);
    let line = refused(&out);
    assert!(line.contains("--smtp-password-file"), "{line}");
    assert!(!line.contains("Sup3rSecret"), "{line}");
}

#[test]
fn mount_refuses_a_missing_password_file() {
    let (out, dir) = mount_with(&[
        "--smtp",
        "smtp://127.0.0.1:2525",
        "--smtp-user",
        "alice",
        "--smtp-password-file",
        "/nonexistent/smtp.password",
    ]);
    let line = refused(&out);
    assert!(line.contains("/nonexistent/smtp.password"), "{line}");
    assert!(line.contains("cannot read"), "{line}");
    assert!(!dir.path().join("data").exists());
}

#[test]
fn smtp_options_other_than_the_url_need_it() {
    let (out, _dir) = mount_with(&["--smtp-user", "alice"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--smtp"), "{stderr}");
}

#[test]
fn mount_with_smtp_builds_the_mailer_and_logs_no_password() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path());
    let url = sink.url();
    let m = Mount::start_args(&[
        "--smtp",
        url.as_str(),
        "--smtp-from",
        "certs@example.org",
        "--smtp-user",
        "alice",
        "--smtp-password-file",
        pw.to_str().unwrap(),
    ]);
    let logs = m.logs();
    assert!(
        logs.contains(&format!(
            "mail to contacts goes through {url} from certs@example.org as user alice"
        )),
        "{logs}"
    );
    assert!(!logs.contains(PASSWORD), "{logs}");
    // Mounting does not mail anyone.
    assert_eq!(sink.connections(), 0);
}

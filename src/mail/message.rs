//! The texts certfs mails to contacts: an expiry notice and a renewal that needs the user (issuer `Unknown`).
//!
//! Modelled on Key Vault's own mails: they name the certificate, the vault
//! and the expiry date (UTC, RFC 3339 and in words), and say what to do.
//! Plain functions of plain values (names, Unix times, paths), so the vault
//! calls them without this layer knowing its types.

use std::path::Path;

use time::OffsetDateTime;

/// The subject and body of the mail sent when a certificate's
/// `EmailContacts` lifetime action triggers: `certificate` of `vault`
/// expires at `not_after` (Unix seconds), `days_left` days from now (0 or
/// less: today or already); `certificate_dir` is its directory in the mount.
pub fn expiry_notice(
    vault: &str,
    certificate: &str,
    not_after: i64,
    days_left: i64,
    certificate_dir: &Path,
) -> (String, String) {
    let dir = certificate_dir.display();
    let when = in_days(days_left);
    let subject = format!(
        "certfs: certificate {certificate} in vault {vault} {when} ({})",
        date(not_after)
    );
    let import = certificate_dir
        .parent()
        .map(|vault_dir| vault_dir.join("import").display().to_string())
        .unwrap_or_else(|| format!("{vault}/import"));
    let body = format!(
        "Hello,\n\
         \n\
         The certificate \"{certificate}\" in vault \"{vault}\" {when}.\n\
         \n\
         {facts}\
         \n\
         What to do: renew it before it expires, then make sure the servers\n\
         that use it pick up the new version.\n\
         \n\
         - With a renewed certificate from your CA (key included), import it\n\
         \x20 as a new version:\n\
         \x20     cp renewed.pfx {import}/{certificate}.pfx\n\
         \x20 (a .pem with the key works too; a password goes first into\n\
         \x20 {import}/{certificate}.password).\n\
         - To have certfs make a new key and request, write the policy again:\n\
         \x20     cp {dir}/policy.json /tmp/{certificate}.policy.json\n\
         \x20     cp /tmp/{certificate}.policy.json {dir}/policy.json\n\
         \x20 With issuer Unknown a CSR then waits at {dir}/request.csr;\n\
         \x20 get it signed and drop the signed certificate into {dir}/merge/.\n\
         \n\
         {footer}",
        facts = facts(vault, certificate, not_after, certificate_dir),
        footer = footer(vault),
    );
    (subject, body)
}

/// The subject and body of the mail sent when `AutoRenew` made a pending
/// version of a certificate whose issuer is `Unknown`: a new CSR waits at
/// `certificate_dir/request.csr` for the user to get signed and merge. The
/// current version (valid until `not_after`, Unix seconds) stays in use
/// until then.
pub fn renewal_needed_notice(
    vault: &str,
    certificate: &str,
    not_after: i64,
    certificate_dir: &Path,
) -> (String, String) {
    let dir = certificate_dir.display();
    let subject = format!(
        "certfs: certificate {certificate} in vault {vault} needs your action to renew (expires {})",
        date(not_after)
    );
    let body = format!(
        "Hello,\n\
         \n\
         The certificate \"{certificate}\" in vault \"{vault}\" is due for renewal.\n\
         Its issuer is Unknown, so certfs cannot get it signed by itself: a new\n\
         key and certificate signing request (CSR) have been made for you.\n\
         \n\
         {facts}\
         \n\
         What to do: a new CSR is waiting at {dir}/request.csr;\n\
         get it signed and drop the signed certificate into {dir}/merge/.\n\
         \n\
         1. Read the request and send it to your CA:\n\
         \x20      openssl req -in {dir}/request.csr -noout -text\n\
         2. Drop what the CA returns (PEM, DER or PKCS#7, the chain in any\n\
         \x20  order) into the merge directory:\n\
         \x20      cp signed.pem {dir}/merge/\n\
         3. The signed certificate becomes the current version at once;\n\
         \x20  {dir}/operation.json then shows \"completed\".\n\
         \n\
         Until the merge, servers keep the current certificate, which stops\n\
         working on {human}. To give up this renewal, write\n\
         {{\"cancellation_requested\": true}} into {dir}/operation.json.\n\
         \n\
         {footer}",
        facts = facts(vault, certificate, not_after, certificate_dir),
        human = human(not_after),
        footer = footer(vault),
    );
    (subject, body)
}

/// The mail after a failed delivery: the renewed certificate is not what
/// a server presents; `what` says what the probe saw.
pub fn delivery_failed_notice(
    vault: &str,
    certificate: &str,
    not_after: i64,
    certificate_dir: &Path,
    what: &str,
) -> (String, String) {
    let dir = certificate_dir.display();
    let subject =
        format!("certfs: the new certificate {certificate} in vault {vault} is not being served");
    let body = format!(
        "Hello,\n\
         \n\
         The certificate \"{certificate}\" in vault \"{vault}\" has a new version,\n\
         but the server that should serve it does not present it:\n\
         \n\
         \x20 {what}\n\
         \n\
         {facts}\
         \n\
         What to do: reload the server onto {dir} (see {dir}/hooks.json and\n\
         {dir}/status.json, whose \"probe\" says what was seen and when).\n\
         \n\
         {footer}",
        facts = facts(vault, certificate, not_after, certificate_dir),
        footer = footer(vault),
    );
    (subject, body)
}

/// The facts block the mails share.
fn facts(vault: &str, certificate: &str, not_after: i64, certificate_dir: &Path) -> String {
    format!(
        "  Certificate:  {certificate}\n\
         \x20 Vault:        {vault}\n\
         \x20 Expires:      {} ({})\n\
         \x20 Location:     {}\n",
        rfc3339(not_after),
        human(not_after),
        certificate_dir.display()
    )
}

fn footer(vault: &str) -> String {
    format!(
        "-- \n\
         Sent by certfs because this address is a contact of vault \"{vault}\"\n\
         ({vault}/contacts.json).\n"
    )
}

/// "expires in 12 days", "expires tomorrow", "expires today", "expired 3 days ago".
fn in_days(days_left: i64) -> String {
    match days_left {
        d if d > 1 => format!("expires in {d} days"),
        1 => "expires tomorrow".into(),
        0 => "expires today".into(),
        -1 => "expired yesterday".into(),
        d => format!("expired {} days ago", -d),
    }
}

fn utc(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2026-12-08`.
fn date(secs: i64) -> String {
    let t = utc(secs);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// `2026-12-08T14:05:09Z`.
pub fn rfc3339(secs: i64) -> String {
    let t = utc(secs);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(secs),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `Tuesday, 8 December 2026, 14:05 UTC`.
pub fn human(secs: i64) -> String {
    let t = utc(secs);
    format!(
        "{}, {} {} {}, {:02}:{:02} UTC",
        t.weekday(),
        t.day(),
        t.month(),
        t.year(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-08T14:05:09Z, a Tuesday.
    const NOT_AFTER: i64 = 1_796_738_709;

    #[test]
    fn dates_in_utc() {
        assert_eq!(rfc3339(NOT_AFTER), "2026-12-08T14:05:09Z");
        assert_eq!(human(NOT_AFTER), "Tuesday, 8 December 2026, 14:05 UTC");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn expiry_notice_names_certificate_vault_date_and_what_to_do() {
        let (subject, body) = expiry_notice(
            "prod",
            "web",
            NOT_AFTER,
            12,
            Path::new("/mnt/certs/prod/web"),
        );
        assert_eq!(
            subject,
            "certfs: certificate web in vault prod expires in 12 days (2026-12-08)"
        );
        for needle in [
            "\"web\" in vault \"prod\" expires in 12 days",
            "2026-12-08T14:05:09Z (Tuesday, 8 December 2026, 14:05 UTC)",
            "/mnt/certs/prod/web",
            "cp renewed.pfx /mnt/certs/prod/import/web.pfx",
            "/mnt/certs/prod/web/merge/",
            "contact of vault \"prod\"",
        ] {
            assert!(body.contains(needle), "body lacks {needle}:\n{body}");
        }
    }

    #[test]
    fn expiry_wording_follows_days_left() {
        let p = Path::new("/m/v/c");
        assert!(
            expiry_notice("v", "c", NOT_AFTER, 1, p)
                .0
                .contains("expires tomorrow")
        );
        assert!(
            expiry_notice("v", "c", NOT_AFTER, 0, p)
                .0
                .contains("expires today")
        );
        assert!(
            expiry_notice("v", "c", NOT_AFTER, -3, p)
                .0
                .contains("expired 3 days ago")
        );
    }

    #[test]
    fn renewal_needed_notice_points_at_the_csr_and_merge() {
        let (subject, body) =
            renewal_needed_notice("prod", "api", NOT_AFTER, Path::new("/mnt/certs/prod/api"));
        assert_eq!(
            subject,
            "certfs: certificate api in vault prod needs your action to renew (expires 2026-12-08)"
        );
        for needle in [
            "issuer is Unknown",
            "a new CSR is waiting at /mnt/certs/prod/api/request.csr;\nget it signed and drop the signed certificate into /mnt/certs/prod/api/merge/.",
            "2026-12-08T14:05:09Z",
            "cancellation_requested",
        ] {
            assert!(body.contains(needle), "body lacks {needle}:\n{body}");
        }
    }
}

//! The one way to change the vault: what a [`Transaction`](crate::vault::service::Transaction) tells, and when.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use parking_lot::Mutex;

use super::*;

/// A listener that keeps what it hears.
fn listening(s: &VaultService) -> Arc<Mutex<Vec<Changes>>> {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let kept = heard.clone();
    s.set_listener(Box::new(move |changes| kept.lock().push(changes.clone())));
    heard
}

#[test]
fn background_changes_are_announced_once_their_transaction_ends() {
    let (_dir, db) = temp_store();
    let s = service_with_vault(&db);
    let heard = listening(&s);
    let vault = node(&s, VAULT);
    let mut tx = s.transaction();
    tx.announce(Changes {
        dirs: vec![vault.clone()],
    });
    // Reads go on while the change holds the writer lock.
    assert!(s.model().vaults.len() == 1);
    assert!(heard.lock().is_empty(), "told before the change ended");
    tx.commit();
    assert_eq!(
        *heard.lock(),
        [Changes {
            dirs: vec![vault.clone()]
        }]
    );
    // A change that ends in an error still tells what it did.
    let failed: Result<(), VaultError> = s.change(|tx| {
        tx.announce(Changes {
            dirs: vec![Node::Root],
        });
        Err(VaultError::Conflict("in the way".into()))
    });
    assert!(failed.is_err());
    assert_eq!(heard.lock().len(), 2);
    assert_eq!(heard.lock()[1].dirs, [Node::Root]);
}

#[test]
fn hooks_after_a_switch_run_once_the_change_has_let_go_of_the_writer_lock() {
    let (dir, db) = temp_store();
    let s = with_certificate(&db, "web");
    let out = dir.path().join("lineage");
    let hooks = serde_json::json!({
        "command": ["sh", "-c", format!("printf %s \"$RENEWED_LINEAGE\" > {}", out.display())]
    });
    write(
        &s,
        &format!("{VAULT}/web/hooks.json"),
        hooks.to_string().as_bytes(),
    )
    .unwrap();
    let first = current_version(&s, &format!("{VAULT}/web"));
    // The service is not shared, so the hooks run on this thread as the
    // transaction ends, and record their run through a transaction of
    // their own: under a writer lock still held, that would never return.
    let (done, finished) = mpsc::channel();
    let s = Arc::new(s);
    let writer = s.clone();
    std::thread::spawn(move || {
        let policy = ec_policy("web", "Self");
        let _ = done.send(write(&writer, &format!("{VAULT}/web/policy.json"), &policy));
    });
    let written = finished
        .recv_timeout(Duration::from_secs(120))
        .expect("the policy write never returned: hooks ran under the writer lock");
    written.unwrap();
    let second = current_version(&s, &format!("{VAULT}/web"));
    assert_ne!(first, second);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "/prod/web");
    let status = read_json(&s, &format!("{VAULT}/web/status.json"));
    let hook = &status["last_hook"];
    assert_eq!(hook["version"], second.as_str(), "{status}");
    assert_eq!(hook["outcome"], "succeeded", "{status}");
}

#[test]
fn a_scheduled_purge_is_announced_once_the_writer_lock_is_free() {
    let (_dir, db) = temp_store();
    let s = with_certificate(&db, "web").into_shared();
    rmdir(&s, &format!("{VAULT}/web")).unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let (kept, service) = (heard.clone(), Arc::downgrade(&s));
    s.set_listener(Box::new(move |changes| {
        let free = service.upgrade().is_some_and(|s| s.writer_is_free());
        kept.lock().push((changes.clone(), free));
    }));
    // Far past any retention: the purge is due.
    assert_eq!(s.purge_expired(i64::MAX / 2), 1);
    let heard = heard.lock();
    assert!(!heard.is_empty());
    assert!(
        heard.iter().all(|(_, free)| *free),
        "announced under the writer lock: {heard:?}"
    );
}

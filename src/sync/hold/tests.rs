//! The passes over small exports: what comes out, in what order, and when.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::*;
use crate::ledger::{Ledger, OutcomeKind, SnapshotBuilder};

const CONFIG: &str = r#"
    [targets.t]
    provider = "meetinglawyers"
    base_url = "mock"
    key = "user_id"
    fields = { user_id = "id", status = { value = 2 } }
"#;

/// What came out of a pass, in order.
#[derive(Debug, PartialEq)]
enum Out {
    Done(String, OutcomeKind, Option<String>),
    /// A note handed on with the request before it.
    Note(String, String),
    Send(String, Operation),
    Refused,
    /// The requests counted for the estimate, and the leavers among them.
    Requests(u64, u64),
    /// What broke.
    Broken(String),
}
use crate::provider::Operation;

/// How a test pass runs.
#[derive(Clone, Copy, Default)]
struct Setup {
    /// The ledger knows u1 (unchanged), u7 and u8 (leavers); otherwise it knows nobody.
    known: bool,
    force: bool,
    count_first: bool,
    /// Ctrl-C as the first request is handed on.
    stop_at_first_send: bool,
    /// The planner panics once its pass is done, before the first request is handed on.
    panic_when_counted: bool,
    /// Requests handed on together (0: the default, one at a time).
    send_batch: usize,
}

/// Plans `export` (a CSV of ids) as `setup` says, with `--deactivate-missing`, holding at
/// most 2 requests.
fn plan_with(export: &str, setup: Setup) -> Vec<Out> {
    plan_in(CONFIG, export, setup, |_| {})
}

/// [`plan_with`] for the target `t` of `config`, the snapshot also knowing the users
/// `known` adds.
fn plan_in(
    config: &str,
    export: &str,
    setup: Setup,
    known: impl FnOnce(&mut SnapshotBuilder),
) -> Vec<Out> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, export).unwrap();
    let config = crate::config::from_str(config, &dir.path().join("u.toml")).unwrap();
    let target = config.target(None).unwrap().clone();
    let ledger = Ledger::open(dir.path().join("l.db")).unwrap();
    let hasher = ledger.hasher();
    let options = InputOptions::default();
    let mut snapshot = SnapshotBuilder::with_capacity(3, 0);
    known(&mut snapshot);
    if setup.known {
        let u1 = Rows::open(&input, &target, &options)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .result
            .payload()
            .unwrap()
            .clone();
        snapshot
            .push("u1", None, hasher.hash_payload(&u1), None, true)
            .unwrap();
        snapshot.push("u7", None, [0; 32], None, true).unwrap();
        snapshot.push("u8", None, [0; 32], None, true).unwrap();
    }
    let stop_reading = Arc::new(AtomicBool::new(false));
    let differ = Differ {
        ledger,
        snapshot: Arc::new(snapshot.finish()),
        hasher,
        target,
        full: false,
        target_rules: None,
    };
    let input = PassInput::Export {
        input: input.clone(),
        options,
        opened: None,
    };
    let guards = Guards {
        deactivate_missing: true,
        max_deactivate: 0.1,
        max_changes: None,
        force: setup.force,
    };
    let mut pass = Pass::new(differ, input, guards, stop_reading.clone());
    pass.hold_limit = 2;
    pass.count_first = setup.count_first;
    pass.send_batch = setup.send_batch.max(1);
    let out = std::cell::RefCell::new(Vec::new());
    let send = |item| {
        let mut out = out.borrow_mut();
        match item {
            PassItem::Done(outcomes) => out.extend(
                outcomes
                    .into_iter()
                    .map(|o| Out::Done(o.user_key.unwrap(), o.outcome, o.error_code)),
            ),
            PassItem::Send(requests) => {
                for p in requests {
                    if setup.stop_at_first_send {
                        stop_reading.store(true, Ordering::Relaxed);
                    }
                    let key = p.user.key;
                    out.push(Out::Send(key.clone(), p.op));
                    out.extend(
                        p.meta
                            .notes
                            .into_iter()
                            .map(|n| Out::Note(key.clone(), n.code.to_string())),
                    );
                }
            }
            PassItem::Refused(GuardRefusal::TooManyDeactivations { .. }) => out.push(Out::Refused),
            PassItem::Broken(what) => out.push(Out::Broken(what)),
            other => panic!("unexpected {other:?}"),
        }
        true
    };
    pass.run_counting(send, |n, leavers| {
        if setup.panic_when_counted {
            panic!("counted {n}");
        }
        out.borrow_mut().push(Out::Requests(n, leavers))
    });
    out.into_inner()
}

/// Plans `u1..u6` against a ledger that knows u1 (unchanged), u7 and u8 (leavers).
fn plan(force: bool) -> Vec<Out> {
    let setup = Setup {
        known: true,
        force,
        ..Setup::default()
    };
    plan_with("id\nu1\nu2\nu3\nu4\nu5\nu6\n", setup)
}

/// u2 twice: the second is rejected as a duplicate between requests.
const WITH_DUPLICATE: &str = "id\nu1\nu2\nu2\nu3\n";

#[test]
fn a_first_sync_sends_its_requests_as_it_reads_them() {
    let send = |key: &str| Out::Send(key.into(), Operation::Create);
    let duplicate = || {
        Out::Done(
            "u2".into(),
            OutcomeKind::Rejected,
            Some("duplicate_key".into()),
        )
    };
    // u1 is handed on before the duplicate further down is even planned, and nothing is
    // counted first.
    assert_eq!(
        plan_with(WITH_DUPLICATE, Setup::default()),
        [send("u1"), duplicate(), send("u2"), send("u3")]
    );
    // Wanting the count first (`sync -v`, `plan`), the requests wait for the pass's end.
    let counted = Setup {
        count_first: true,
        ..Setup::default()
    };
    assert_eq!(
        plan_with(WITH_DUPLICATE, counted),
        [
            Out::Requests(3, 0),
            duplicate(),
            send("u1"),
            send("u2"),
            send("u3")
        ]
    );
}

#[test]
fn gathered_requests_are_all_handed_on_and_the_last_few_at_the_end() {
    let gathered = Setup {
        send_batch: 2,
        ..Setup::default()
    };
    // u1 and u2 go together; the duplicate's outcome and u3 when the rows are over.
    assert_eq!(
        plan_with(WITH_DUPLICATE, gathered),
        [
            Out::Send("u1".into(), Operation::Create),
            Out::Send("u2".into(), Operation::Create),
            Out::Done(
                "u2".into(),
                OutcomeKind::Rejected,
                Some("duplicate_key".into())
            ),
            Out::Send("u3".into(), Operation::Create),
        ]
    );
}

#[test]
fn a_first_sync_stopped_records_the_request_it_held_back() {
    let stopped = Setup {
        stop_at_first_send: true,
        ..Setup::default()
    };
    // u2 was read (a request only leaves once the row after it reads cleanly), then Ctrl-C.
    assert_eq!(
        plan_with(WITH_DUPLICATE, stopped),
        [
            Out::Send("u1".into(), Operation::Create),
            Out::Done(
                "u2".into(),
                OutcomeKind::NotAttempted,
                Some("not_attempted".into())
            ),
        ]
    );
}

#[test]
fn requests_wait_for_the_leavers_and_the_rest_come_from_a_second_pass() {
    let send = |key: &str, op| Out::Send(key.into(), op);
    assert_eq!(
        plan(true),
        [
            // Counted once the pass is done, before any request is handed on (the
            // outcomes of the pass are still in their batch), the second pass's included.
            Out::Requests(7, 2),
            Out::Done("u1".into(), OutcomeKind::Unchanged, None),
            send("u7", Operation::Deactivate),
            send("u8", Operation::Deactivate),
            send("u2", Operation::Create),
            send("u3", Operation::Create),
            send("u4", Operation::Create),
            send("u5", Operation::Create),
            send("u6", Operation::Create),
        ]
    );
}

#[test]
fn a_row_read_by_both_passes_is_handed_on_once_with_its_note() {
    // u1, whom an earlier run deactivated, comes back to Faveo after the hold is full, so
    // that both passes read its row.
    const FAVEO: &str = r#"
        [targets.t]
        provider = "faveo"
        base_url = "mock"
        key = "user_name"
        fields = { user_name = "id", first_name = "first", last_name = "last" }
        options = { updates_remove_organisation_links = true }
    "#;
    let export = "id,first,last\nu2,Ana,Gil\nu3,Eva,Paz\nu4,Luis,Rey\nu1,Marc,Torres\n";
    let out = plan_in(FAVEO, export, Setup::default(), |snapshot| {
        snapshot
            .push("u1", Some("41"), [0; 32], None, false)
            .unwrap();
    });
    // Counted by the first pass, sent by the second, its note with it: the sync says the
    // note in its log once, with the row's outcome (`record::Recorder`).
    assert_eq!(
        out,
        [
            Out::Requests(4, 0),
            Out::Send("u2".into(), Operation::Create),
            Out::Send("u3".into(), Operation::Create),
            Out::Send("u4".into(), Operation::Create),
            Out::Send("u1".into(), Operation::Update),
            Out::Note("u1".into(), "reactivate_by_hand".into()),
        ]
    );
}

#[test]
fn a_refused_pass_sends_nothing_and_records_every_row() {
    let refused = |key: &str| {
        Out::Done(
            key.into(),
            OutcomeKind::NotAttempted,
            Some(GUARD_REFUSED.into()),
        )
    };
    assert_eq!(
        plan(false),
        [
            Out::Done("u1".into(), OutcomeKind::Unchanged, None),
            refused("u2"),
            refused("u3"),
            refused("u4"),
            refused("u5"),
            refused("u6"),
            Out::Refused,
        ]
    );
}

#[test]
fn a_planner_that_breaks_sends_nothing_more_and_records_what_it_held() {
    let broken = Setup {
        known: true,
        force: true,
        panic_when_counted: true,
        ..Setup::default()
    };
    let not_sent = |key: &str| {
        Out::Done(
            key.into(),
            OutcomeKind::NotAttempted,
            Some("not_attempted".into()),
        )
    };
    // No leaver is deactivated, no request handed on: the two requests held are recorded not
    // sent, and the listener is told what broke.
    assert_eq!(
        plan_with("id\nu1\nu2\nu3\nu4\nu5\nu6\n", broken),
        [
            Out::Done("u1".into(), OutcomeKind::Unchanged, None),
            not_sent("u2"),
            not_sent("u3"),
            Out::Broken("the planner panicked: counted 7".into()),
        ]
    );
}

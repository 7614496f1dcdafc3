//! Tests of the snapshot's layout: lookups by key and by fingerprint, replacement, size.

use super::*;

fn build(n: usize) -> Snapshot {
    let mut b = SnapshotBuilder::with_capacity(0, 0);
    for i in 0..n {
        let remote = (i % 3 == 0).then(|| i.to_string());
        b.push(
            &format!("user-{i}"),
            remote.as_deref(),
            [i as u8; 32],
            (i % 2 == 0).then_some([(i % 251) as u8; 16]),
            i % 10 != 0,
        )
        .unwrap();
    }
    b.finish()
}

#[test]
fn finds_every_user_and_no_other() {
    let s = build(5000);
    assert_eq!(s.len(), 5000);
    assert_eq!(s.active_len(), 4500);
    for i in 0..5000 {
        let u = s.get(&format!("user-{i}")).unwrap();
        assert_eq!(u.payload_hash, &[i as u8; 16]);
        assert_eq!(u.remote_id, (i % 3 == 0).then(|| i.to_string()).as_deref());
        assert_eq!(u.active, i % 10 != 0);
        assert_eq!(u.index, i);
    }
    assert!(s.get("user-5000").is_none());
    assert!(s.get("").is_none());
}

#[test]
fn pushing_a_key_again_replaces_it() {
    let mut b = SnapshotBuilder::with_capacity(2, 0);
    b.push("a", None, [1; 32], None, true).unwrap();
    b.push("a", Some("9"), [2; 32], Some([2; 16]), false)
        .unwrap();
    let s = b.finish();
    assert_eq!(s.len(), 1);
    assert_eq!(s.active_len(), 0);
    let a = s.get("a").unwrap();
    assert_eq!(
        (a.remote_id, a.payload_hash, a.active),
        (Some("9"), &[2; 16], false)
    );
}

#[test]
fn active_users_are_found_by_the_fingerprint_of_their_row() {
    let mut b = SnapshotBuilder::with_capacity(4, 0);
    b.push("a", None, [1; 32], Some([1; 16]), true).unwrap();
    b.push("b", None, [2; 32], Some([2; 16]), false).unwrap();
    b.push("c", None, [3; 32], None, true).unwrap();
    b.push("d", None, [4; 32], Some([4; 16]), true).unwrap();
    let s = b.finish();
    assert_eq!(s.by_source(&[1; 16]), s.position("a"));
    assert_eq!(s.by_source(&[4; 16]), s.position("d"));
    assert_eq!(s.get("d").unwrap().source_hash, Some(&[4; 16]));
    assert_eq!(
        s.by_source(&[2; 16]),
        None,
        "a deactivated user is not a shortcut"
    );
    assert_eq!(s.by_source(&[3; 16]), None);
}

#[test]
fn an_empty_snapshot_finds_nothing() {
    let s = SnapshotBuilder::with_capacity(0, 0).finish();
    assert!(s.is_empty());
    assert!(s.get("x").is_none());
}

#[test]
fn a_million_users_fit_well_under_200_mb() {
    let n = 1_000_000;
    let key_len = "0123456789abcdef0123456789abcdef".len();
    let mut b = SnapshotBuilder::with_capacity(n, n * (key_len + 7));
    let mut key = String::new();
    for i in 0..n {
        key.clear();
        key.push_str(&format!("{i:032x}"));
        let mut source = [0u8; 16];
        source[..8].copy_from_slice(&(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
        b.push(&key, Some(&format!("{i:07}")), [0; 32], Some(source), true)
            .unwrap();
    }
    let s = b.finish();
    let mb = s.memory_bytes() / 1_000_000;
    assert!(mb < 120, "a million users took {mb} MB");
    assert!(s.get(&format!("{:032x}", 123_456)).is_some());
}

#[test]
fn users_of_unique_keys_are_indexed_once_at_the_end() {
    // Past the size where both indexes are built on two threads, and below it.
    for n in [150_000, 500] {
        let mut b = SnapshotBuilder::of_unique_keys(n / 2, 0);
        for i in 0..n {
            let source = (i % 2 == 0).then(|| {
                let mut s = [0u8; 16];
                s[..8]
                    .copy_from_slice(&(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
                s
            });
            b.push_new(&format!("u{i}"), None, [1; 32], source, i % 7 != 0)
                .unwrap();
        }
        let s = b.finish();
        assert_eq!(s.len(), n);
        for i in (0..n).step_by(97) {
            assert_eq!(s.position(&format!("u{i}")), Some(i));
            let source = s.user_at(i).unwrap().source_hash.copied();
            let found = source.and_then(|h| s.by_source(&h));
            assert_eq!(found, (i % 2 == 0 && i % 7 != 0).then_some(i), "{n}: u{i}");
        }
        assert_eq!(s.position("u-1"), None);
    }
}

#[test]
fn a_push_after_unique_keys_indexes_them_first() {
    let mut b = SnapshotBuilder::of_unique_keys(0, 0);
    b.push_new("a", None, [1; 32], None, true).unwrap();
    b.push_new("b", None, [2; 32], None, true).unwrap();
    b.push("a", Some("9"), [3; 32], None, true).unwrap();
    let s = b.finish();
    assert_eq!(s.len(), 2);
    assert_eq!(s.get("a").unwrap().remote_id, Some("9"));
    assert_eq!(s.get("b").unwrap().index, 1);
}

#[test]
fn many_fingerprints_are_found_as_one_by_one() {
    let s = build(5000);
    let mut sources: Vec<Option<SourceHash>> = (0..300u32)
        .map(|i| (i % 5 != 0).then_some([(i % 251) as u8; 16]))
        .collect();
    sources.push(Some([255; 16]));
    let mut found = vec![Some(7)];
    s.by_source_many(&sources, &mut found);
    let one_by_one: Vec<Option<usize>> = sources
        .iter()
        .map(|h| h.as_ref().and_then(|h| s.by_source(h)))
        .collect();
    assert_eq!(found, one_by_one);
    assert!(found.iter().flatten().count() > 100);
    // Nothing to find in a snapshot without fingerprints.
    SnapshotBuilder::with_capacity(0, 0)
        .finish()
        .by_source_many(&sources, &mut found);
    assert_eq!(found, vec![None; sources.len()]);
}

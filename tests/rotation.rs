//! Rotation: every way logrotate moves lines around, each ending with every line counted
//! exactly once (per-day rollups and visits equal a single clean pass over the same lines).

// The files compared by extension are arkwatch's own, always named in lowercase.
#![allow(clippy::case_sensitive_file_extension_comparisons)]

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::{Site, gzip, lines};

#[test]
fn rename_and_create() {
    let site = Site::new("");
    site.append("access.log", &lines(0..300));
    assert_eq!(site.ingest()["lines"], 300);
    // Written after the run, before the rotation: must come from access.log.1.
    site.append("access.log", &lines(300..400));
    fs::rename(&site.log, site.path("access.log.1")).unwrap();
    site.append("access.log", &lines(400..450));
    let summary = site.ingest();
    assert_eq!(summary["lines"], 150);
    assert_eq!(site.ingest()["lines"], 0, "a second run reads nothing");
    site.assert_same_as_clean_pass(&lines(0..450));
}

#[test]
fn lines_written_to_the_renamed_file_before_nginx_reopens() {
    let site = Site::new("");
    site.append("access.log", &lines(0..100));
    site.ingest();
    fs::rename(&site.log, site.path("access.log.1")).unwrap();
    site.append("access.log", &lines(100..120));
    assert_eq!(site.ingest()["lines"], 20);
    // nginx still had the old file open: these land in access.log.1 after our run.
    site.append("access.log.1", &lines(120..130));
    assert_eq!(site.ingest()["lines"], 10);
    site.assert_same_as_clean_pass(&lines(0..130));
}

#[test]
fn copytruncate() {
    let site = Site::new("");
    site.append("access.log", &lines(0..300));
    site.ingest();
    site.append("access.log", &lines(300..380));
    fs::copy(&site.log, site.path("access.log.1")).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&site.log)
        .unwrap();
    site.append("access.log", &lines(380..400));
    assert_eq!(site.ingest()["lines"], 100);
    site.assert_same_as_clean_pass(&lines(0..400));
}

#[test]
fn copytruncate_observed_between_copy_and_truncate() {
    let site = Site::new("");
    site.append("access.log", &lines(0..200));
    site.ingest();
    site.append("access.log", &lines(200..250));
    // The run happens after the copy, before the truncate: two files, same content.
    fs::copy(&site.log, site.path("access.log.1")).unwrap();
    site.append("access.log", &lines(250..260));
    assert_eq!(
        site.ingest()["lines"],
        60,
        "the copy is recognised, the original is read"
    );
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&site.log)
        .unwrap();
    site.append("access.log", &lines(260..270));
    assert_eq!(site.ingest()["lines"], 10);
    site.assert_same_as_clean_pass(&lines(0..270));
}

#[test]
fn delaycompress_then_gzip_between_runs() {
    let site = Site::new("");
    site.append("access.log", &lines(0..200));
    site.ingest();
    // First rotation (delaycompress: .1 stays plain).
    site.append("access.log", &lines(200..260));
    fs::rename(&site.log, site.path("access.log.1")).unwrap();
    site.append("access.log", &lines(260..300));
    site.ingest();
    // Lines still reaching .1, then the next rotation compresses .1 into .2.gz.
    site.append("access.log.1", &lines(300..310));
    site.append("access.log", &lines(310..330));
    gzip(&site.path("access.log.1"), &site.path("access.log.2.gz"));
    fs::rename(&site.log, site.path("access.log.1")).unwrap();
    site.append("access.log", &lines(330..340));
    assert_eq!(site.ingest()["lines"], 40);
    // The archive is now known by its size and mtime and is not decompressed again.
    let again = site.ingest();
    assert_eq!(again["lines"], 0);
    let read: Vec<&str> = again["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        !read.iter().any(|p| p.ends_with(".gz")),
        "archive re-read: {read:?}"
    );
    site.assert_same_as_clean_pass(&lines(0..340));
}

#[test]
fn two_rotations_between_runs() {
    let site = Site::new("");
    site.append("access.log", &lines(0..100));
    site.ingest();
    site.append("access.log", &lines(100..150));
    fs::rename(&site.log, site.path("access.log.1")).unwrap();
    site.append("access.log", &lines(150..200));
    gzip(&site.path("access.log.1"), &site.path("access.log.2.gz"));
    fs::rename(&site.log, site.path("access.log.1")).unwrap();
    site.append("access.log", &lines(200..230));
    assert_eq!(site.ingest()["lines"], 130);
    site.assert_same_as_clean_pass(&lines(0..230));
}

#[test]
fn dateext_siblings_are_followed() {
    let site = Site::new("");
    site.append("access.log", &lines(0..100));
    site.ingest();
    site.append("access.log", &lines(100..120));
    fs::rename(&site.log, site.path("access.log-20261121")).unwrap();
    site.append("access.log", &lines(120..130));
    assert_eq!(site.ingest()["lines"], 30);
    site.assert_same_as_clean_pass(&lines(0..130));
}

#[test]
fn partial_line_is_read_once_complete() {
    let site = Site::new("");
    let all = lines(0..50);
    let last = &all[49];
    let (head, tail) = last.split_at(last.len() / 2);
    site.append("access.log", &all[..49]);
    fs::OpenOptions::new().append(true).open(&site.log).unwrap();
    std::io::Write::write_all(
        &mut fs::OpenOptions::new().append(true).open(&site.log).unwrap(),
        head.as_bytes(),
    )
    .unwrap();
    let first = site.ingest();
    assert_eq!(first["lines"], 49, "the partial line waits");
    let expected_bytes: u64 = all[..49].iter().map(|l| l.len() as u64 + 1).sum();
    assert_eq!(first["files"][0]["bytes_read"], expected_bytes);
    std::io::Write::write_all(
        &mut fs::OpenOptions::new().append(true).open(&site.log).unwrap(),
        format!("{tail}\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(site.ingest()["lines"], 1);
    site.assert_same_as_clean_pass(&all);
}

#[test]
fn new_file_reusing_a_deleted_files_inode() {
    let site = Site::new("");
    site.append("access.log", &lines(0..100));
    site.ingest();
    let old_inode = fs::metadata(&site.log).unwrap().ino();
    fs::remove_file(&site.log).unwrap();
    // Filesystems hand a freed inode out again soon; try until it happens (or give up and
    // still check the outcome, saying so).
    let mut reused = false;
    for attempt in 0..200 {
        let path = if attempt == 0 {
            site.log.clone()
        } else {
            site.path(&format!("spare{attempt}"))
        };
        fs::File::create(&path).unwrap();
        if fs::metadata(&path).unwrap().ino() == old_inode {
            if path != site.log {
                fs::rename(&path, &site.log).unwrap();
            }
            reused = true;
            break;
        }
        if path == site.log {
            fs::remove_file(&path).unwrap();
        }
    }
    for attempt in 1..200 {
        let _ = fs::remove_file(site.path(&format!("spare{attempt}")));
    }
    if !reused {
        eprintln!(
            "note: this filesystem did not reuse the inode; the fingerprint rule is still checked"
        );
    }
    // The new file is longer than the old offset, so an inode-based tailer would skip its start.
    site.append("access.log", &lines(100..400));
    assert_eq!(
        site.ingest()["lines"],
        300,
        "the whole new file is read (inode reused: {reused})"
    );
    let mut all = lines(0..400);
    all.sort();
    site.assert_same_as_clean_pass(&all);
}

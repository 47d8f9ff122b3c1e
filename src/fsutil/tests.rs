//! Links never followed, temporary files exclusive, modes private, logs only regular files.

use super::*;

#[test]
fn atomic_write_replaces_content_and_sets_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    write_atomic(&path, b"one", 0o600).unwrap();
    write_atomic(&path, b"two", 0o600).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"two");
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // No temp file is left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn links_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    let link = dir.path().join("state.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let err = write_atomic(&link, b"x", 0o600).unwrap_err();
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    let err = open_append(&link).unwrap_err();
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    assert!(read(&link).is_err());
    assert_eq!(fs::read(&victim).unwrap(), b"precious");

    let sub = dir.path().join("outbox");
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), &sub).unwrap();
    assert!(private_dir(dir.path(), "outbox").is_err());
}

#[test]
fn a_fifo_is_not_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("access.log");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let err = open_log(&fifo).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert!(open_log(Path::new("/dev/zero")).is_err());
}

#[test]
fn temps_are_unpredictable_and_removed_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.txt");
    let a = TempFile::beside(&target, 0o600).unwrap();
    let b = TempFile::beside(&target, 0o600).unwrap();
    assert_ne!(a.path(), b.path());
    drop((a, b));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

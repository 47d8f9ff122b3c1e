//! Every file arkwatch writes goes through this module, with the guarantees the stores rely on
//! and the ones a tool run as root from cron owes its host:
//!
//! - **no link is followed**: files arkwatch creates, appends to or replaces are opened with
//!   `O_NOFOLLOW`, and the directories it creates inside `data_dir` are checked to be real
//!   directories; a link where arkwatch expects its own file is an error naming it;
//! - **temporary files are created exclusively** (`O_EXCL`) under an unpredictable name
//!   (`.NAME.1f3a…9c.tmp` beside the target), so nobody can plant one in advance;
//! - **atomic replace**: temp file, fsync, rename, fsync the directory;
//! - **private modes**: directories 0700, files 0600 (they hold addresses);
//! - **errors name the path**.
//!
//! Access logs are not arkwatch's files: they are read through [`open_log`], which follows a
//! configured symlink but refuses anything that is not a regular file (a FIFO or `/dev/zero`
//! would block or never end).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::exit::Fatal;

/// Flags of every open of a file arkwatch owns.
const OWN: i32 = libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// Maps the errno of a refused link to a sentence.
fn explain(err: io::Error, path: &Path) -> anyhow::Error {
    if err.raw_os_error() == Some(libc::ELOOP) {
        anyhow::anyhow!(
            "{} is a symbolic link; arkwatch never follows links to the files it writes \
             (remove the link)",
            path.display()
        )
    } else {
        anyhow::Error::new(err)
    }
}

/// Replaces `path` with `bytes` so that a reader (or a crash) sees either the old file or the
/// new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut tmp = TempFile::beside(path, mode)?;
    tmp.write_all(bytes)?;
    tmp.commit()
}

/// A file being written under a temporary name beside its target; [`TempFile::commit`] moves
/// it into place, dropping it uncommitted removes it.
pub struct TempFile {
    file: Option<File>,
    path: PathBuf,
    target: PathBuf,
}

impl TempFile {
    /// Creates `.NAME.RANDOM.tmp` beside `target`, exclusively, with `mode`. A `target` that is
    /// a symbolic link is refused: the rename would replace the link, not what it names, but
    /// someone expected otherwise.
    pub fn beside(target: &Path, mode: u32) -> Result<TempFile> {
        refuse_link(target)?;
        let name = target
            .file_name()
            .map_or_else(|| "unnamed".into(), |n| n.to_string_lossy().into_owned());
        let mut random = [0u8; 8];
        getrandom::fill(&mut random)
            .map_err(|err| anyhow::anyhow!("cannot get random bytes for a file name: {err}"))?;
        let hex = hex(&random);
        let path = parent(target).join(format!(".{name}.{hex}.tmp"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(OWN)
            .open(&path)
            .map_err(|err| explain(err, &path))
            .with_context(|| format!("cannot create {}", path.display()))?;
        // The umask may have narrowed the mode; a wider one (0644 for a --out file) is asked for.
        file.set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        Ok(TempFile {
            file: Some(file),
            path,
            target: target.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let file = self.file.as_mut().expect("open until commit");
        file.write_all(bytes)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// The open file, for writers that stream (`io::copy`).
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until commit")
    }

    /// fsync, rename over the target, fsync the directory.
    pub fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("open until commit");
        file.sync_all()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        drop(file);
        fs::rename(&self.path, &self.target).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.path.display(),
                self.target.display()
            )
        })?;
        sync_dir(parent(&self.target))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// An error when `path` is a symbolic link.
pub fn refuse_link(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(explain(io::Error::from_raw_os_error(libc::ELOOP), path))
        }
        _ => Ok(()),
    }
}

/// Opens (creating, mode 0600) one of arkwatch's own files for appending.
pub fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(OWN)
        .open(path)
        .map_err(|err| explain(err, path))
        .with_context(|| format!("cannot open {} for appending", path.display()))
}

/// Opens (creating, mode 0600) one of arkwatch's own files for reading and appending.
pub fn open_append_read(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(OWN)
        .open(path)
        .map_err(|err| explain(err, path))
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Opens one of arkwatch's own files for reading and writing (creating it, mode 0600).
pub fn open_rw(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .mode(0o600)
        .custom_flags(OWN)
        .open(path)
}

/// Opens one of arkwatch's own files for reading, never through a link.
pub fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(OWN).open(path)
}

/// Reads one of arkwatch's own files whole, never through a link.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_read(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// [`read`], as text.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read(path)?).map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))
}

/// [`read`], with a missing file as `None` and other errors naming the path.
pub fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>> {
    match read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => {
            Err(explain(err, path)).with_context(|| format!("cannot read {}", path.display()))
        }
    }
}

/// Opens an access log for reading. A configured log may be a link, but it must lead to a
/// regular file: a FIFO would block the run (holding the lock) and a device never ends.
/// `O_NONBLOCK` makes the open itself return even for a FIFO with no writer.
pub fn open_log(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(path));
    }
    Ok(file)
}

/// The error for a log that is not a regular file.
pub fn not_regular(_path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file (a FIFO, a device or a directory); arkwatch reads only regular \
         files and skipped it",
    )
}

/// Makes a rename or a file creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot fsync directory {}", dir.display()))
}

/// Creates `dir` and its parents with mode 0700 (the stores hold IP addresses). Used for
/// `data_dir` itself, which may sit below links of the host's own making.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))
}

/// `root/rel`, each component created 0700 when missing; an existing component must be a real
/// directory, not a link (inside `data_dir` nothing is followed).
pub fn private_dir(root: &Path, rel: &str) -> Result<PathBuf> {
    if !root.exists() {
        create_private_dir(root)?;
    }
    let mut dir = root.to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_dir() => {}
            Ok(_) => {
                return Err(anyhow::anyhow!(
                    "{} is not a directory (a link or a file); arkwatch never follows links \
                     inside data_dir (remove it)",
                    dir.display()
                ));
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                match fs::DirBuilder::new().mode(0o700).create(&dir) {
                    Ok(()) => {}
                    Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(err) => {
                        return Err(err)
                            .with_context(|| format!("cannot create directory {}", dir.display()));
                    }
                }
            }
            Err(err) => return Err(err).with_context(|| format!("cannot stat {}", dir.display())),
        }
    }
    Ok(dir)
}

/// Removes `path`; a file already gone is fine.
pub fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Files in `dir` whose names end in `suffix`, sorted (none when `dir` does not exist). Dot
/// files (temporary files) and links are left out.
pub fn list(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if regular && name.ends_with(suffix) && !name.starts_with('.') {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Removes the temporary files a killed run left in `dir` (`.NAME.….tmp`). Call under the
/// state lock: no other run is writing one.
pub fn remove_stale_temps(dir: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.')
            && name.ends_with(".tmp")
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            remove_file(&entry.path())?;
        }
    }
    Ok(())
}

/// The parent directory of `path` (`.` for a bare name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Decompresses one of arkwatch's own gzip files (or a rotated log) whole.
pub fn read_gz(path: &Path) -> Result<Vec<u8>> {
    let file = open_read(path)
        .map_err(|err| explain(err, path))
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    flate2::read::MultiGzDecoder::new(io::BufReader::new(file))
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot decompress {}", path.display()))?;
    Ok(bytes)
}

/// Compresses `bytes` and replaces `path` with them atomically.
pub fn write_gz_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)
        .and_then(|()| enc.flush())
        .context("cannot compress")?;
    let gz = enc.finish().context("cannot compress")?;
    write_atomic(path, &gz, 0o600)
}

/// Whether this process can create files in `dir` (a read-only mount, or a directory without
/// write permission, cannot): a probe file is created exclusively and removed.
pub fn writable(dir: &Path) -> bool {
    TempFile::beside(&dir.join("probe"), 0o600).is_ok()
}

/// The effective user of this process.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A user's name for messages (`arkwatch (uid 105)`), from `/etc/passwd` when it is there.
pub fn user_name(uid: u32) -> String {
    let name = fs::read_to_string("/etc/passwd").ok().and_then(|text| {
        text.lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?;
            (id.parse() == Ok(uid)).then(|| name.to_string())
        })
    });
    match name {
        Some(name) => format!("{name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

/// Whether this process may write into `data_dir`, as OpenSSH's `StrictModes` decides for
/// `~/.ssh`: the directory must belong to the user that runs arkwatch and must not be
/// writable by its group or by others. A missing directory is created 0700 (and so is ours).
/// Otherwise a root run would leave root-owned files that make every later run of the service
/// user fail, and a directory others may write lets them plant links for the next run.
pub fn check_data_dir(data_dir: &Path) -> Result<()> {
    let meta = match fs::metadata(data_dir) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            create_private_dir(data_dir)?;
            return Ok(());
        }
        Err(err) => return Err(err).with_context(|| format!("cannot stat {}", data_dir.display())),
    };
    if !meta.is_dir() {
        return Err(Fatal::Config(format!(
            "data_dir {} is not a directory",
            data_dir.display()
        ))
        .into());
    }
    let me = euid();
    if meta.uid() != me {
        return Err(Fatal::Denied(format!(
            "data_dir {} belongs to {}, but this run is {}; run arkwatch as that user (sudo -u \
             {} arkwatch …), so that every file stays theirs, or give them the directory \
             (chown -R)",
            data_dir.display(),
            user_name(meta.uid()),
            user_name(me),
            user_name(meta.uid()).split(' ').next().unwrap_or("them"),
        ))
        .into());
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Fatal::Denied(format!(
            "data_dir {} is writable by its group or by others (mode {:o}); anyone who can \
             write there could plant links for the next run. Run chmod 700 {}",
            data_dir.display(),
            meta.mode() & 0o7777,
            data_dir.display()
        ))
        .into());
    }
    Ok(())
}

/// Bytes as lowercase hex, for file names and keys.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests;

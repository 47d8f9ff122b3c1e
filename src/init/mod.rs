//! `arkwatch init`: a first configuration from the server it runs on. It finds the access logs
//! nginx and Apache write (their `access_log`/`CustomLog` directives, or the paths given),
//! takes each one's format from the server's own definitions and confirms it on the log's first
//! lines, takes the time zone from the system, the site's hosts from its server names, proposes
//! the tracked pages from the paths the logs hold most, and renders a commented configuration
//! that the configuration loader accepts.
//!
//! Every path is read under a root (`/`, or a tree standing in for a server in tests), and the
//! configuration names the files as they are found under it.

pub mod apache;
pub mod nginx;
mod pages;
mod render;

pub use render::render;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::accesslog::parser::Parser;
use crate::log_format::LogFormat;
use crate::page_tier::PageTier;

/// A log a web server's configuration declares.
#[derive(Clone, Debug)]
pub struct DeclaredLog {
    /// As the server names it (not under the root yet).
    pub path: PathBuf,
    pub format_name: String,
    /// The format as arkwatch's `format` key takes it.
    pub spec: String,
    pub declared_in: PathBuf,
    /// The names of the server (virtual host) declaring it; empty at the top level.
    pub servers: Vec<String>,
}

/// What one web server's configuration says.
#[derive(Debug, Default)]
pub struct Discovered {
    pub server: String,
    pub config: PathBuf,
    pub hosts: Vec<String>,
    pub logs: Vec<DeclaredLog>,
    /// Every format it declares, by name, as `format` specs.
    pub formats: BTreeMap<String, String>,
    pub notes: Vec<String>,
}

/// The files a glob names (an include of nginx or Apache), sorted as both servers read them.
pub(crate) fn glob_files(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let text = pattern
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", pattern.display()))?;
    let paths = glob::glob(text).map_err(|e| e.to_string())?;
    let mut out: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    Ok(out)
}

/// `path` as found under `root`.
pub fn rooted(root: &Path, path: &Path) -> PathBuf {
    if root == Path::new("/") {
        return path.to_path_buf();
    }
    root.join(path.strip_prefix("/").unwrap_or(path))
}

pub struct Options {
    pub root: PathBuf,
    /// Logs named on the command line: only these, their formats detected.
    pub logs: Vec<PathBuf>,
}

/// A log of the proposal.
#[derive(Debug)]
pub struct Proposed {
    pub path: PathBuf,
    pub spec: String,
    /// Where it was found, for the comment above it.
    pub origin: String,
    /// Sample lines read and parsed with `spec` (0 of 0: the log is empty or unreadable).
    pub sampled: u64,
    pub parsed: u64,
    /// The file is there: a log the server has not written yet is written commented out, so
    /// that scans do not fail on it.
    pub exists: bool,
    /// Why arkwatch cannot read the format (it lacks a field arkwatch needs, say): the log is
    /// then written commented out too, with the reason.
    pub unreadable: Option<String>,
}

#[derive(Debug)]
pub struct Page {
    pub prefix: String,
    pub tier: PageTier,
    /// Pageviews seen in the sample; None for a default.
    pub views: Option<u64>,
}

/// The configuration `init` would write.
#[derive(Debug)]
pub struct Proposal {
    pub logs: Vec<Proposed>,
    pub timezone: String,
    pub timezone_from: String,
    pub site_hosts: Vec<String>,
    pub site_name: String,
    pub pages: Vec<Page>,
    pub data_dir: PathBuf,
    /// The web server configurations read.
    pub read: Vec<String>,
    pub notes: Vec<String>,
}

/// Lines of each log read to confirm its format.
const SAMPLE_LINES: usize = 2000;

/// Looks at the server and proposes a configuration.
pub fn propose(opts: &Options) -> Result<Proposal> {
    let mut found = Vec::new();
    for d in [nginx::discover(&opts.root)?, apache::discover(&opts.root)?]
        .into_iter()
        .flatten()
    {
        found.push(d);
    }
    let mut notes: Vec<String> = found.iter().flat_map(|d| d.notes.clone()).collect();
    let formats: Vec<String> = found
        .iter()
        .flat_map(|d| d.formats.values().cloned())
        .chain(["combined", "common", "vcombined"].map(String::from))
        .collect();
    let mut logs: Vec<Proposed> = Vec::new();
    if opts.logs.is_empty() {
        for d in &found {
            for log in &d.logs {
                let path = rooted(&opts.root, &log.path);
                if logs.iter().any(|l| l.path == path) {
                    continue;
                }
                let servers = if log.servers.is_empty() {
                    String::new()
                } else {
                    format!(", server {}", log.servers.join(" "))
                };
                let origin = format!(
                    "{} {}{servers} (format {})",
                    d.server,
                    log.declared_in.display(),
                    log.format_name
                );
                logs.push(confirm(path, &log.spec, origin, &formats, &mut notes));
            }
        }
    } else {
        for path in &opts.logs {
            let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            let declared = found
                .iter()
                .flat_map(|d| d.logs.iter())
                .find(|l| rooted(&opts.root, &l.path) == path);
            let spec = declared.map_or("combined", |l| l.spec.as_str()).to_string();
            logs.push(confirm(
                path,
                &spec,
                "named on the command line".to_string(),
                &formats,
                &mut notes,
            ));
        }
    }
    let (timezone, timezone_from) = timezone(&opts.root);
    let site_hosts = site_hosts(found.iter().flat_map(|d| d.hosts.iter()));
    let pages = pages::propose(&logs);
    Ok(Proposal {
        site_name: site_hosts
            .first()
            .cloned()
            .unwrap_or_else(|| "ArkWatch".to_string()),
        site_hosts,
        timezone,
        timezone_from,
        pages,
        data_dir: data_dir(&opts.root),
        read: found
            .iter()
            .map(|d| format!("{} {}", d.server, d.config.display()))
            .collect(),
        logs,
        notes,
    })
}

/// Checks a log's declared format on its first lines; when most do not parse, the format of
/// those known here that parses the most is taken instead, and a note says so.
fn confirm(
    path: PathBuf,
    spec: &str,
    origin: String,
    formats: &[String],
    notes: &mut Vec<String>,
) -> Proposed {
    let lines = sample(&path);
    let score = |spec: &str| -> Option<u64> {
        let format = LogFormat::compile(spec).ok()?;
        let mut parser = Parser::new(&format);
        Some(lines.iter().filter(|l| parser.parse(l).is_ok()).count() as u64)
    };
    let sampled = lines.len() as u64;
    let mut best = (spec.to_string(), score(spec));
    if best.1.is_none() {
        notes.push(format!(
            "{}: its format cannot be read by arkwatch ({spec:?})",
            path.display()
        ));
    }
    if sampled > 0 && best.1.unwrap_or(0) * 10 < sampled * 9 {
        for other in formats {
            let s = score(other);
            if s > best.1 && s > Some(0) {
                best = (other.clone(), s);
            }
        }
        if best.0 != spec {
            notes.push(format!(
                "{}: the format {spec:?} parses few of its first lines; {} of {sampled} parse with \
                 the one written instead",
                path.display(),
                best.1.unwrap_or(0)
            ));
        }
    }
    Proposed {
        exists: path.is_file(),
        unreadable: LogFormat::compile(&best.0).err().map(|e| e.to_string()),
        path,
        spec: best.0,
        origin,
        sampled,
        parsed: best.1.unwrap_or(0),
    }
}

/// The first lines of a log (of its `.1` sibling when the live file is empty).
fn sample(path: &Path) -> Vec<Vec<u8>> {
    let mut candidates = vec![path.to_path_buf()];
    let mut one = path.as_os_str().to_owned();
    one.push(".1");
    candidates.push(PathBuf::from(one));
    for p in candidates {
        let Ok(file) = crate::fsutil::open_log(&p) else {
            continue;
        };
        let lines: Vec<Vec<u8>> = BufReader::new(file)
            .split(b'\n')
            .map_while(Result::ok)
            .filter(|l| !l.is_empty())
            .take(SAMPLE_LINES)
            .collect();
        if !lines.is_empty() {
            return lines;
        }
    }
    Vec::new()
}

/// The system's time zone: `/etc/timezone`, else the target of `/etc/localtime`, else `$TZ`.
fn timezone(root: &Path) -> (String, String) {
    let valid = |name: &str| name.parse::<chrono_tz::Tz>().is_ok();
    let file = rooted(root, Path::new("/etc/timezone"));
    if let Ok(text) = std::fs::read_to_string(&file) {
        let name = text.trim();
        if valid(name) {
            return (name.to_string(), file.display().to_string());
        }
    }
    let link = rooted(root, Path::new("/etc/localtime"));
    if let Ok(target) = std::fs::read_link(&link) {
        let target = target.to_string_lossy().into_owned();
        if let Some((_, name)) = target.split_once("zoneinfo/")
            && valid(name)
        {
            return (name.to_string(), link.display().to_string());
        }
    }
    if root == Path::new("/")
        && let Ok(name) = std::env::var("TZ")
        && valid(name.trim_start_matches(':'))
    {
        return (name.trim_start_matches(':').to_string(), "$TZ".to_string());
    }
    (
        "UTC".to_string(),
        "no time zone found; the default".to_string(),
    )
}

/// Server names as `site_hosts`: no catch-all, regex, address or local name, and a subdomain
/// of a host already listed left out (subdomains are internal by themselves).
fn site_hosts<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for name in names {
        let name = name
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .trim_end_matches(".*")
            .to_ascii_lowercase();
        let name = name.split(':').next().unwrap_or_default().to_string();
        let usable = name.contains('.')
            && !name.starts_with('~')
            && !name.contains(['$', '*', '\\', '(', '['])
            && name.parse::<std::net::IpAddr>().is_err()
            && name != "localhost";
        if usable && !hosts.contains(&name) {
            hosts.push(name);
        }
    }
    let all = hosts.clone();
    hosts.retain(|h| !all.iter().any(|p| h != p && h.ends_with(&format!(".{p}"))));
    hosts
}

/// Where the data goes: the package's `/var/lib/arkwatch` for root or where it exists, else
/// under the user's home.
fn data_dir(root: &Path) -> PathBuf {
    let system = rooted(root, Path::new("/var/lib/arkwatch"));
    if root != Path::new("/") || crate::fsutil::euid() == 0 || system.is_dir() {
        return system;
    }
    if let Some(base) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(base).join("arkwatch");
    }
    std::env::var_os("HOME").map_or(system, |home| {
        PathBuf::from(home).join(".local/share/arkwatch")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_hosts_drop_catch_alls_and_subdomains() {
        let names: Vec<String> = [
            "_",
            "www.acme.example",
            "acme.example",
            "*.shop.example",
            "~^(?<user>.+)\\.example\\.net$",
            "localhost",
            "192.0.2.1",
            "api.acme.example:8080",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(site_hosts(names.iter()), ["acme.example", "shop.example"]);
    }
}

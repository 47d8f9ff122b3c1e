//! Reads an Apache configuration for `init`: its `CustomLog` and `LogFormat` directives and the
//! `ServerName`/`ServerAlias` of each virtual host, following `Include` and `IncludeOptional`
//! from `apache2.conf` (Debian) or `httpd.conf` (Red Hat), with `${VAR}` taken from
//! `envvars`. An Apache `LogFormat` string is translated to the `$variables` arkwatch reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{DeclaredLog, Discovered, rooted};
use crate::log_format::apache::{BUILTIN, translate};

struct Walk<'a> {
    root: &'a Path,
    server_root: PathBuf,
    vars: BTreeMap<String, String>,
    formats: BTreeMap<String, String>,
    /// (log path, format: a nickname or a format string, the file declaring it, virtual host)
    logs: Vec<(String, String, PathBuf, Option<usize>)>,
    hosts: Vec<Vec<String>>,
    files: Vec<PathBuf>,
    notes: Vec<String>,
}

/// Reads the Apache configuration under `root`. None when there is no Apache here.
pub fn discover(root: &Path) -> Result<Option<Discovered>> {
    let candidates = ["/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf"];
    let Some(main) = candidates
        .iter()
        .map(|c| rooted(root, Path::new(c)))
        .find(|p| p.is_file())
    else {
        return Ok(None);
    };
    let server_root = if main.ends_with("conf/httpd.conf") {
        main.parent().and_then(Path::parent)
    } else {
        main.parent()
    }
    .unwrap_or(root)
    .to_path_buf();
    let mut walk = Walk {
        root,
        vars: envvars(&server_root.join("envvars")),
        server_root,
        formats: BUILTIN
            .iter()
            .map(|(n, f)| ((*n).to_string(), (*f).to_string()))
            .collect(),
        logs: Vec::new(),
        hosts: Vec::new(),
        files: Vec::new(),
        notes: Vec::new(),
    };
    walk.file(&main, 0)?;
    Ok(Some(walk.finish()))
}

/// `export APACHE_LOG_DIR=/var/log/apache2$SUFFIX` and the like, from Debian's `envvars`.
fn envvars(path: &Path) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::from([("APACHE_LOG_DIR".to_string(), "/var/log/apache2".to_string())]);
    let Ok(text) = std::fs::read_to_string(path) else {
        return vars;
    };
    for line in text.lines() {
        let line = line.trim().trim_start_matches("export ").trim();
        if let Some((name, value)) = line.split_once('=')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            let value = value.trim_matches('"').replace("$SUFFIX", "");
            if !value.contains('$') {
                vars.insert(name.to_string(), value);
            }
        }
    }
    vars
}

/// One line's words: quotes undone (`\"` inside them), the rest split on white space.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut word = String::new();
            while let Some(ch) = chars.next() {
                match ch {
                    '"' => break,
                    '\\' if chars.peek() == Some(&'"') => {
                        word.push('"');
                        chars.next();
                    }
                    ch => word.push(ch),
                }
            }
            out.push(word);
        } else {
            let mut word = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                word.push(ch);
                chars.next();
            }
            out.push(word);
        }
    }
    out
}

impl Walk<'_> {
    fn file(&mut self, path: &Path, depth: usize) -> Result<()> {
        if depth > 16 || self.files.iter().any(|f| f == path) {
            return Ok(());
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read Apache configuration {}", path.display()))?;
        self.files.push(path.to_path_buf());
        let mut vhost: Option<usize> = None;
        let mut joined = String::new();
        for raw in text.lines() {
            // A trailing backslash continues the directive on the next line.
            if let Some(part) = raw.strip_suffix('\\') {
                joined.push_str(part);
                joined.push(' ');
                continue;
            }
            joined.push_str(raw);
            let line = std::mem::take(&mut joined);
            let line = self.expand(line.trim());
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("<virtualhost") {
                self.hosts.push(Vec::new());
                vhost = Some(self.hosts.len() - 1);
                continue;
            }
            if lower.starts_with("</virtualhost") {
                vhost = None;
                continue;
            }
            let w = words(&line);
            let Some((name, args)) = w.split_first() else {
                continue;
            };
            match name.to_ascii_lowercase().as_str() {
                "include" | "includeoptional" => {
                    for pattern in args {
                        for p in self.include(pattern) {
                            self.file(&p, depth + 1)?;
                        }
                    }
                }
                "logformat" => {
                    if let [format, nick, ..] = args {
                        self.formats.insert(nick.clone(), format.clone());
                    }
                }
                "customlog" => {
                    if let [log, format, ..] = args {
                        self.logs
                            .push((log.clone(), format.clone(), path.to_path_buf(), vhost));
                    }
                }
                "servername" | "serveralias" => {
                    if let Some(i) = vhost {
                        self.hosts[i].extend(args.iter().cloned());
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn expand(&self, line: &str) -> String {
        let mut out = line.to_string();
        for (name, value) in &self.vars {
            out = out.replace(&format!("${{{name}}}"), value);
        }
        out
    }

    fn include(&mut self, pattern: &str) -> Vec<PathBuf> {
        let full = if pattern.starts_with('/') {
            rooted(self.root, Path::new(pattern))
        } else {
            self.server_root.join(pattern)
        };
        let full = if full.is_dir() { full.join("*") } else { full };
        super::glob_files(&full).unwrap_or_else(|err| {
            self.notes.push(format!("Include {pattern}: {err}"));
            Vec::new()
        })
    }

    fn finish(self) -> Discovered {
        let mut out = Discovered {
            server: "Apache".to_string(),
            config: self.files.first().cloned().unwrap_or_default(),
            hosts: self.hosts.iter().flatten().cloned().collect(),
            logs: Vec::new(),
            formats: self
                .formats
                .iter()
                .map(|(n, f)| (n.clone(), translate(f)))
                .collect(),
            notes: self.notes,
        };
        for (path, format, file, vhost) in self.logs {
            if path.starts_with('|') || path.contains('$') {
                out.notes.push(format!(
                    "CustomLog {path} is piped or has a variable arkwatch cannot resolve: left out"
                ));
                continue;
            }
            // A format string has a `%`; anything else is a nickname.
            let apache = if format.contains('%') {
                Some(format.clone())
            } else {
                self.formats.get(&format).cloned()
            };
            let Some(apache) = apache else {
                out.notes.push(format!(
                    "CustomLog {path} uses LogFormat {format}, which is not declared: left out"
                ));
                continue;
            };
            out.logs.push(DeclaredLog {
                path: PathBuf::from(&path),
                format_name: format,
                spec: translate(&apache),
                declared_in: file,
                servers: vhost.map(|i| self.hosts[i].clone()).unwrap_or_default(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_undo_quotes() {
        assert_eq!(
            words(r#"LogFormat "%h \"%r\"" mine"#),
            ["LogFormat", r#"%h "%r""#, "mine"]
        );
    }
}

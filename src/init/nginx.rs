//! Reads an nginx configuration as nginx does, for `init`: its `access_log` and `log_format`
//! directives and the `server_name` of each server, following `include` (with its globs)
//! from `nginx.conf`. Only what init needs is understood; everything else is skipped whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{DeclaredLog, Discovered, rooted};

#[derive(Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Semi,
    Open,
    Close,
}

/// Splits nginx configuration text into words (quotes and escapes undone), `;`, `{` and `}`.
fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' => while chars.next().is_some_and(|c| c != '\n') {},
            ';' | '{' | '}' => {
                chars.next();
                out.push(match c {
                    ';' => Tok::Semi,
                    '{' => Tok::Open,
                    _ => Tok::Close,
                });
            }
            '"' | '\'' => {
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quote is not closed".to_string()),
                        Some(q) if q == c => break,
                        Some('\\') => match chars.next() {
                            Some('n') => word.push('\n'),
                            Some('t') => word.push('\t'),
                            Some('r') => word.push('\r'),
                            Some(e @ ('"' | '\'' | '\\')) => word.push(e),
                            Some(e) => {
                                word.push('\\');
                                word.push(e);
                            }
                            None => return Err("a quote is not closed".to_string()),
                        },
                        Some(ch) => word.push(ch),
                    }
                }
                out.push(Tok::Word(word));
            }
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || ch == ';' || ch == '}' {
                        break;
                    }
                    // `${var}` inside a word is a variable, not a block.
                    if ch == '{' && !word.ends_with('$') {
                        break;
                    }
                    word.push(ch);
                    chars.next();
                    if ch == '{' {
                        for inner in chars.by_ref() {
                            word.push(inner);
                            if inner == '}' {
                                break;
                            }
                        }
                    }
                }
                out.push(Tok::Word(word));
            }
        }
    }
    Ok(out)
}

/// A `log_format` as declared: its escaping and its strings joined.
#[derive(Clone, Debug)]
struct Format {
    escape: Option<String>,
    body: String,
}

struct Walk<'a> {
    root: &'a Path,
    /// nginx's prefix: relative includes are relative to the directory of `nginx.conf`.
    prefix: PathBuf,
    formats: BTreeMap<String, Format>,
    /// `access_log` directives: (path, format name, file, server index or None at http level).
    logs: Vec<(String, String, PathBuf, Option<usize>)>,
    servers: Vec<Vec<String>>,
    files: Vec<PathBuf>,
    notes: Vec<String>,
}

/// Reads `ROOT/etc/nginx/nginx.conf` and what it includes. None when there is no nginx here.
pub fn discover(root: &Path) -> Result<Option<Discovered>> {
    let main = rooted(root, Path::new("/etc/nginx/nginx.conf"));
    if !main.is_file() {
        return Ok(None);
    }
    let mut walk = Walk {
        root,
        prefix: main.parent().unwrap_or(root).to_path_buf(),
        formats: BTreeMap::new(),
        logs: Vec::new(),
        servers: Vec::new(),
        files: Vec::new(),
        notes: Vec::new(),
    };
    walk.file(&main, None, 0)?;
    Ok(Some(walk.finish()))
}

impl Walk<'_> {
    fn file(&mut self, path: &Path, server: Option<usize>, depth: usize) -> Result<()> {
        if depth > 16 || self.files.iter().any(|f| f == path) {
            self.notes.push(format!(
                "{}: included again (an include loop?), read once",
                path.display()
            ));
            return Ok(());
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read nginx configuration {}", path.display()))?;
        self.files.push(path.to_path_buf());
        let toks = tokenize(&text)
            .map_err(|e| anyhow::anyhow!("nginx configuration {}: {e}", path.display()))?;
        let mut at = 0;
        self.block(&toks, &mut at, path, server, depth)
    }

    /// Walks statements until the end of the block (or of the file).
    fn block(
        &mut self,
        toks: &[Tok],
        at: &mut usize,
        file: &Path,
        server: Option<usize>,
        depth: usize,
    ) -> Result<()> {
        let mut words: Vec<String> = Vec::new();
        while *at < toks.len() {
            let tok = &toks[*at];
            *at += 1;
            match tok {
                Tok::Word(w) => words.push(w.clone()),
                Tok::Semi => {
                    self.directive(&words, file, server, depth)?;
                    words.clear();
                }
                Tok::Open => {
                    let inner = if words.first().map(String::as_str) == Some("server") {
                        self.servers.push(Vec::new());
                        Some(self.servers.len() - 1)
                    } else {
                        server
                    };
                    self.block(toks, at, file, inner, depth)?;
                    words.clear();
                }
                Tok::Close => return Ok(()),
            }
        }
        Ok(())
    }

    fn directive(
        &mut self,
        words: &[String],
        file: &Path,
        server: Option<usize>,
        depth: usize,
    ) -> Result<()> {
        let Some((name, args)) = words.split_first() else {
            return Ok(());
        };
        match name.as_str() {
            "include" => {
                for pattern in args {
                    for path in self.include(pattern) {
                        self.file(&path, server, depth + 1)?;
                    }
                }
            }
            "log_format" => {
                if let Some((format_name, rest)) = args.split_first() {
                    let (escape, strings) = match rest.split_first() {
                        Some((e, tail)) if e.starts_with("escape=") => {
                            (Some(e["escape=".len()..].to_string()), tail)
                        }
                        _ => (None, rest),
                    };
                    self.formats.insert(
                        format_name.clone(),
                        Format {
                            escape,
                            body: strings.concat(),
                        },
                    );
                }
            }
            "access_log" => match args.first().map(String::as_str) {
                None | Some("off") => {}
                Some(path) => {
                    let format = args
                        .get(1)
                        .filter(|a| !a.contains('='))
                        .cloned()
                        .unwrap_or_else(|| "combined".to_string());
                    self.logs
                        .push((path.to_string(), format, file.to_path_buf(), server));
                }
            },
            "server_name" => {
                if let Some(i) = server {
                    self.servers[i].extend(args.iter().cloned());
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The files an include pattern names, in nginx's (sorted) order.
    fn include(&mut self, pattern: &str) -> Vec<PathBuf> {
        let full = if pattern.starts_with('/') {
            rooted(self.root, Path::new(pattern))
        } else {
            self.prefix.join(pattern)
        };
        super::glob_files(&full).unwrap_or_else(|err| {
            self.notes.push(format!("include {pattern}: {err}"));
            Vec::new()
        })
    }

    fn finish(self) -> Discovered {
        let mut out = Discovered {
            server: "nginx".to_string(),
            config: self.files.first().cloned().unwrap_or_default(),
            hosts: self.servers.iter().flatten().cloned().collect(),
            logs: Vec::new(),
            formats: BTreeMap::new(),
            notes: self.notes,
        };
        for (name, f) in &self.formats {
            out.formats.insert(name.clone(), spec(f));
        }
        for (path, format, file, server) in self.logs {
            if path.starts_with("syslog:") || path.contains('$') {
                out.notes.push(format!(
                    "{}: access_log {path} is not a file arkwatch can read (syslog, or a path \
                     with variables): left out",
                    file.display()
                ));
                continue;
            }
            let spec = match format.as_str() {
                "combined" => Some("combined".to_string()),
                name => self.formats.get(name).map(spec),
            };
            let Some(spec) = spec else {
                out.notes.push(format!(
                    "{}: access_log {path} uses log_format {format}, which is not declared: \
                     left out",
                    file.display()
                ));
                continue;
            };
            let servers = server.map(|i| self.servers[i].clone()).unwrap_or_default();
            out.logs.push(DeclaredLog {
                path: PathBuf::from(path),
                format_name: format,
                spec,
                declared_in: file,
                servers,
            });
        }
        out
    }
}

/// The format as arkwatch's `format` key takes it.
fn spec(f: &Format) -> String {
    match f.escape.as_deref() {
        Some("json") => format!("escape=json {}", f.body),
        _ => f.body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_undo_quotes_and_keep_variables_in_braces() {
        let toks = tokenize(
            "log_format main '$remote_addr \"$request\"' # comment\n 'x\\'y';\nset $a ${b}c; server {}",
        )
        .unwrap();
        assert_eq!(
            toks,
            [
                Tok::Word("log_format".into()),
                Tok::Word("main".into()),
                Tok::Word("$remote_addr \"$request\"".into()),
                Tok::Word("x'y".into()),
                Tok::Semi,
                Tok::Word("set".into()),
                Tok::Word("$a".into()),
                Tok::Word("${b}c".into()),
                Tok::Semi,
                Tok::Word("server".into()),
                Tok::Open,
                Tok::Close,
            ]
        );
        assert!(tokenize("log_format 'open").is_err());
    }
}

//! Compiles an nginx `log_format` string into a sequence of literals and fields, once per run. A
//! core type: the configuration compiles every format at load (so a bad one is a config error)
//! and the access-log parser reads lines against it.
//!
//! Named formats (`combined`, `common`, `vcombined`) expand to their nginx definitions. Any
//! `$variable` is accepted; the ones arkwatch understands are mapped to a [`Field`], the rest are
//! matched and ignored. A leading `escape=json` (as in nginx's directive) selects JSON escaping.
//! Apache's `LogFormat` strings ([`apache`]) and other servers' formats ([`servers`]) compile
//! to the same tokens, or name a [`Layout`] with a parser of its own.

pub mod apache;
pub mod servers;

use std::fmt;

/// How the web server escaped variable values in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// nginx's default (`\xHH`) and Apache's (`\"`, `\\`, `\xHH`).
    Default,
    /// `escape=json`: `\"`, `\\`, `\uXXXX` and friends.
    Json,
    /// W3C extended logs: a space in a value is written `+`.
    W3c,
}

/// How a line is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The tokens in a row (nginx, Apache, Traefik's common log, ALB, ELB, W3C).
    Tokens,
    /// Caddy's JSON access log.
    Caddy,
    /// Traefik's JSON access log.
    TraefikJson,
    /// HAProxy's `option httplog`; the captured request headers (`{…|…}`) hold these fields,
    /// in this order.
    Haproxy { captures: Vec<Field> },
    /// `auto`, or `w3c` without its fields: known once a log's first lines are read
    /// (`accesslog::detect::reading_format`).
    Unresolved { w3c: bool },
}

/// A variable arkwatch reads from a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    RemoteAddr,
    RemoteUser,
    TimeLocal,
    TimeIso8601,
    Msec,
    Request,
    RequestMethod,
    RequestUri,
    Uri,
    Args,
    Status,
    BodyBytesSent,
    HttpReferer,
    HttpUserAgent,
    HttpXForwardedFor,
    Host,
    RequestTime,
    /// `203.0.113.5:41234`: the address, then a port (the load balancers' `client:port`).
    RemoteAddrPort,
    /// W3C's `date` (`2015-01-13`) and `time` (`00:32:17`, UTC).
    W3cDate,
    W3cTime,
    /// A variable arkwatch does not use; its value is skipped.
    Other,
}

impl Field {
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Field::Status | Field::BodyBytesSent | Field::RequestTime | Field::Msec
        )
    }

    fn from_name(name: &str) -> Field {
        match name {
            "remote_addr" => Field::RemoteAddr,
            "remote_user" => Field::RemoteUser,
            "time_local" => Field::TimeLocal,
            "time_iso8601" => Field::TimeIso8601,
            "msec" => Field::Msec,
            "request" => Field::Request,
            "request_method" => Field::RequestMethod,
            "request_uri" => Field::RequestUri,
            "uri" | "document_uri" => Field::Uri,
            "args" | "query_string" => Field::Args,
            "status" => Field::Status,
            "body_bytes_sent" | "bytes_sent" => Field::BodyBytesSent,
            "http_referer" => Field::HttpReferer,
            "http_user_agent" => Field::HttpUserAgent,
            "http_x_forwarded_for" => Field::HttpXForwardedFor,
            "host" | "server_name" | "http_host" => Field::Host,
            "request_time" => Field::RequestTime,
            "remote_addr_port" => Field::RemoteAddrPort,
            "w3c_date" => Field::W3cDate,
            "w3c_time" => Field::W3cTime,
            _ => Field::Other,
        }
    }
}

/// One piece of a compiled format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Literal(Vec<u8>),
    /// `quoted` is set when the variable sits between double quotes, so its end is found by an
    /// escape-aware scan for the closing quote rather than by the first occurrence of it.
    Var {
        field: Field,
        quoted: bool,
    },
}

/// A compiled `log_format`.
#[derive(Clone, Debug)]
pub struct LogFormat {
    pub tokens: Vec<Token>,
    pub escape: Escape,
    pub layout: Layout,
    source: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;
const COMMON: &str =
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#;
const VCOMBINED: &str = r#"$host:$server_port $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

impl LogFormat {
    /// Compiles a named format or an nginx `log_format` string.
    pub fn compile(spec: &str) -> Result<LogFormat, FormatError> {
        let spec = spec.trim();
        let (escape, body) = if let Some(rest) = spec.strip_prefix("escape=json") {
            (Escape::Json, rest.trim_start())
        } else if let Some(rest) = spec.strip_prefix("escape=default") {
            (Escape::Default, rest.trim_start())
        } else {
            (Escape::Default, spec)
        };
        if let Some(rest) = spec.strip_prefix("apache:") {
            return LogFormat::of_tokens(&apache::spec(rest), Escape::Default, spec);
        }
        if let Some(format) = LogFormat::server(spec)? {
            return Ok(format);
        }
        let body = match body {
            "combined" => COMBINED,
            "common" => COMMON,
            "vcombined" => VCOMBINED,
            // Pasted from nginx.conf with its quotes: 'a' 'b' -> ab.
            s if s.starts_with('\'') => &unquote_nginx(s)?,
            s => s,
        };
        LogFormat::of_tokens(body, escape, spec)
    }

    fn of_tokens(body: &str, escape: Escape, spec: &str) -> Result<LogFormat, FormatError> {
        let format = LogFormat {
            tokens: tokenize(body)?,
            escape,
            layout: Layout::Tokens,
            source: spec.to_string(),
        };
        format.check_required()?;
        Ok(format)
    }

    fn of_layout(layout: Layout, escape: Escape, spec: &str) -> LogFormat {
        LogFormat {
            tokens: Vec::new(),
            escape,
            layout,
            source: spec.to_string(),
        }
    }

    /// The formats of other servers, by name ([`servers`]), and `auto`.
    fn server(spec: &str) -> Result<Option<LogFormat>, FormatError> {
        let format = match spec {
            "auto" => {
                LogFormat::of_layout(Layout::Unresolved { w3c: false }, Escape::Default, spec)
            }
            "w3c" => LogFormat::of_layout(Layout::Unresolved { w3c: true }, Escape::W3c, spec),
            "traefik" => LogFormat::of_tokens(servers::TRAEFIK, Escape::Default, spec)?,
            "alb" => LogFormat::of_tokens(servers::ALB, Escape::Default, spec)?,
            "elb" => LogFormat::of_tokens(servers::ELB, Escape::Default, spec)?,
            "caddy" => LogFormat::of_layout(Layout::Caddy, Escape::Json, spec),
            "traefik-json" => LogFormat::of_layout(Layout::TraefikJson, Escape::Json, spec),
            "haproxy" => LogFormat::haproxy("User-Agent", spec)?,
            s => {
                if let Some(names) = s.strip_prefix("haproxy:") {
                    LogFormat::haproxy(names, spec)?
                } else if let Some(fields) = s.strip_prefix("w3c:") {
                    let fields = fields.trim().trim_matches('\'');
                    LogFormat::of_tokens(&servers::w3c(fields), Escape::W3c, spec)?
                } else {
                    return Ok(None);
                }
            }
        };
        Ok(Some(format))
    }

    /// `haproxy:Host,User-Agent`: what each captured request header is (`haproxy:-`: none is
    /// captured).
    fn haproxy(names: &str, spec: &str) -> Result<LogFormat, FormatError> {
        if names.trim() == "-" {
            let captures = Vec::new();
            return Ok(LogFormat::of_layout(
                Layout::Haproxy { captures },
                Escape::Default,
                spec,
            ));
        }
        let captures = names
            .split(',')
            .map(|n| match n.trim().to_ascii_lowercase().as_str() {
                "user-agent" => Ok(Field::HttpUserAgent),
                "referer" | "referrer" => Ok(Field::HttpReferer),
                "host" => Ok(Field::Host),
                "x-forwarded-for" => Ok(Field::HttpXForwardedFor),
                "" => Err(FormatError("haproxy: an empty header name".into())),
                // A header arkwatch does not read (`auto` writes `-header`).
                _ => Ok(Field::Other),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LogFormat::of_layout(
            Layout::Haproxy { captures },
            Escape::Default,
            spec,
        ))
    }

    /// Whether the layout is known yet (`auto` and a bare `w3c` are not).
    pub fn is_resolved(&self) -> bool {
        !matches!(self.layout, Layout::Unresolved { .. })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn has(&self, field: Field) -> bool {
        match &self.layout {
            Layout::Tokens => self
                .tokens
                .iter()
                .any(|t| matches!(t, Token::Var { field: f, .. } if *f == field)),
            // Caddy and Traefik log the headers arkwatch reads when they are there at all.
            Layout::Caddy | Layout::TraefikJson | Layout::Unresolved { .. } => true,
            Layout::Haproxy { captures } => {
                captures.contains(&field)
                    || !matches!(
                        field,
                        Field::HttpUserAgent | Field::HttpReferer | Field::HttpXForwardedFor
                    )
            }
        }
    }

    fn check_required(&self) -> Result<(), FormatError> {
        let missing = |what: &str| {
            Err(FormatError(format!(
                "the format has no {what}; arkwatch needs it to read a request"
            )))
        };
        if !self.has(Field::RemoteAddr)
            && !self.has(Field::HttpXForwardedFor)
            && !self.has(Field::RemoteAddrPort)
        {
            return missing("$remote_addr (or $http_x_forwarded_for)");
        }
        if !self.has(Field::TimeLocal)
            && !self.has(Field::TimeIso8601)
            && !self.has(Field::Msec)
            && !self.has(Field::W3cTime)
        {
            return missing("time ($time_local, $time_iso8601 or $msec)");
        }
        if !self.has(Field::Request) && !self.has(Field::RequestUri) && !self.has(Field::Uri) {
            return missing("request ($request, $request_uri or $uri)");
        }
        if !self.has(Field::Status) {
            return missing("$status");
        }
        Ok(())
    }
}

/// Joins the single-quoted pieces of an nginx directive: `'$a - ' '$b'` -> `$a - $b`.
fn unquote_nginx(s: &str) -> Result<String, FormatError> {
    let mut out = String::new();
    let mut rest = s.trim().trim_end_matches(';').trim_end();
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('\'')
            .ok_or_else(|| FormatError(format!("expected a quoted piece at {rest:?}")))?;
        let end = inner
            .find('\'')
            .ok_or_else(|| FormatError("unterminated quote in the format".to_string()))?;
        out.push_str(&inner[..end]);
        rest = inner[end + 1..].trim_start();
    }
    Ok(out)
}

fn tokenize(body: &str) -> Result<Vec<Token>, FormatError> {
    let bytes = body.as_bytes();
    let mut tokens: Vec<Token> = Vec::new();
    let mut literal = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            literal.push(bytes[i]);
            i += 1;
            continue;
        }
        let (name, next) = if bytes.get(i + 1) == Some(&b'{') {
            let end = body[i + 2..]
                .find('}')
                .ok_or_else(|| FormatError(format!("unterminated ${{ at byte {i}")))?;
            (&body[i + 2..i + 2 + end], i + 3 + end)
        } else {
            let len = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            (&body[i + 1..i + 1 + len], i + 1 + len)
        };
        if name.is_empty() {
            return Err(FormatError(format!("a lone '$' at byte {i}")));
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(std::mem::take(&mut literal)));
        } else if matches!(tokens.last(), Some(Token::Var { .. })) {
            return Err(FormatError(format!(
                "${name} follows another variable with nothing between them; \
                 arkwatch cannot tell where one ends"
            )));
        }
        tokens.push(Token::Var {
            field: Field::from_name(name),
            quoted: false,
        });
        i = next;
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal));
    }
    // A variable is quoted when the literal before it ends with '"' and the one after starts
    // with '"'.
    for k in 0..tokens.len() {
        let before = k
            .checked_sub(1)
            .and_then(|p| match &tokens[p] {
                Token::Literal(l) => l.last().copied(),
                Token::Var { .. } => None,
            })
            .is_some_and(|b| b == b'"');
        let after = match tokens.get(k + 1) {
            Some(Token::Literal(l)) => l.first() == Some(&b'"'),
            _ => false,
        };
        if let Token::Var { quoted, .. } = &mut tokens[k] {
            *quoted = before && after;
        }
    }
    if tokens.is_empty() {
        return Err(FormatError("the format is empty".to_string()));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_compiles_with_quoted_fields() {
        let f = LogFormat::compile("combined").unwrap();
        let quoted: Vec<Field> = f
            .tokens
            .iter()
            .filter_map(|t| match t {
                Token::Var {
                    field,
                    quoted: true,
                } => Some(*field),
                _ => None,
            })
            .collect();
        assert_eq!(
            quoted,
            [Field::Request, Field::HttpReferer, Field::HttpUserAgent]
        );
    }

    #[test]
    fn nginx_directive_pieces_and_json_escape() {
        let f = LogFormat::compile(
            r#"escape=json '{"time":"$time_iso8601",' '"addr":"$remote_addr","req":"$request","status":$status}'"#,
        )
        .unwrap();
        assert_eq!(f.escape, Escape::Json);
        assert!(f.has(Field::TimeIso8601));
        assert_eq!(f.tokens[0], Token::Literal(br#"{"time":""#.to_vec()));
    }

    #[test]
    fn braces_and_unknown_variables() {
        let f =
            LogFormat::compile("${remote_addr} [$time_local] \"$request\" $status $upstream_addr")
                .unwrap();
        assert!(f.has(Field::Other));
    }

    #[test]
    fn adjacent_variables_are_refused() {
        let err = LogFormat::compile("$remote_addr$status [$time_local] \"$request\"").unwrap_err();
        assert!(err.0.contains("$status follows another variable"), "{err}");
    }

    #[test]
    fn missing_status_is_refused() {
        let err = LogFormat::compile("$remote_addr [$time_local] \"$request\"").unwrap_err();
        assert!(err.0.contains("$status"), "{err}");
    }
}

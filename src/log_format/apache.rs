//! Apache's `LogFormat` strings, in the `$variable` syntax the rest of this module compiles:
//! `format = "apache:'%h %l %u %t \\"%r\\" %>s %b'"` in the configuration, or a `CustomLog`
//! that `init` found. A directive arkwatch does not read becomes a variable it skips.

/// Apache's own definitions, used when a configuration names them without declaring them.
pub const BUILTIN: [(&str, &str); 3] = [
    (
        "combined",
        r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i""#,
    ),
    ("common", r#"%h %l %u %t "%r" %>s %b"#),
    (
        "vhost_combined",
        r#"%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#,
    ),
];

/// An Apache `LogFormat` string in nginx's `$variable` syntax, which arkwatch's format parser
/// reads: `%h` is `$remote_addr`, `%t` is `[$time_local]`, `%{User-Agent}i` is
/// `$http_user_agent`, and a directive arkwatch does not use is a variable it skips.
pub fn translate(apache: &str) -> String {
    let mut out = String::new();
    let mut chars = apache.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // Modifiers: `%>s`, `%<s`, `%400,501{User-agent}i`, `%!200a`.
        while chars
            .peek()
            .is_some_and(|ch| matches!(ch, '<' | '>' | '!' | ',') || ch.is_ascii_digit())
        {
            chars.next();
        }
        let mut arg = None;
        if chars.peek() == Some(&'{') {
            chars.next();
            let mut a = String::new();
            for ch in chars.by_ref() {
                if ch == '}' {
                    break;
                }
                a.push(ch);
            }
            arg = Some(a);
        }
        let Some(d) = chars.next() else { break };
        let var = match (d, arg.as_deref().map(str::to_ascii_lowercase).as_deref()) {
            ('%', _) => {
                out.push('%');
                continue;
            }
            ('h' | 'a', _) => "$remote_addr".to_string(),
            ('u', _) => "$remote_user".to_string(),
            ('t', None) => "[$time_local]".to_string(),
            ('r', _) => "$request".to_string(),
            ('s', _) => "$status".to_string(),
            ('b' | 'B', _) => "$body_bytes_sent".to_string(),
            ('i', Some("referer")) => "$http_referer".to_string(),
            ('i', Some("user-agent")) => "$http_user_agent".to_string(),
            ('i', Some("x-forwarded-for")) => "$http_x_forwarded_for".to_string(),
            ('i', Some("host")) | ('v' | 'V', _) => "$host".to_string(),
            ('T', None) => "$request_time".to_string(),
            ('U', _) => "$uri".to_string(),
            ('q', _) => "$apache_query".to_string(),
            ('m', _) => "$request_method".to_string(),
            (d, Some(a)) => format!(
                "$apache_{d}_{}",
                a.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            ),
            (d, None) => format!(
                "$apache_{}",
                if d.is_ascii_alphanumeric() { d } else { 'x' }
            ),
        };
        out.push_str(&var);
    }
    out
}

/// The nginx form of `apache:SPEC`: a built-in name (`combined`, `common`, `vhost_combined`),
/// or a format string, with or without the quotes it has in the Apache configuration.
pub fn spec(rest: &str) -> String {
    let rest = rest.trim();
    if let Some((_, f)) = BUILTIN.iter().find(|(n, _)| *n == rest) {
        return translate(f);
    }
    let unquoted = ['\'', '"']
        .iter()
        .find_map(|q| rest.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)))
        .unwrap_or(rest);
    translate(&unquoted.replace("\\\"", "\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_combined_is_nginx_combined() {
        assert_eq!(
            translate(BUILTIN[0].1),
            r#"$remote_addr $apache_l $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#
        );
        assert_eq!(
            translate(r"%v:%p %a %{X-Forwarded-For}i %D %%"),
            "$host:$apache_p $remote_addr $http_x_forwarded_for $apache_D %"
        );
    }

    #[test]
    fn a_quoted_apache_string_is_unquoted() {
        assert_eq!(
            spec(r#"'%h %t "%r" %>s'"#),
            r#"$remote_addr [$time_local] "$request" $status"#
        );
        assert_eq!(spec("combined"), translate(BUILTIN[0].1));
    }
}

//! The formats of servers other than nginx and Apache, by name: Traefik's common log and its
//! JSON, Caddy's JSON, HAProxy's `option httplog`, the AWS load balancers' access logs (ALB and
//! classic ELB), and W3C extended logs (IIS, CloudFront) with their `#Fields:` line. The ones
//! that are a line of fields in a row are given here in the `$variable` syntax; Caddy, Traefik's
//! JSON and HAProxy have parsers of their own (`accesslog::servers`).

/// Traefik's common log: `combined`, then the request count, the router, the server URL and the
/// duration (`… "Nikto" 240 "test@docker" "http://172.17.0.3:80" 0ms`). Traefik writes `-` for
/// the status of a request it never answered.
pub const TRAEFIK: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $traefik_count "$traefik_router" "$traefik_server" $traefik_duration"#;

/// An application load balancer's access log (the request's URL is absolute; `-` for the
/// status of a request it did not answer).
pub const ALB: &str = r#"$alb_type $time_iso8601 $alb_name $remote_addr_port $alb_target $alb_t1 $alb_t2 $alb_t3 $status $alb_target_status $alb_received $body_bytes_sent "$request" "$http_user_agent""#;

/// A classic load balancer's access log.
pub const ELB: &str = r#"$time_iso8601 $elb_name $remote_addr_port $elb_backend $elb_t1 $elb_t2 $elb_t3 $status $elb_backend_status $elb_received $body_bytes_sent "$request" "$http_user_agent""#;

/// The names `format` takes for these servers.
pub const NAMES: [&str; 7] = [
    "traefik",
    "traefik-json",
    "caddy",
    "haproxy",
    "alb",
    "elb",
    "w3c",
];

/// A W3C `#Fields:` list as a format: the fields in a row, one space apart. `date` and `time`
/// (UTC) make the time; `c-ip` the address; `cs-method`, `cs-uri-stem`, `cs-uri-query`; the
/// status, the bytes sent, `cs(User-Agent)`, `cs(Referer)`, `cs-host` and `cs(X-Forwarded-For)`;
/// any other field is skipped.
/// Fields listed with tabs between them (as CloudFront's lines are) are read tab by tab.
pub fn w3c(fields: &str) -> String {
    let separator = if fields.contains('\t') { "\t" } else { " " };
    fields
        .split_whitespace()
        .map(|f| match f.to_ascii_lowercase().as_str() {
            "date" => "$w3c_date".to_string(),
            "time" => "$w3c_time".to_string(),
            "c-ip" => "$remote_addr".to_string(),
            "cs-method" => "$request_method".to_string(),
            "cs-uri-stem" => "$uri".to_string(),
            "cs-uri-query" => "$args".to_string(),
            "sc-status" => "$status".to_string(),
            "sc-bytes" => "$body_bytes_sent".to_string(),
            "cs(user-agent)" => "$http_user_agent".to_string(),
            "cs(referer)" | "cs(referrer)" => "$http_referer".to_string(),
            "cs-host" | "cs(host)" | "x-host-header" => "$host".to_string(),
            "cs(x-forwarded-for)" | "x-forwarded-for" => "$http_x_forwarded_for".to_string(),
            other => format!(
                "${{w3c_{}}}",
                other.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            ),
        })
        .collect::<Vec<_>>()
        .join(separator)
}

/// The fields of a `#Fields:` directive line, if `line` is one.
pub fn w3c_fields(line: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(line).ok()?;
    text.strip_prefix("#Fields:").map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iis_fields_line_becomes_a_format() {
        let f = w3c(
            "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status",
        );
        assert!(
            f.starts_with("$w3c_date $w3c_time ${w3c_s_ip} $request_method $uri $args"),
            "{f}"
        );
        assert!(
            f.ends_with("$remote_addr $http_user_agent $http_referer $status"),
            "{f}"
        );
        assert_eq!(w3c_fields(b"#Fields: date time"), Some("date time"));
        assert_eq!(w3c_fields(b"#Version: 1.0"), None);
    }
}

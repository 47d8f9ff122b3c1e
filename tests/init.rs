//! `arkwatch init` against fake server trees (nginx with includes, two servers, a custom and a
//! JSON `log_format`; Apache with a virtual host and `${APACHE_LOG_DIR}`): the configuration it
//! writes names each log with its format, validates, and a `scan --dry-run` over it records the
//! expected visits. And `completions` completes what it should.

use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use serde_json::Value;

fn arkwatch() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arkwatch"));
    cmd.env_remove("ARKWATCH_CONFIG")
        .env_remove("ARKWATCH_DATA_DIR")
        .env_remove("ARKWATCH_INIT_ROOT");
    cmd
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn time_local(minutes_ago: i64) -> String {
    (Utc::now() - Duration::minutes(minutes_ago))
        .format("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}

const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";

/// Two servers in `sites-enabled/` (included by a glob), a custom format over two strings
/// declared in `conf.d/` (included by an absolute path), a JSON format, one log at the http
/// level that nginx has not written yet, and one switched off.
fn nginx_tree(root: &Path) {
    write(
        root,
        "etc/nginx/nginx.conf",
        r"user www-data;
events { worker_connections 768; }
http {
    include /etc/nginx/conf.d/*.conf;
    access_log /var/log/nginx/access.log;   # not written yet
    include sites-enabled/*;
}
",
    );
    write(
        root,
        "etc/nginx/conf.d/formats.conf",
        r#"# the team's formats
log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                '$status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time';
log_format api escape=json '{"time":"$time_iso8601","addr":"$remote_addr","request":"$request",'
                           '"status":$status,"bytes":$body_bytes_sent,"agent":"$http_user_agent"}';
"#,
    );
    write(
        root,
        "etc/nginx/sites-enabled/acme",
        r"server {
    listen 443 ssl;
    server_name acme.example www.acme.example;
    access_log /var/log/nginx/acme.access.log main buffer=32k flush=5s;
    location /assets/ { access_log off; }
}
",
    );
    write(
        root,
        "etc/nginx/sites-enabled/api",
        r"server {
    server_name api.widgets.example;
    access_log /var/log/nginx/api.access.log api;
}
",
    );
    let acme: Vec<String> = [
        (
            "203.0.113.9",
            "/pricing",
            30,
            "https://www.linkedin.com/feed/",
        ),
        (
            "203.0.113.9",
            "/signup?plan=pro",
            25,
            "https://acme.example/pricing",
        ),
        ("198.51.100.23", "/", 20, "-"),
        (
            "198.51.100.23",
            "/pricing/team",
            19,
            "https://acme.example/",
        ),
    ]
    .iter()
    .map(|(ip, path, ago, referer)| {
        format!(
            r#"{ip} - - [{}] "GET {path} HTTP/1.1" 200 5120 "{referer}" "{SAFARI}" rt=0.012"#,
            time_local(*ago)
        )
    })
    .collect();
    write(
        root,
        "var/log/nginx/acme.access.log",
        &(acme.join("\n") + "\n"),
    );
    let at = (Utc::now() - Duration::minutes(10)).format("%Y-%m-%dT%H:%M:%S+00:00");
    write(
        root,
        "var/log/nginx/api.access.log",
        &format!(
            "{{\"time\":\"{at}\",\"addr\":\"192.0.2.77\",\"request\":\"GET /pricing HTTP/1.1\",\"status\":200,\"bytes\":90,\"agent\":\"{SAFARI}\"}}\n"
        ),
    );
    std::os::unix::fs::symlink(
        "/usr/share/zoneinfo/America/Santiago",
        root.join("etc/localtime"),
    )
    .unwrap();
}

fn init(root: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    arkwatch()
        .args(["init", "--yes", "--out"])
        .arg(out)
        .env("ARKWATCH_INIT_ROOT", root)
        .args(extra)
        .output()
        .unwrap()
}

fn dry_run(config: &Path) -> Value {
    let out = arkwatch()
        .arg("--config")
        .arg(config)
        .args(["scan", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn init_writes_each_nginx_log_with_its_format_and_the_config_scans() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("server");
    nginx_tree(&root);
    let config = dir.path().join("arkwatch.toml");
    let out = init(&root, &config, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("scan --dry-run"),
        "the next steps: {stdout}"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let toml: toml::Value = toml::from_str(&text).unwrap();
    let logs = toml["access_log"].as_array().unwrap();
    let by_path = |name: &str| {
        logs.iter()
            .find(|l| l["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    assert_eq!(
        by_path("acme.access.log")["format"].as_str().unwrap(),
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time"#
    );
    assert!(
        by_path("api.access.log")["format"]
            .as_str()
            .unwrap()
            .starts_with(r#"escape=json {"time":"$time_iso8601","addr":"$remote_addr""#),
        "{text}"
    );
    assert_eq!(
        logs.len(),
        2,
        "the unwritten access.log is commented out: {text}"
    );
    assert!(
        text.contains("# path = ") && text.contains("access.log\""),
        "{text}"
    );
    assert_eq!(toml["timezone"].as_str(), Some("America/Santiago"));
    assert_eq!(
        toml["site_hosts"].as_array().unwrap(),
        &["acme.example", "api.widgets.example"]
            .map(toml::Value::from)
            .to_vec()
    );
    // Pages from the logs: /pricing (three pageviews over both logs) and /signup.
    let pages = toml["pages"].as_table().unwrap();
    assert_eq!(pages["/pricing"].as_str(), Some("hot"), "{text}");
    assert_eq!(pages["/signup"].as_str(), Some("very_hot"), "{text}");
    assert_eq!(pages.len(), 2, "{text}");

    let scan = dry_run(&config);
    let ingest = &scan["ingest"];
    assert_eq!(ingest["lines"], 5, "{scan:#}");
    assert_eq!(ingest["parsed"], 5, "{scan:#}");
    assert_eq!(ingest["malformed"], 0, "{scan:#}");
    // /pricing, /signup, /pricing/team, and the API's /pricing; "/" is not tracked.
    assert_eq!(ingest["visits_recorded"], 4, "{scan:#}");
    assert_eq!(ingest["by_tier"]["very_hot"], 1, "{scan:#}");
    assert_eq!(ingest["by_tier"]["hot"], 3, "{scan:#}");
    assert_eq!(scan["leads"].as_array().map(Vec::len), Some(3), "{scan:#}");
}

#[test]
fn init_reads_apache_virtual_hosts_and_translates_their_log_format() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("server");
    write(
        &root,
        "etc/apache2/apache2.conf",
        r#"ServerRoot "/etc/apache2"
LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" vhost_combined
LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D" timed
IncludeOptional sites-enabled/*.conf
"#,
    );
    write(
        &root,
        "etc/apache2/envvars",
        "export APACHE_LOG_DIR=/var/log/apache2$SUFFIX\n",
    );
    write(
        &root,
        "etc/apache2/sites-enabled/000-acme.conf",
        r"<VirtualHost *:443>
    ServerName acme.example
    ServerAlias www.acme.example
    CustomLog ${APACHE_LOG_DIR}/acme_access.log timed
    CustomLog |/usr/bin/rotatelogs /var/log/apache2/piped.%Y 86400 combined
</VirtualHost>
",
    );
    write(&root, "etc/timezone", "Pacific/Auckland\n");
    let lines = [("/trial", 5), ("/book-a-demo", 3), ("/about", 2)].map(|(path, ago)| {
        format!(
            r#"203.0.113.50 - - [{}] "GET {path} HTTP/1.1" 200 - "-" "{SAFARI}" 1234"#,
            time_local(ago)
        )
    });
    write(
        &root,
        "var/log/apache2/acme_access.log",
        &(lines.join("\n") + "\n"),
    );
    let config = dir.path().join("apache.toml");
    let out = init(&root, &config, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("piped"),
        "the piped log is named as left out: {stderr}"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let toml: toml::Value = toml::from_str(&text).unwrap();
    let logs = toml["access_log"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "{text}");
    assert!(
        logs[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("var/log/apache2/acme_access.log")
    );
    assert_eq!(toml["timezone"].as_str(), Some("Pacific/Auckland"));
    assert_eq!(toml["pages"]["/trial"].as_str(), Some("very_hot"), "{text}");
    assert_eq!(
        toml["pages"]["/book-a-demo"].as_str(),
        Some("very_hot"),
        "{text}"
    );
    let scan = dry_run(&config);
    assert_eq!(scan["ingest"]["parsed"], 3, "{scan:#}");
    assert_eq!(scan["ingest"]["visits_recorded"], 2, "{scan:#}");
}

#[test]
fn init_detects_the_format_of_a_named_log_and_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("empty-server");
    std::fs::create_dir_all(&root).unwrap();
    let log = dir.path().join("site.log");
    let lines = [("/pricing", 3), ("/", 2)].map(|(path, ago)| {
        format!(
            r#"192.0.2.1 - - [{}] "GET {path} HTTP/1.1" 200 12"#,
            time_local(ago)
        )
    });
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let config = dir.path().join("named.toml");
    let out = init(&root, &config, &["--log", log.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&config).unwrap();
    // combined does not parse lines without a referer and agent; common does.
    assert!(text.contains("format = \"common\""), "{text}");
    assert!(text.contains("2 of its first 2 lines parse"), "{text}");

    // A second init refuses to replace it, and says how.
    std::fs::write(&config, "# mine\n").unwrap();
    let again = init(&root, &config, &["--log", log.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");
    let forced = init(&root, &config, &["--log", log.to_str().unwrap(), "--force"]);
    assert_eq!(forced.status.code(), Some(0));
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("[[access_log]]")
    );

    // Nothing to find and nothing named: a clear error, nothing written.
    let none = dir.path().join("none.toml");
    let out = init(&root, &none, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log PATH"));
    assert!(!none.exists());
}

#[test]
fn init_comments_out_a_log_whose_format_arkwatch_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("server");
    write(
        &root,
        "etc/nginx/nginx.conf",
        "http {\n  log_format timing '$remote_addr $request_time';\n  \
         access_log /var/log/nginx/timing.log timing;\n  \
         access_log /var/log/nginx/access.log;\n}\n",
    );
    write(&root, "var/log/nginx/timing.log", "192.0.2.1 0.012\n");
    let line = format!(
        r#"192.0.2.1 - - [{}] "GET /pricing HTTP/1.1" 200 12 "-" "{SAFARI}""#,
        time_local(1)
    );
    write(&root, "var/log/nginx/access.log", &(line + "\n"));
    let config = dir.path().join("arkwatch.toml");
    let out = init(&root, &config, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("# arkwatch cannot read this format"),
        "{text}"
    );
    let toml: toml::Value = toml::from_str(&text).unwrap();
    let logs = toml["access_log"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "only the readable log is active: {text}");
    assert!(logs[0]["path"].as_str().unwrap().ends_with("access.log"));
    assert_eq!(dry_run(&config)["ingest"]["parsed"], 1);
}

/// Runs bash's completion for `words` (the last one being completed) with the generated
/// script, and returns the candidates.
fn complete(words: &[&str]) -> Vec<String> {
    let script = arkwatch().args(["completions", "bash"]).output().unwrap();
    assert_eq!(script.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("arkwatch.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let words_list: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         _arkwatch arkwatch '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        words_list.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completion_completes_commands_and_format_values() {
    let commands = complete(&["arkwatch", ""]);
    for c in [
        "scan",
        "ingest-nginx",
        "verify",
        "init",
        "completions",
        "man",
        "purge-ip",
    ] {
        assert!(commands.contains(&c.to_string()), "{c} in {commands:?}");
    }
    assert!(
        !commands.iter().any(|c| c == "--root"),
        "the test root is hidden"
    );
    assert!(
        !complete(&["arkwatch", "init", "--"])
            .iter()
            .any(|c| c == "--root")
    );
    assert_eq!(complete(&["arkwatch", "ve"]), ["verify"]);
    let formats = complete(&["arkwatch", "report", "weekly", "--format", ""]);
    assert_eq!(formats, ["md", "html"]);
    let shells = complete(&["arkwatch", "completions", ""]);
    for s in ["bash", "zsh", "fish"] {
        assert!(shells.contains(&s.to_string()), "{shells:?}");
    }
}

#[test]
fn man_pages_are_written_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = arkwatch()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let main = std::fs::read_to_string(dir.path().join("arkwatch.1")).unwrap();
    assert!(
        main.starts_with(".ie") || main.contains(".TH arkwatch 1"),
        "{main}"
    );
    assert!(
        main.contains("arkwatch\\-scan(1)") || main.contains("scan"),
        "{main}"
    );
    let scan = std::fs::read_to_string(dir.path().join("arkwatch-scan.1")).unwrap();
    assert!(scan.contains("dry\\-run"), "{scan}");
    assert!(dir.path().join("arkwatch-completions.1").exists());
}

//! The alert email as a person sees it: the demo's digest rendered by headless Chromium at a
//! phone's width (390 px) and a desktop's (900 px), with nothing wider than the screen, no
//! link, and the picture the README shows (`docs/alert-email.png`, written again when
//! `ARKWATCH_EMAIL_SHOT=docs` is set).

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::chromium;

/// The HTML part of the message the demo scan writes into its outbox.
fn demo_digest_html(dir: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(common::BIN)
        .env("ARKWATCH_DATA_DIR", dir.join("data"))
        .args(["--config"])
        .arg(root.join("fixtures/demo/arkwatch.toml"))
        .arg("scan")
        .output()
        .unwrap();
    common::assert_success(&out);
    let eml = std::fs::read_dir(dir.join("data/outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "eml"))
        .expect("the demo wrote a message");
    let raw = std::fs::read(eml).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(mail.subparts[1].ctype.mimetype, "text/html");
    mail.subparts[1].get_body().unwrap()
}

#[test]
fn the_demo_digest_reads_on_a_phone_and_a_desktop_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let html = demo_digest_html(dir.path());
    assert!(!html.contains("<a "), "no link in the digest");
    assert!(
        !html.contains("<style"),
        "inline CSS only: mail clients drop <style>"
    );
    assert!(
        !html.contains("hxxps"),
        "the site's own pages are not shown as defanged URLs"
    );
    assert!(
        html.contains("Safari on a Mac, from LinkedIn (campaign"),
        "{html}"
    );

    // Each width in an iframe of that width (a headless window is at least 500 px wide),
    // measured from the page around it.
    let page = dir.path().join("digest.html");
    std::fs::write(&page, &html).unwrap();
    let probe = dir.path().join("probe.html");
    let mut frames = String::new();
    for w in [390, 900] {
        let _ = write!(
            frames,
            "<iframe id=\"w{w}\" src=\"{}\" width=\"{w}\" height=\"900\" onload=\"\
                 var d = this.contentDocument; document.body.setAttribute('data-fits-{w}', \
                 String(d.documentElement.scrollWidth <= {w})); document.body.setAttribute(\
                 'data-font-{w}', getComputedStyle(d.querySelector('table table')).fontFamily);\
                 document.body.setAttribute('data-size-{w}', getComputedStyle(d.querySelector(\
                 'table table')).fontSize)\"></iframe>",
            page.display()
        );
    }
    std::fs::write(
        &probe,
        format!("<!DOCTYPE html><html><body>{frames}</body></html>"),
    )
    .unwrap();
    let out = chromium()
        .arg("--allow-file-access-from-files")
        .arg("--window-size=1400,1000")
        .arg("--dump-dom")
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    for w in [390, 900] {
        assert!(
            dom.contains(&format!("data-fits-{w}=\"true\"")),
            "{w} px: wider than the screen: {dom}"
        );
        assert!(
            dom.contains(&format!("data-size-{w}=\"15px\"")),
            "{w} px: {dom}"
        );
        let font = dom.split(&format!("data-font-{w}=\"")).nth(1).unwrap_or("");
        assert!(
            font.contains("Helvetica") && font.contains("sans-serif"),
            "{w} px: {font}"
        );
    }

    picture(dir.path(), &page);
}

/// The picture of the README: both widths side by side.
fn picture(dir: &Path, page: &Path) {
    let frame = dir.join("frame.html");
    std::fs::write(
        &frame,
        format!(
            "<!DOCTYPE html><html><body style=\"margin:0;background:#d0d4d9;font:13px sans-serif\">\
             <div style=\"display:flex;gap:24px;padding:16px;align-items:flex-start\">\
             <div>phone, 390 px<br><iframe src=\"{p}\" width=\"390\" height=\"770\" style=\"border:0;background:#fff\"></iframe></div>\
             <div>desktop, 900 px<br><iframe src=\"{p}\" width=\"900\" height=\"770\" style=\"border:0;background:#fff\"></iframe></div>\
             </div></body></html>",
            p = page.display()
        ),
    )
    .unwrap();
    let shot = dir.join("alert-email.png");
    let png = common::screenshot(&frame, 1362, 820, &shot);
    assert!(png.len() > 20_000, "{} bytes", png.len());
    if let Some(docs) = std::env::var_os("ARKWATCH_EMAIL_SHOT").map(PathBuf::from) {
        std::fs::copy(&shot, docs.join("alert-email.png")).unwrap();
    }
}

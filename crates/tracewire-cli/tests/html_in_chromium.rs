//! The HTML waterfall, opened in headless Chromium: the rendered DOM has a bar per span, the
//! failed span marked, and the producer→consumer hops the page's script draws.

mod common;

use std::process::Command;

fn chromium_dom(html: &std::path::Path, profile: &std::path::Path) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("Debian's chromium is installed (scripts/tools.sh)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_waterfall_renders_bars_errors_and_hops() {
    let dir = common::fixture_dir("html");
    let (ok, failed, _) = common::write_fixture(&dir);
    let glob = format!("{}/*.jsonl", dir.display());
    for (trace, spans, hops, errors) in [(&ok, 7, 3, 0), (&failed, 6, 2, 2)] {
        let html = dir.join(format!("{trace}.html"));
        let status = Command::new(env!("CARGO_BIN_EXE_tracewire"))
            .args(["timeline", "--trace-id", trace, "--html"])
            .arg(&html)
            .arg(&glob)
            .status()
            .unwrap();
        assert!(status.success());
        let file = std::fs::read_to_string(&html).unwrap();
        for external in ["src=", "href=\"http", "@import", "url(http"] {
            assert!(
                !file.contains(external),
                "self-contained, nothing fetched: {external}"
            );
        }
        let dom = chromium_dom(&html, &dir.join("profile"));
        assert_eq!(
            dom.matches("class=\"bar").count(),
            spans,
            "a bar per span in the rendered DOM"
        );
        assert_eq!(
            dom.matches("class=\"bar error\"").count(),
            errors,
            "failed spans marked"
        );
        assert_eq!(
            dom.matches("class=\"hop\"").count(),
            hops,
            "hops drawn by the page's script"
        );
        assert!(dom.contains("Critical path"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

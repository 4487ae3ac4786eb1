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

fn chromium_screenshot(url: &str, png: &std::path::Path, profile: &std::path::Path) {
    let status = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,900",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .output()
        .expect("Debian's chromium is installed (scripts/tools.sh)");
    assert!(status.status.success() || png.exists(), "{status:?}");
}

/// The span id of the `span_end` line named `name` of `trace` in `dir`'s logs.
fn span_id_of(dir: &std::path::Path, trace: &str, name: &str) -> String {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["span_name"] == name && v["event"] == "span_end" && v["trace_id"] == trace {
                return v["span_id"].as_str().unwrap().to_owned();
            }
        }
    }
    panic!("no span {name}")
}

#[test]
fn the_index_lists_flows_worst_first_and_the_waterfall_answers_a_click() {
    let dir = common::fixture_dir("html-index");
    let (ok, failed, broken) = common::write_fixture(&dir);
    let glob = format!("{}/*.jsonl", dir.display());
    let site = dir.join("site");
    let status = Command::new(env!("CARGO_BIN_EXE_tracewire"))
        .args(["html", "--grace", "0", "--out"])
        .arg(&site)
        .arg(&glob)
        .status()
        .unwrap();
    assert!(status.success());

    // The index: every flow, those with errors or lost messages first, each linking a page.
    let index = chromium_dom(&site.join("index.html"), &dir.join("profile"));
    let roots: Vec<&str> = (index.split("data-root=\"").skip(1))
        .map(|r| &r[..32])
        .collect();
    assert_eq!(
        roots.len(),
        4,
        "three checkouts and the crashed consumer: {index}"
    );
    let ok_at = roots.iter().position(|r| *r == ok).unwrap();
    for bad in [&failed, &broken] {
        assert!(
            roots.iter().position(|r| r == bad).unwrap() < ok_at,
            "{bad} before {ok}"
        );
    }
    for root in &roots {
        assert!(index.contains(&format!("href=\"{root}.html\"")));
        assert!(
            site.join(format!("{root}.html")).exists(),
            "{root}.html written"
        );
    }

    // The failed checkout's waterfall, the payment span clicked (through the address) and zoomed.
    let page = site.join(format!("{failed}.html"));
    let process = span_id_of(&dir, &failed, "process payments");
    let url = format!("file://{}#span={process}&zoom=4", page.display());
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let detail = dom.split("id=\"detail\"").nth(1).unwrap_or_default();
    let detail = detail.split("</aside>").next().unwrap_or_default();
    assert!(
        detail.contains("<h3>process payments</h3>"),
        "the clicked span's panel: {detail}"
    );
    for shown in [
        "correlation id",
        "messaging.destination.name",
        "payments",
        "attributes (",
        "links (",
    ] {
        assert!(detail.contains(shown), "{shown} in {detail}");
    }
    assert!(
        dom.contains(&format!("id=\"r{process}\" class=\"row selected\""))
            || dom.contains("class=\"row selected\""),
        "the row is marked"
    );
    assert!(
        dom.contains("width: 400%"),
        "zoomed: the chart is four times as wide"
    );
    assert!(
        dom.matches("data-critical=\"1\"").count() >= 2,
        "the critical path is highlighted"
    );
    assert_eq!(
        dom.matches("class=\"queue\"").count(),
        2,
        "a queue band per hop"
    );

    // A screenshot a person can look at, kept with the test's artifacts.
    let png = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("waterfall.png");
    let _ = std::fs::remove_file(&png);
    let unzoomed = format!("file://{}#span={process}", page.display());
    chromium_screenshot(&unzoomed, &png, &dir.join("profile"));
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "a real picture"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

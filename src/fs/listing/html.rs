//! The listing page: one static HTML document that needs no script. Styles sit once in the
//! head and rows carry as little markup as they can (optional end tags left out, no classes):
//! about 60 bytes plus the name twice, so 5,000 entries with 23-character names
//! (`IMG_20241201_123456.jpg`) are about 540 KB before compression.
//!
//! Text is HTML-escaped; links come from `href.rs`; the column headings link to the other
//! orders (`sort.rs`).

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Entry;
use super::href;
use super::sort::{Column, Order};

/// Light and dark colours follow `prefers-color-scheme`. On a phone the name column takes the
/// room left and long names wrap anywhere; sizes and dates never break across lines.
const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--mu:#59636e;--ln:#0550ae;--hv:#f6f8fa;--bd:#d1d9e0}\
@media(prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mu:#9198a1;--ln:#4493f8;--hv:#151b23;--bd:#3d444d}}\
body{margin:0 auto;max-width:75rem;padding:1rem;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,sans-serif}\
h1{font-size:1.3rem;font-weight:600;margin:.2rem 0 1rem;overflow-wrap:anywhere}\
h1 a{padding:0 .1rem}\
a{color:var(--ln);text-decoration:none}a:hover{text-decoration:underline}\
table{width:100%;border-collapse:collapse}\
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--bd);vertical-align:top}\
th{font-weight:600;white-space:nowrap}th a{color:var(--fg)}\
td:first-child{width:100%;overflow-wrap:anywhere}\
td:nth-child(n+2){color:var(--mu);white-space:nowrap}\
tr:hover td{background:var(--hv)}\
footer{color:var(--mu);font-size:.85rem;margin-top:1rem}\
@media(max-width:40rem){body{padding:.5rem;font-size:14px}th,td{padding:.35rem .25rem}}";

/// The page for `entries` (already sorted by `order`) of the directory at `segments`;
/// `left_out` more entries come after them in that order and are not shown.
pub(crate) fn page(
    segments: &[Vec<u8>],
    entries: &[Entry],
    order: Order,
    left_out: usize,
) -> String {
    let mut page = String::with_capacity(2048 + entries.len() * 160);
    let mut path = String::from("/");
    for segment in segments {
        path.push_str(&super::display_text(segment));
        path.push('/');
    }
    page.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>Index of ",
    );
    push_escaped(&mut page, &path);
    let _ = write!(page, "</title>\n<style>{STYLE}</style></head>\n<body>\n");
    breadcrumbs(&mut page, segments);
    if left_out > 0 {
        let _ = writeln!(
            page,
            "<p>The first {} of {} entries in this order; {} more left out.</p>",
            grouped(entries.len()),
            grouped(entries.len() + left_out),
            grouped(left_out)
        );
    }
    page.push_str("<table>\n<thead><tr>");
    for column in Column::ALL {
        heading(&mut page, column, order);
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    if !segments.is_empty() {
        page.push_str("<tr><td><a href=\"../\">../</a><td><td>\n");
    }
    for entry in entries {
        row(&mut page, entry);
    }
    let folders = entries.iter().filter(|e| e.is_dir).count();
    let files = entries.len() - folders;
    let _ = write!(
        page,
        "</tbody></table>\n<footer>{folders} folder{}, {files} file{} · forkhttpd</footer>\n\
         </body></html>\n",
        plural(folders),
        plural(files)
    );
    page
}

/// `12345678` as `12,345,678`.
fn grouped(count: usize) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// `Index of /a/b/`, each parent a link (absolute, like the server's own redirects), the
/// folder itself plain text.
fn breadcrumbs(page: &mut String, segments: &[Vec<u8>]) {
    page.push_str("<h1>Index of ");
    if segments.is_empty() {
        page.push_str("/</h1>\n");
        return;
    }
    page.push_str("<a href=\"/\">/</a>");
    let mut link = String::from("/");
    for (i, segment) in segments.iter().enumerate() {
        let text = super::display_text(segment);
        if i + 1 == segments.len() {
            push_escaped(page, &text);
            page.push('/');
            break;
        }
        link.push_str(&href::segment(segment));
        link.push('/');
        let _ = write!(page, "<a href=\"{link}\">");
        push_escaped(page, &text);
        page.push_str("</a>/");
    }
    page.push_str("</h1>\n");
}

/// A column heading: a link to sort by it (ascending), or, for the current column, to the
/// other direction, with an arrow showing the current one.
fn heading(page: &mut String, column: Column, current: Order) {
    let label = match column {
        Column::Name => "Name",
        Column::Size => "Size",
        Column::Date => "Modified",
    };
    let is_current = current.column == column;
    let next = Order {
        column,
        descending: is_current && !current.descending,
    };
    let href = next.query().replace('&', "&amp;");
    match (is_current, current.descending) {
        (false, _) => {
            let _ = write!(page, "<th><a href=\"{href}\">{label}</a></th>");
        }
        (true, false) => {
            let _ = write!(
                page,
                "<th aria-sort=\"ascending\"><a href=\"{href}\">{label} ↑</a></th>"
            );
        }
        (true, true) => {
            let _ = write!(
                page,
                "<th aria-sort=\"descending\"><a href=\"{href}\">{label} ↓</a></th>"
            );
        }
    }
}

/// One entry. End tags of `td` and `tr` are optional (HTML §13.1.2.4) and left out, and
/// attribute values that hold only URL or digit characters are unquoted: a row costs about
/// 100 bytes and its name twice.
fn row(page: &mut String, entry: &Entry) {
    let slash = if entry.is_dir { "/" } else { "" };
    page.push_str("<tr><td>");
    // Written straight into the page, with no string of its own: a row is formatted 50,000
    // times for a large folder.
    page.push_str("<a href=");
    // Unreserved characters, `%` and `/` only: safe unquoted (HTML §13.1.2.3).
    if href::push_entry(page, &entry.name, entry.is_dir) {
        page.push('>');
        push_escaped(page, &entry.text);
        page.push_str(slash);
        page.push_str("</a>");
    } else {
        page.truncate(page.len() - "<a href=".len());
        push_escaped(page, &entry.text);
        page.push_str(slash);
    }
    if entry.is_dir {
        page.push_str("<td>—");
    } else if entry.size < 1024 {
        let _ = write!(page, "<td>{} B", entry.size);
    } else {
        let _ = write!(page, "<td title={}>", entry.size);
        push_human_size(page, entry.size);
    }
    // Minutes, in UTC: a `<time datetime>` with the seconds would add 44 bytes to every row.
    match entry.modified.and_then(civil) {
        Some(c) => {
            let (y, mo, d, h, mi) = (c.year, c.month, c.day, c.hour, c.minute);
            let _ = writeln!(page, "<td>{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}");
        }
        None => page.push_str("<td>\n"),
    }
}

/// Escapes the five characters that are special in HTML text and attribute values.
/// Runs between them are copied whole.
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest
        .bytes()
        .position(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Binary units with one decimal: `1.5 KiB`; bytes below 1 KiB.
fn push_human_size(out: &mut String, bytes: u64) {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        let _ = write!(out, "{bytes} B");
    } else {
        let _ = write!(out, "{value:.1} {}", UNITS[unit]);
    }
}

#[cfg(test)]
fn human_size(bytes: u64) -> String {
    let mut out = String::new();
    push_human_size(&mut out, bytes);
    out
}

/// A modification time in UTC, in numbers.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    #[cfg(test)]
    second: u64,
}

/// `None` before 1970: shown as no date rather than a wrong one.
fn civil(time: SystemTime) -> Option<Civil> {
    let secs = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    Some(Civil {
        year,
        month,
        day,
        hour: rest / 3600,
        minute: rest % 3600 / 60,
        #[cfg(test)]
        second: rest % 60,
    })
}

/// A modification time in UTC: `2026-12-01` and `23:04:05`.
#[cfg(test)]
struct Utc {
    date: String,
    seconds: String,
}

#[cfg(test)]
fn utc(time: SystemTime) -> Option<Utc> {
    let c = civil(time)?;
    Some(Utc {
        date: format!("{:04}-{:02}-{:02}", c.year, c.month, c.day),
        seconds: format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second),
    })
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn escapes_markup() {
        let mut out = String::new();
        push_escaped(&mut out, "<script>\"x\"&'");
        assert_eq!(out, "&lt;script&gt;&quot;x&quot;&amp;&#39;");
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(10_000), "10,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(16 << 20), "16.0 MiB");
    }

    #[test]
    fn dates_agree_with_http_dates() {
        for secs in [
            0u64,
            951_782_400,
            1_796_166_245,
            4_107_542_400,
            253_402_300_799,
        ] {
            let time = UNIX_EPOCH + Duration::from_secs(secs);
            let utc = utc(time).unwrap();
            let http = httpdate::fmt_http_date(time);
            let parsed = httpdate::parse_http_date(&http).unwrap();
            assert_eq!(parsed, time);
            // "Tue, 01 Dec 2026 23:04:05 GMT": day, month name, year, time.
            let fields: Vec<&str> = http.split(' ').collect();
            assert_eq!(&utc.date[8..], fields[1], "{http}");
            assert_eq!(&utc.date[..4], fields[3], "{http}");
            assert_eq!(utc.seconds, fields[4], "{http}");
        }
        let time = UNIX_EPOCH + Duration::from_secs(1_796_166_245);
        let utc = utc(time).unwrap();
        assert_eq!(
            (utc.date.as_str(), utc.seconds.as_str()),
            ("2026-12-01", "23:04:05")
        );
    }
}

//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines before each
//! family, then one `name{label="value",...} number` line per sample.
//!
//! Written by hand (a page of a dozen families needs no crate): the format's only traps are
//! escapes, and they are here. Label values escape backslash, double quote and line feed
//! (`\\`, `\"`, `\n`); HELP text escapes backslash and line feed. Names are our own constants.

use std::fmt::Write;

/// What a family is, for its `# TYPE` line.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Counter,
    Gauge,
}

/// The media type of the page.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A page being written.
#[derive(Debug, Default)]
pub(crate) struct Page {
    text: String,
}

impl Page {
    /// Starts family `name`: its HELP and TYPE lines.
    pub(crate) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        self.text.push_str("# HELP ");
        self.text.push_str(name);
        self.text.push(' ');
        escape(&mut self.text, help, false);
        self.text.push('\n');
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample of the family last started.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (at, (label, text)) in labels.iter().enumerate() {
                if at > 0 {
                    self.text.push(',');
                }
                self.text.push_str(label);
                self.text.push_str("=\"");
                escape(&mut self.text, text, true);
                self.text.push('"');
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.text.into_bytes()
    }
}

/// Appends `text` escaped: backslash and line feed always, double quote in label values.
fn escape(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_has_help_and_type_then_its_samples() {
        let mut page = Page::default();
        page.family("forkhttpd_things_total", Kind::Counter, "Things counted.");
        page.sample(
            "forkhttpd_things_total",
            &[("site", "a"), ("code", "2xx")],
            3,
        );
        page.family("forkhttpd_open", Kind::Gauge, "Open now.");
        page.sample("forkhttpd_open", &[], 0);
        assert_eq!(
            String::from_utf8(page.into_bytes()).unwrap(),
            "# HELP forkhttpd_things_total Things counted.\n\
             # TYPE forkhttpd_things_total counter\n\
             forkhttpd_things_total{site=\"a\",code=\"2xx\"} 3\n\
             # HELP forkhttpd_open Open now.\n\
             # TYPE forkhttpd_open gauge\n\
             forkhttpd_open 0\n"
        );
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        let mut page = Page::default();
        page.sample("m", &[("v", "a\\b\"c\nd")], u64::MAX);
        assert_eq!(
            String::from_utf8(page.into_bytes()).unwrap(),
            "m{v=\"a\\\\b\\\"c\\nd\"} 18446744073709551615\n"
        );
    }

    #[test]
    fn help_escapes_backslash_and_newline_but_not_quotes() {
        let mut page = Page::default();
        page.family("m", Kind::Gauge, "say \"hi\"\\\nbye");
        let text = String::from_utf8(page.into_bytes()).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            "# HELP m say \"hi\"\\\\\\nbye"
        );
    }

    #[test]
    fn other_characters_pass_unchanged() {
        let mut page = Page::default();
        page.sample("m", &[("site", "*.exämple.org (other)")], 1);
        assert_eq!(
            String::from_utf8(page.into_bytes()).unwrap(),
            "m{site=\"*.exämple.org (other)\"} 1\n"
        );
    }
}

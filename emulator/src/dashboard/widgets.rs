//! Small pieces of the dashboard's HTML: times and durations for people, and the inline-SVG depth chart (numbers
//! only; the templates escape everything user-controlled).

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::history::{Sample, WINDOW};
use crate::engine::Timestamp;

/// The first `max_chars` characters of `text`, and whether anything was cut.
pub fn truncated(text: &str, max_chars: usize) -> (&str, bool) {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => (&text[..at], true),
        None => (text, false),
    }
}

/// A timestamp as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn utc(at: Timestamp) -> String {
    let secs = at.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A duration as people read it: `42s`, `3m 12s`, `2h 5m`, `3d 4h`.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        3600..86_400 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// Writes an inline-SVG chart of visible messages over the last [`WINDOW`] (engine time) ending at `now` with
/// `current`, `width` by `height` pixels.
pub fn sparkline(
    out: &mut String,
    samples: &[Sample],
    current: u64,
    now: Timestamp,
    width: u32,
    height: u32,
) -> fmt::Result {
    let mut points: Vec<(f64, u64)> = samples
        .iter()
        .filter(|sample| sample.at < now && sample.at + WINDOW >= now)
        .map(|sample| {
            let ago = now.saturating_since(sample.at).as_secs_f64();
            (f64::from(width) * (1.0 - ago / WINDOW.as_secs_f64()), sample.visible)
        })
        .collect();
    points.push((f64::from(width), current));
    let max = points.iter().map(|(_, value)| *value).max().unwrap_or(0).max(1);
    let (pad, usable) = (2.0, f64::from(height) - 4.0);
    let y = |value: u64| pad + usable * (1.0 - value as f64 / max as f64);
    write!(
        out,
        r#"<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" data-samples="{}"><title>Visible messages, last {} minutes: now {current}, peak {max}</title>"#,
        points.len(),
        WINDOW.as_secs() / 60,
    )?;
    write!(out, r#"<line class="base" x1="0" y1="{0}" x2="{width}" y2="{0}"/>"#, y(0))?;
    if let [(first_x, _), .., (last_x, _)] = points.as_slice() {
        out.push_str(r#"<polygon class="area" points=""#);
        write!(out, "{first_x:.1},{:.1}", y(0))?;
        for (x, value) in &points {
            write!(out, " {x:.1},{:.1}", y(*value))?;
        }
        write!(out, r#" {last_x:.1},{:.1}"/><polyline class="line" points=""#, y(0))?;
        for (index, (x, value)) in points.iter().enumerate() {
            let separator = if index == 0 { "" } else { " " };
            write!(out, "{separator}{x:.1},{:.1}", y(*value))?;
        }
        out.push_str(r#""/>"#);
    }
    write!(out, r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="2.5"/></svg>"#, f64::from(width) - 2.5, y(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_character_boundaries() {
        assert_eq!(truncated("héllo", 2), ("hé", true));
        assert_eq!(truncated("hé", 2), ("hé", false));
    }

    #[test]
    fn formats_times_and_durations() {
        assert_eq!(utc(Timestamp::from_millis(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(Timestamp::from_millis(1_709_210_096_000)), "2024-02-29 12:34:56 UTC");
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(192)), "3m 12s");
        assert_eq!(human(Duration::from_secs(7500)), "2h 5m");
        assert_eq!(human(Duration::from_secs(3 * 86_400 + 4 * 3600)), "3d 4h");
    }

    #[test]
    fn sparkline_scales_to_the_peak_and_ends_at_now() {
        let now = Timestamp::from_millis(1_000_000);
        let samples = [
            Sample { at: now - Duration::from_secs(300), visible: 4, in_flight: 0 },
            Sample { at: now - Duration::from_secs(900), visible: 9, in_flight: 0 },
        ];
        let mut out = String::new();

        sparkline(&mut out, &samples, 2, now, 100, 20).expect("renders");

        assert!(out.contains(r#"data-samples="2""#), "{out}");
        assert!(out.contains("now 2, peak 4"), "{out}");
        assert!(out.contains(r#"points="50.0,2.0 100.0,10.0""#), "{out}");
    }
}

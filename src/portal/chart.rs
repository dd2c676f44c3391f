//! The health chart: per evaluation window, the attempts (bars, left scale) and the
//! failure rate (line, 0–100 %), with the unavailability threshold drawn. Plain SVG
//! rendered on the server; no script, no external asset.

use maud::{html, Markup};

use crate::store::AttemptWindow;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 40.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

/// The y of a failure rate in [0, 1].
fn rate_y(rate: f64) -> f64 {
    TOP + plot_height() * (1.0 - rate.clamp(0.0, 1.0))
}

pub fn health_chart(windows: &[AttemptWindow], threshold: f64) -> Markup {
    let n = windows.len().max(1) as f64;
    let slot = (WIDTH - LEFT) / n;
    let most = windows.iter().map(|w| w.attempts).max().unwrap_or(0).max(1) as f64;
    let rate_points: Vec<String> = windows
        .iter()
        .enumerate()
        .filter(|(_, w)| w.attempts > 0)
        .map(|(i, w)| {
            let x = LEFT + slot * (i as f64 + 0.5);
            let rate = w.failures as f64 / w.attempts as f64;
            format!("{x:.1},{:.1}", rate_y(rate))
        })
        .collect();
    let first = windows.first().map(|w| w.start.format("%H:%M").to_string());
    let last = windows.last().map(|w| w.start.format("%H:%M").to_string());
    let threshold_y = rate_y(threshold);
    let label = format!(
        "Attempts and failure rate per evaluation window; the line at {:.0} % is the threshold for unavailable",
        threshold * 100.0
    );
    html! {
        svg.chart role="img" aria-label=(label) viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } width="100%" {
            title { (label) }
            // Axes and the scale of the rate.
            line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(HEIGHT - BOTTOM) stroke="#9aa4b2" {}
            line x1=(LEFT) y1=(HEIGHT - BOTTOM) x2=(WIDTH) y2=(HEIGHT - BOTTOM) stroke="#9aa4b2" {}
            text x="2" y=(TOP + 4.0) font-size="10" fill="#5b6573" { "100 %" }
            text x="2" y=(HEIGHT - BOTTOM) font-size="10" fill="#5b6573" { "0 %" }
            @for (i, w) in windows.iter().enumerate() {
                @if w.attempts > 0 {
                    @let h = plot_height() * w.attempts as f64 / most;
                    rect.attempts x=(format!("{:.1}", LEFT + slot * i as f64 + 1.0)) y=(format!("{:.1}", HEIGHT - BOTTOM - h))
                        width=(format!("{:.1}", (slot - 2.0).max(1.0))) height=(format!("{:.1}", h)) fill="#c9d3e3" {
                        title { (w.start.format("%H:%M")) ": " (w.attempts) " attempts, " (w.failures) " failed" }
                    }
                }
            }
            line.threshold x1=(LEFT) y1=(format!("{threshold_y:.1}")) x2=(WIDTH) y2=(format!("{threshold_y:.1}"))
                stroke="#8a1c17" stroke-dasharray="6 4" {}
            text x=(WIDTH - 4.0) y=(format!("{:.1}", threshold_y - 4.0)) font-size="10" text-anchor="end" fill="#8a1c17" {
                (format!("{:.0} %", threshold * 100.0))
            }
            @if !rate_points.is_empty() {
                polyline.rate points=(rate_points.join(" ")) fill="none" stroke="#b35c00" stroke-width="2" {}
            }
            @if let (Some(first), Some(last)) = (first, last) {
                text x=(LEFT) y=(HEIGHT - 6.0) font-size="10" fill="#5b6573" { (first) }
                text x=(WIDTH) y=(HEIGHT - 6.0) font-size="10" text-anchor="end" fill="#5b6573" { (last) " UTC" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_millis;

    fn window(i: i64, attempts: i64, failures: i64) -> AttemptWindow {
        AttemptWindow {
            start: from_millis(i * 1_800_000),
            attempts,
            failures,
        }
    }

    #[test]
    fn one_bar_per_window_with_attempts_and_the_threshold_drawn() {
        let windows = [window(0, 10, 0), window(1, 0, 0), window(2, 5, 5)];
        let svg = health_chart(&windows, 0.8).into_string();
        assert_eq!(svg.matches("<rect class=\"attempts\"").count(), 2);
        assert!(svg.contains("class=\"threshold\""));
        assert!(svg.contains("80 %"));
        // The rate line: 0 % for the first window, 100 % for the third.
        let points = svg
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let ys: Vec<f64> = points
            .split(' ')
            .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            ys,
            [rate_y(0.0), rate_y(1.0)].map(|y| (y * 10.0).round() / 10.0)
        );
    }

    #[test]
    fn no_attempts_draws_no_line() {
        let svg = health_chart(&[window(0, 0, 0)], 0.8).into_string();
        assert!(!svg.contains("polyline"));
    }
}

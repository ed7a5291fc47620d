//! 健康存摺查詢 (My Health Bank, F9): the logged-in person's visits, medications and costs for
//! a date range; a chart of visits and costs per month (SVG with a title and description, and
//! the same figures as a table), and a CSV download.

use leptos::prelude::*;
use nhi_protocol::online::{HealthBankResponse, MonthSummary, Visit};

use super::online::{escape, guarded_download, thousands};
use crate::api;
use crate::components::{MessageBox, PageTitle};
use crate::i18n::{use_i18n, Lang, Msg, T};
use crate::session::{is_expired, SessionGate};

/// A plain `YYYY-MM-DD` (what `<input type=date>` gives).
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(k, c)| k == 4 || k == 7 || c.is_ascii_digit())
}

/// The longest range the server answers, in days (`server::services::health_bank::MAX_RANGE_DAYS`).
pub const MAX_RANGE_DAYS: i64 = 3700;

/// Days since 1970-01-01 of a `YYYY-MM-DD` (the civil-from-days algorithm, proleptic
/// Gregorian).
fn day_number(iso: &str) -> Option<i64> {
    let y: i64 = iso.get(0..4)?.parse().ok()?;
    let m: i64 = iso.get(5..7)?.parse().ok()?;
    let d: i64 = iso.get(8..10)?.parse().ok()?;
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// What is wrong with a range typed (empty ends are the server's defaults), if anything;
/// the page marks both date fields with it.
pub fn range_problem(from: &str, to: &str) -> Option<T> {
    let ok = |s: &str| s.is_empty() || is_iso_date(s);
    if !ok(from) || !ok(to) || (!from.is_empty() && !to.is_empty() && from > to) {
        return Some(T::HbRangeInvalid);
    }
    match (day_number(from), day_number(to)) {
        (Some(f), Some(t)) if t - f > MAX_RANGE_DAYS => Some(T::HbRangeTooLong),
        _ => None,
    }
}

/// Keeps the range in the address, so a reload or a new login comes back to it.
fn remember_range(from: &str, to: &str) {
    if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
        let url = format!("/health-bank?from={from}&to={to}");
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// The monthly chart: a bar's height and the number above it are both the month's visits;
/// the axis names its unit (`unit`) and its top value.
pub fn chart_svg(months: &[MonthSummary], title: &str, desc: &str, unit: &str) -> String {
    const W: f64 = 720.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 36.0;
    const TOP: f64 = 24.0;
    let n = months.len().max(1) as f64;
    let max = f64::from(months.iter().map(|m| m.visits).max().unwrap_or(0).max(1));
    let slot = (W - LEFT - 8.0) / n;
    let bar = (slot * 0.7).max(1.0);
    let plot_h = H - BOTTOM - TOP;
    let label_every = (months.len() / 12).max(1);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-labelledby=\"hb-chart-title hb-chart-desc\" class=\"chart\" focusable=\"false\">\
         <title id=\"hb-chart-title\">{}</title><desc id=\"hb-chart-desc\">{}</desc>",
        escape(title),
        escape(desc)
    );
    // Axis, its unit and the top value.
    s.push_str(&format!(
        "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{W}\" y2=\"{y}\" class=\"chart-axis\"/>\
         <text x=\"4\" y=\"12\" class=\"chart-label chart-unit\">{unit}</text>\
         <text x=\"{x}\" y=\"{t}\" class=\"chart-label\" text-anchor=\"end\">{top}</text>\
         <text x=\"{x}\" y=\"{y}\" class=\"chart-label\" text-anchor=\"end\">0</text>",
        y = H - BOTTOM,
        x = LEFT - 6.0,
        t = TOP + 4.0,
        unit = escape(unit),
        top = thousands(max as i64),
    ));
    for (k, m) in months.iter().enumerate() {
        let x = LEFT + slot * k as f64 + (slot - bar) / 2.0;
        let h = (f64::from(m.visits) / max) * plot_h;
        let y = H - BOTTOM - h;
        s.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" class=\"chart-bar\"/>"
        ));
        if m.visits > 0 && slot >= 12.0 {
            s.push_str(&format!(
                "<text x=\"{cx:.1}\" y=\"{ty:.1}\" class=\"chart-count\" text-anchor=\"middle\">{v}</text>",
                cx = x + bar / 2.0,
                ty = y - 4.0,
                v = m.visits
            ));
        }
        if k % label_every == 0 {
            // The month as the table and every page write it (`2026-01`).
            let label = m.month.clone();
            s.push_str(&format!(
                "<text x=\"{cx:.1}\" y=\"{ly}\" class=\"chart-label\" text-anchor=\"middle\">{l}</text>",
                cx = x + bar / 2.0,
                ly = H - BOTTOM + 16.0,
                l = escape(&label)
            ));
        }
    }
    s.push_str("</svg>");
    s
}

#[component]
pub fn HealthBank() -> impl IntoView {
    let i = use_i18n();
    let from = RwSignal::new(crate::util::query_param("from").unwrap_or_default());
    let to = RwSignal::new(crate::util::query_param("to").unwrap_or_default());
    let data = RwSignal::new(None::<HealthBankResponse>);
    let error = RwSignal::new(None::<Msg>);
    // The date fields the message is about (marked, and described by it).
    let bad_from = RwSignal::new(false);
    let bad_to = RwSignal::new(false);
    let expired = RwSignal::new(false);
    // The query for a range, as an action: on the page's load and on 「查詢」.
    let query = Action::new_local(move |(f, t): &(String, String)| {
        let mut q = Vec::new();
        if !f.is_empty() {
            q.push(format!("from={f}"));
        }
        if !t.is_empty() {
            q.push(format!("to={t}"));
        }
        let path = format!("/health-bank?{}", q.join("&"));
        async move {
            match api::get::<HealthBankResponse>(&path).await {
                Ok(r) => {
                    remember_range(&r.from, &r.to);
                    from.set(r.from.clone());
                    to.set(r.to.clone());
                    expired.set(false);
                    data.set(Some(r));
                }
                Err(e) if is_expired(&e) => expired.set(true),
                Err(e) => {
                    // A refused range names its field: mark it.
                    if let api::Failure::Api(a) = &e {
                        match a.field.as_deref() {
                            Some("from") => bad_from.set(true),
                            Some("to") => bad_to.set(true),
                            _ => {}
                        }
                    }
                    error.set(Some(Msg::from(&e)));
                }
            }
        }
    });
    let busy = query.pending();

    let load = move || {
        let (f, t) = (from.get_untracked(), to.get_untracked());
        let problem = range_problem(&f, &t);
        bad_from.set(problem.is_some());
        bad_to.set(problem.is_some());
        if let Some(key) = problem {
            error.set(Some(Msg::Key(key)));
            return;
        }
        error.set(None);
        query.dispatch((f, t));
    };
    load();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !busy.get_untracked() {
            load();
        }
    };

    view! {
        <PageTitle key=T::HbTitle />
        <p class="lead">{move || i.t(T::HbIntro)}</p>
        <SessionGate shown=expired />
        <form class="range-form" id="hb-range" on:submit=submit novalidate>
            <div class="field" class:field-invalid=move || bad_from.get()>
                <label for="hb-from">{move || i.t(T::HbFrom)}</label>
                <input id="hb-from" name="from" type="date"
                    aria-invalid=move || bad_from.get().then_some("true")
                    aria-describedby=move || bad_from.get().then_some("hb-range-error")
                    prop:value=move || from.get()
                    on:input=move |ev| from.set(event_target_value(&ev)) />
            </div>
            <div class="field" class:field-invalid=move || bad_to.get()>
                <label for="hb-to">{move || i.t(T::HbTo)}</label>
                <input id="hb-to" name="to" type="date"
                    aria-invalid=move || bad_to.get().then_some("true")
                    aria-describedby=move || bad_to.get().then_some("hb-range-error")
                    prop:value=move || to.get()
                    on:input=move |ev| to.set(event_target_value(&ev)) />
            </div>
            <div class="actions">
                <button type="submit" id="hb-search" class="button button-primary"
                    aria-busy=move || busy.get().then_some("true")>
                    {move || if busy.get() { i.t(T::Loading) } else { i.t(T::HbQuery) }}
                </button>
            </div>
        </form>
        <div id="hb-range-error"><MessageBox msg=error /></div>
        {move || data.get().map(|r| view! { <Results r expired error /> })}
    }
}

#[component]
fn Results(
    r: HealthBankResponse,
    expired: RwSignal<bool>,
    error: RwSignal<Option<Msg>>,
) -> impl IntoView {
    let i = use_i18n();
    let visits = r.visits.len();
    let cost: i64 = r.visits.iter().map(|v| v.cost).sum();
    let copay: i64 = r.visits.iter().map(|v| v.copayment).sum();
    let months = r.months.clone();
    let chart_months = months.clone();
    let chart = move || {
        chart_svg(
            &chart_months,
            &i.t(T::HbChartTitle),
            &i.t(T::HbChartDesc),
            &i.t(T::HbChartUnit),
        )
    };
    let csv = {
        let (f, t) = (r.from.clone(), r.to.clone());
        move || {
            let lang = if i.get() == Lang::En { "en" } else { "zh-TW" };
            format!("/api/v1/health-bank/export.csv?from={f}&to={t}&lang={lang}")
        }
    };
    let rows = r.visits.clone();
    view! {
        <section aria-labelledby="hb-summary-title" id="hb-results" data-visits=visits>
            <h2 id="hb-summary-title">{move || i.t(T::HbSummary)}</h2>
            <dl class="card-data" id="hb-summary">
                <div class="card-row"><dt>{move || i.t(T::HbVisitCount)}</dt><dd>{visits}</dd></div>
                <div class="card-row"><dt>{move || i.t(T::HbTotalCost)}</dt><dd>{thousands(cost)}</dd></div>
                <div class="card-row"><dt>{move || i.t(T::HbTotalCopay)}</dt><dd>{thousands(copay)}</dd></div>
            </dl>
            <div class="actions">
                <a id="export-csv" class="button button-secondary" href=csv.clone() download=""
                    on:click=move |ev| guarded_download(ev, csv(), expired, error)>
                    {move || i.t(T::HbExport)}
                </a>
            </div>
        </section>
        <section aria-labelledby="hb-chart-heading">
            <h2 id="hb-chart-heading">{move || i.t(T::HbChartTitle)}</h2>
            <figure class="chart-figure" id="hb-chart" inner_html=chart></figure>
            <div class="table-wrap" role="region" aria-labelledby="hb-month-caption" tabindex="0">
                <table class="data-table" id="hb-months">
                    <caption id="hb-month-caption">{move || i.t(T::HbMonthTable)}</caption>
                    <thead><tr>
                        <th scope="col">{move || i.t(T::HbMonth)}</th>
                        <th scope="col">{move || i.t(T::HbVisitCount)}</th>
                        <th scope="col">{move || i.t(T::HbCost)}</th>
                        <th scope="col">{move || i.t(T::HbCopay)}</th>
                    </tr></thead>
                    <tbody>
                        {months.into_iter().map(|m| view! {
                            <tr>
                                <th scope="row">{m.month.clone()}</th>
                                <td class="num">{m.visits}</td>
                                <td class="num">{thousands(m.cost)}</td>
                                <td class="num">{thousands(m.copayment)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <section>
            <h2 id="hb-visits-title">{move || i.t(T::HbVisitsTitle)}</h2>
            {if rows.is_empty() {
                view! { <p id="hb-no-visits">{move || i.t(T::HbNoVisits)}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap" role="region" aria-labelledby="hb-visits-title" tabindex="0">
                        <table class="data-table" id="hb-visits">
                            <thead><tr>
                                <th scope="col">{move || i.t(T::HbDate)}</th>
                                <th scope="col">{move || i.t(T::HbInstitution)}</th>
                                <th scope="col">{move || i.t(T::HbDiagnosis)}</th>
                                <th scope="col">{move || i.t(T::HbCost)}</th>
                                <th scope="col">{move || i.t(T::HbCopay)}</th>
                                <th scope="col">{move || i.t(T::HbMedications)}</th>
                            </tr></thead>
                            <tbody>{rows.into_iter().map(|v| view! { <VisitRow v /> }).collect_view()}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn VisitRow(v: Visit) -> impl IntoView {
    let i = use_i18n();
    let (zh, en, code) = (
        v.diagnosis_zh.clone(),
        v.diagnosis_en.clone(),
        v.diagnosis_code.clone(),
    );
    let diagnosis = move || {
        let name = if i.get() == Lang::En {
            en.clone()
        } else {
            zh.clone()
        };
        format!("{name} ({code})")
    };
    let meds = v.medications.clone();
    view! {
        <tr class="visit">
            <th scope="row">{v.date.clone()}</th>
            <td lang="zh-Hant-TW">{v.institution.clone()}</td>
            <td>{diagnosis}</td>
            <td class="num">{thousands(v.cost)}</td>
            <td class="num">{thousands(v.copayment)}</td>
            <td>
                {if meds.is_empty() {
                    view! { <span>{move || i.t(T::HbNoMedication)}</span> }.into_any()
                } else {
                    view! {
                        <ul class="meds">
                            {meds.into_iter().map(|m| view! {
                                <li>{format!("{} ×{} / {} ", m.name, m.quantity, m.days)}{move || i.t(T::HbDaysUnit)}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_a_title_description_and_a_bar_per_month() {
        let months = vec![
            MonthSummary {
                month: "2026-01".into(),
                visits: 2,
                cost: 1000,
                copayment: 100,
            },
            MonthSummary {
                month: "2026-02".into(),
                visits: 0,
                cost: 0,
                copayment: 0,
            },
        ];
        let svg = chart_svg(&months, "T<1>", "D", "visits");
        assert!(
            svg.contains("role=\"img\"")
                && svg.contains("<title id=\"hb-chart-title\">T&lt;1&gt;</title>")
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(">2026-01<"));
        assert!(
            is_iso_date("2026-01-31") && !is_iso_date("2026-1-31") && !is_iso_date("2026/01/31")
        );
    }

    /// The height of the `n`-th bar.
    fn bar_height(svg: &str, n: usize) -> f64 {
        svg.split("<rect")
            .nth(n + 1)
            .and_then(|r| r.split("height=\"").nth(1))
            .and_then(|h| h.split('"').next())
            .and_then(|h| h.parse().ok())
            .unwrap_or(f64::NAN)
    }

    /// Issue 17: the bar was the cost while its label was the visits, and the axis had no unit.
    #[test]
    fn bar_height_and_label_are_the_same_quantity_with_its_unit() {
        let month = |m: &str, visits, cost| MonthSummary {
            month: m.into(),
            visits,
            cost,
            copayment: 0,
        };
        // Few visits but a costly one, then many cheap ones.
        let months = vec![month("2026-01", 1, 90_000), month("2026-02", 4, 2_000)];
        let svg = chart_svg(&months, "T", "D", "visits (n)");
        let (a, b) = (bar_height(&svg, 0), bar_height(&svg, 1));
        assert!(
            (b / a - 4.0).abs() < 0.01,
            "heights {a} and {b} follow the visits"
        );
        assert!(svg.contains(">4</text>") && svg.contains(">1</text>"));
        assert!(svg.contains("chart-unit\">visits (n)</text>"));
        // The top of the axis is the most visits, not the most cost.
        assert!(!svg.contains("90,000"));
    }

    /// Issue 17: "over 10 years" is told and both date fields marked before the server says
    /// "check the marked fields".
    #[test]
    fn a_range_over_ten_years_is_named() {
        assert_eq!(
            range_problem("2000-01-01", "2099-12-31"),
            Some(T::HbRangeTooLong)
        );
        assert_eq!(range_problem("2016-01-01", "2025-12-31"), None);
        assert_eq!(
            range_problem("2026-02-01", "2026-01-01"),
            Some(T::HbRangeInvalid)
        );
        assert_eq!(range_problem("2026-1-01", ""), Some(T::HbRangeInvalid));
        assert_eq!(range_problem("", ""), None);
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-03-01"), Some(11_017));
        assert_eq!(
            day_number("2026-01-01")
                .zip(day_number("2025-01-01"))
                .map(|(a, b)| a - b),
            Some(365)
        );
    }
}

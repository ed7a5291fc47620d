//! The 投保證明 (insurance enrolment certificate) as a PDF, with correct zh-TW text: the CJK
//! font comes from a Debian package (default: fonts-noto-cjk, Noto Sans CJK TC in
//! `NotoSansCJK-Regular.ttc`), `certificate_font` / `certificate_font_index` choose another.
//! krilla embeds only the glyphs used (a subset, so the file stays small) with a ToUnicode
//! map, so the text can be extracted (pdftotext) and read by screen readers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Stroke;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use nhi_protocol::RocDate;
use time::Date;

use super::{ServiceError, ServiceResult};

/// A loaded font face, shared by every certificate.
#[derive(Clone)]
pub struct CertificateFont(Font);

/// One enrolment period.
#[derive(Debug, Clone)]
pub struct EnrolmentLine {
    pub unit_name: String,
    pub unit_code: String,
    pub category: String,
    pub start: Date,
    pub end: Option<Date>,
}

/// What the certificate says.
#[derive(Debug, Clone)]
pub struct CertificateData {
    pub certificate_no: String,
    pub name: String,
    pub national_id_masked: String,
    pub birth_date: Date,
    pub issued_on: Date,
    pub enrolments: Vec<EnrolmentLine>,
}

type FontCache = Mutex<HashMap<(PathBuf, u32), CertificateFont>>;

fn cache() -> &'static FontCache {
    static CACHE: OnceLock<FontCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Loads (once per process) face `index` of the font file at `path`.
pub async fn load_font(path: &Path, index: u32) -> ServiceResult<CertificateFont> {
    let key = (path.to_owned(), index);
    if let Some(f) = cache().lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(f.clone());
    }
    let p = path.to_owned();
    let font = tokio::task::spawn_blocking(move || -> ServiceResult<CertificateFont> {
        let bytes = std::fs::read(&p).map_err(|e| {
            ServiceError::Font(format!(
                "cannot read {} ({e}); install Debian's fonts-noto-cjk or set certificate_font",
                p.display()
            ))
        })?;
        Font::new(Arc::new(bytes).into(), index)
            .map(CertificateFont)
            .ok_or_else(|| {
                ServiceError::Font(format!("{} has no usable face #{index}", p.display()))
            })
    })
    .await
    .map_err(|e| ServiceError::Font(e.to_string()))??;
    cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, font.clone());
    Ok(font)
}

/// `中華民國115年11月26日`.
pub fn roc_long(d: Date) -> String {
    RocDate::from_date(d).map_or_else(|_| super::online::iso(d), RocDate::formal)
}

/// `084/03/01`.
pub fn roc_short(d: Date) -> String {
    RocDate::from_date(d).map_or_else(|_| super::online::iso(d), RocDate::formal_short)
}

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 50.0;
/// Table columns: (x, header).
const COLUMNS: [(f32, &str); 5] = [
    (MARGIN, "投保單位名稱"),
    (MARGIN + 140.0, "投保單位代號"),
    (MARGIN + 220.0, "身分別"),
    (MARGIN + 345.0, "加保日期"),
    (MARGIN + 420.0, "退保日期"),
];
const ROWS_PER_PAGE: usize = 28;

struct Pen<'a, 'b> {
    surface: krilla::surface::Surface<'a>,
    font: &'b Font,
}

impl Pen<'_, '_> {
    fn text(&mut self, x: f32, y: f32, size: f32, s: &str) {
        self.surface.draw_text(
            Point::from_xy(x, y),
            self.font.clone(),
            size,
            s,
            false,
            TextDirection::Auto,
        );
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        let mut pb = PathBuilder::new();
        pb.move_to(x1, y1);
        pb.line_to(x2, y2);
        if let Some(path) = pb.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                width,
                ..Stroke::default()
            }));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }
}

/// Renders the certificate (A4, one page per 28 enrolment lines).
pub fn render(font: &CertificateFont, d: &CertificateData) -> ServiceResult<Vec<u8>> {
    let font = &font.0;
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(format!("全民健康保險投保證明 {}", d.certificate_no))
            .language("zh-TW".into())
            .creator("nhi-server".into()),
    );
    let chunks: Vec<&[EnrolmentLine]> = if d.enrolments.is_empty() {
        vec![&[]]
    } else {
        d.enrolments.chunks(ROWS_PER_PAGE).collect()
    };
    let pages = chunks.len();
    for (n, rows) in chunks.into_iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| ServiceError::Pdf("page size".into()))?;
        let mut page = doc.start_page_with(settings);
        let pen = Pen {
            surface: page.surface(),
            font,
        };
        draw_page(pen, d, rows, n, pages);
        page.finish();
    }
    doc.finish()
        .map_err(|e| ServiceError::Pdf(format!("{e:?}")))
}

fn draw_page(
    mut pen: Pen<'_, '_>,
    d: &CertificateData,
    rows: &[EnrolmentLine],
    n: usize,
    pages: usize,
) {
    {
        // Title: 10 full-width characters at 22 pt.
        pen.text((PAGE_W - 220.0) / 2.0, 80.0, 22.0, "全民健康保險投保證明");
        pen.text(
            (PAGE_W - 250.0) / 2.0,
            102.0,
            10.0,
            "Certificate of National Health Insurance Enrolment",
        );
        let mut y = 140.0;
        let fields = [
            ("證明編號", d.certificate_no.clone()),
            ("姓名", d.name.clone()),
            ("身分證號", d.national_id_masked.clone()),
            ("出生日期", roc_long(d.birth_date)),
            ("核發日期", roc_long(d.issued_on)),
        ];
        for (label, value) in fields {
            pen.text(MARGIN, y, 12.0, &format!("{label}：{value}"));
            y += 20.0;
        }
        y += 10.0;
        pen.text(MARGIN, y, 12.0, "投保紀錄");
        y += 14.0;
        pen.line(MARGIN, y, PAGE_W - MARGIN, y, 0.8);
        y += 16.0;
        for (x, h) in COLUMNS {
            pen.text(x, y, 10.0, h);
        }
        y += 8.0;
        pen.line(MARGIN, y, PAGE_W - MARGIN, y, 0.5);
        y += 16.0;
        if rows.is_empty() {
            pen.text(MARGIN, y, 10.0, "查無投保紀錄");
            y += 18.0;
        }
        for r in rows {
            let end = r.end.map_or_else(|| "迄今".to_owned(), roc_short);
            let cells = [
                r.unit_name.as_str(),
                r.unit_code.as_str(),
                r.category.as_str(),
                &roc_short(r.start),
                &end,
            ];
            for ((x, _), c) in COLUMNS.iter().zip(cells) {
                pen.text(*x, y, 9.0, c);
            }
            y += 18.0;
        }
        pen.line(MARGIN, y - 8.0, PAGE_W - MARGIN, y - 8.0, 0.5);
        if n + 1 == pages {
            y += 16.0;
            pen.text(
                MARGIN,
                y,
                11.0,
                "茲證明上列人員參加全民健康保險之投保紀錄如上。",
            );
            y += 40.0;
            pen.text(MARGIN, y, 12.0, "衛生福利部中央健康保險署");
        }
        pen.text(
            MARGIN,
            PAGE_H - 50.0,
            8.0,
            "本證明由健保卡網路服務線上申辦系統產生（示範系統，資料皆為虛構）。",
        );
        pen.text(
            PAGE_W - MARGIN - 60.0,
            PAGE_H - 50.0,
            8.0,
            &format!("第 {} 頁，共 {pages} 頁", n + 1),
        );
        pen.surface.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_dates() {
        let d = Date::from_calendar_date(2026, time::Month::November, 26).expect("date");
        assert_eq!(roc_long(d), "中華民國115年11月26日");
        assert_eq!(roc_short(d), "115/11/26");
    }
}

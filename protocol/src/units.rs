//! API bodies of the insured-unit services (FLOWS F4–F8): unit roles, bulk registration
//! upload, upload records, bulk registrant activation and resend.
//!
//! Paths (all under [`crate::api::API_PREFIX`]):
//! - `GET  /units` → [`MyUnitsResponse`] (the logged-in person's units and permissions)
//! - `GET  /units/{code}/roles` → [`RolesResponse`]; `PUT /units/{code}/roles` [`SetRoleRequest`] (F4, admin only)
//! - `POST /units/{code}/uploads` raw file body, header [`FILE_NAME_HEADER`] → [`UploadAccepted`] (F5)
//! - `GET  /units/{code}/uploads` → [`UploadsResponse`]; `GET /units/{code}/uploads/{id}` → [`UploadRecord`] (F6)
//! - `GET  /units/{code}/uploads/{id}/rows?offset=&limit=&failed_only=` → [`UploadRowsResponse`]
//!   (one page, see [`RowsPage`]);
//!   `GET /units/{code}/uploads/{id}/result.txt` → the result file (the upload's encoding)
//! - `POST /bulk-registrations/activate` [`BulkActivateRequest`] → [`BulkActivateResponse`] (F7)
//! - `POST /bulk-registrations/resend` [`BulkResendRequest`] → `api::ResendResponse` (F8)

use serde::{Deserialize, Serialize};

use crate::api::{AccountStatus, CardProof};

/// Header carrying the uploaded file's name (percent-encoded UTF-8).
pub const FILE_NAME_HEADER: &str = "x-file-name";
/// The path of the F7 page the activation mail links to (`#ticket=…`, in the fragment).
pub const BULK_ACTIVATE_PATH: &str = "/bulk-activate";

/// A permission the unit admin grants per staff member (F4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// 「健保卡註冊上傳」
    Upload,
    /// 「健保卡註冊查詢」
    Query,
}

/// How the person logged in. Only the NHI card exists today; the citizen digital
/// certificate (自然人憑證) login is planned and will produce the same principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    NhiCard,
    CitizenCertificate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitSummary {
    pub unit_code: String,
    pub name: String,
    pub is_admin: bool,
    pub can_upload: bool,
    pub can_query: bool,
}

/// The logged-in person (name and email unmasked: they are the person's own, for the
/// upload page's pre-filled fields) and the units they may act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyUnitsResponse {
    pub login_method: LoginMethod,
    pub name: String,
    pub email: String,
    pub units: Vec<UnitSummary>,
    /// The server's upload size limit (bytes), for the upload page.
    pub upload_max_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffMember {
    pub national_id: String,
    pub name: String,
    pub can_upload: bool,
    pub can_query: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolesResponse {
    pub unit_code: String,
    pub unit_name: String,
    pub staff: Vec<StaffMember>,
}

/// Grants/revokes both permissions of one staff member (must be insured in the unit).
/// Both false removes the staff member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetRoleRequest {
    pub national_id: String,
    pub can_upload: bool,
    pub can_query: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    Queued,
    Processing,
    Done,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileEncoding {
    Utf8,
    Big5,
    Xlsx,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadAccepted {
    pub upload_id: i64,
    pub total_rows: i64,
    pub encoding: FileEncoding,
    /// .xlsx: the sheet read (the first with the header row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// .xlsx: the workbook's other sheets, not read (named so none is ignored silently).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_sheets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadRecord {
    pub id: i64,
    pub unit_code: String,
    /// Unix seconds.
    pub created_at: i64,
    pub uploader_name: String,
    pub file_name: String,
    pub encoding: FileEncoding,
    pub status: UploadStatus,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub accepted_rows: i64,
    pub rejected_rows: i64,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadsResponse {
    pub uploads: Vec<UploadRecord>,
}

/// Why a row was accepted or rejected (F5 checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RowReason {
    Accepted,
    /// Wrong number of columns, or an unreadable line.
    MalformedLine,
    /// A cell starts with `=`, `+`, `-`, `@`, tab or CR (spreadsheet formula injection).
    FormulaCell,
    InvalidId,
    NotInsured,
    NameMismatch,
    InvalidBirthDate,
    BirthDateMismatch,
    EmailMissing,
    EmailInvalid,
    MobileInvalid,
    AlreadyRegistered,
    /// A bulk registration for this person awaits activation.
    AlreadyPending,
    DuplicateInFile,
}

impl RowReason {
    pub const ALL: [RowReason; 14] = [
        RowReason::Accepted,
        RowReason::MalformedLine,
        RowReason::FormulaCell,
        RowReason::InvalidId,
        RowReason::NotInsured,
        RowReason::NameMismatch,
        RowReason::InvalidBirthDate,
        RowReason::BirthDateMismatch,
        RowReason::EmailMissing,
        RowReason::EmailInvalid,
        RowReason::MobileInvalid,
        RowReason::AlreadyRegistered,
        RowReason::AlreadyPending,
        RowReason::DuplicateInFile,
    ];

    /// Stable code (stored in the database, written in the result file).
    pub fn code(self) -> &'static str {
        match self {
            RowReason::Accepted => "accepted",
            RowReason::MalformedLine => "malformed_line",
            RowReason::FormulaCell => "formula_cell",
            RowReason::InvalidId => "invalid_id",
            RowReason::NotInsured => "not_insured",
            RowReason::NameMismatch => "name_mismatch",
            RowReason::InvalidBirthDate => "invalid_birth_date",
            RowReason::BirthDateMismatch => "birth_date_mismatch",
            RowReason::EmailMissing => "email_missing",
            RowReason::EmailInvalid => "email_invalid",
            RowReason::MobileInvalid => "mobile_invalid",
            RowReason::AlreadyRegistered => "already_registered",
            RowReason::AlreadyPending => "already_pending",
            RowReason::DuplicateInFile => "duplicate_in_file",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// (zh-TW, English) text for the result file and mails.
    pub fn text(self) -> (&'static str, &'static str) {
        match self {
            RowReason::Accepted => ("受理，已寄發認證信", "accepted; verification mail sent"),
            RowReason::MalformedLine => (
                "格式錯誤（欄位數不符）",
                "malformed line (wrong number of columns)",
            ),
            RowReason::FormulaCell => (
                "欄位內容不得以 = + - @ 開頭",
                "a cell starts with = + - @ (formula)",
            ),
            RowReason::InvalidId => ("身分證號錯誤", "invalid ID number"),
            RowReason::NotInsured => (
                "非本投保單位在保保險對象",
                "not currently insured in this unit",
            ),
            RowReason::NameMismatch => (
                "姓名與投保資料不符",
                "name does not match the insurance record",
            ),
            RowReason::InvalidBirthDate => (
                "出生日期格式錯誤（民國年 yyyMMdd）",
                "invalid birth date (ROC yyyMMdd)",
            ),
            RowReason::BirthDateMismatch => (
                "出生日期與投保資料不符",
                "birth date does not match the insurance record",
            ),
            RowReason::EmailMissing => ("未填電子信箱", "email missing"),
            RowReason::EmailInvalid => ("電子信箱格式錯誤", "invalid email"),
            RowReason::MobileInvalid => ("手機號碼格式錯誤", "invalid mobile number"),
            RowReason::AlreadyRegistered => ("已完成註冊", "already registered"),
            RowReason::AlreadyPending => (
                "已申請註冊，尚待認證",
                "already applied, awaiting activation",
            ),
            RowReason::DuplicateInFile => ("檔案內重複", "duplicate in the file"),
        }
    }
}

/// Why a whole file was refused (nothing is stored). Sent as the `field` `file` with this
/// code as the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileProblem {
    TooLarge,
    Empty,
    /// Neither valid UTF-8 nor valid Big5 (cp950), or a UTF-8 BOM before bytes that are not
    /// UTF-8; the error's `line` names the first line that cannot be read.
    Encoding,
    /// A spreadsheet that cannot be read (or another binary format).
    Unreadable,
    TooManyRows,
    UnsupportedType,
    /// A line with more than 26 fields, or a spreadsheet value right of column Z.
    TooManyColumns,
    /// A field or cell longer than 4096 bytes (often an unclosed quote).
    FieldTooLong,
    /// A spreadsheet that unpacks to far more than its size allows (a zip bomb), or has too
    /// many parts or shared strings.
    TooLargeDecompressed,
    /// Too many files are being read right now; retry in a moment (HTTP 503).
    Busy,
    /// Not a text file or a spreadsheet (an image, a PDF, a zip that is not .xlsx, a NUL
    /// byte…): refused before any decoding (issue 17).
    NotText,
}

impl FileProblem {
    pub fn code(self) -> &'static str {
        match self {
            FileProblem::TooLarge => "too_large",
            FileProblem::Empty => "empty",
            FileProblem::Encoding => "encoding",
            FileProblem::Unreadable => "unreadable",
            FileProblem::TooManyRows => "too_many_rows",
            FileProblem::UnsupportedType => "unsupported_type",
            FileProblem::TooManyColumns => "too_many_columns",
            FileProblem::FieldTooLong => "field_too_long",
            FileProblem::TooLargeDecompressed => "too_large_decompressed",
            FileProblem::Busy => "busy",
            FileProblem::NotText => "not_text",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadRowResult {
    pub row_number: i64,
    pub national_id_masked: String,
    pub name: String,
    pub reason: RowReason,
}

/// The page size of `GET …/uploads/{id}/rows` when the request names none.
pub const ROWS_PAGE_DEFAULT: i64 = 100;
/// The largest page `GET …/uploads/{id}/rows` answers; a bigger `limit` is clamped to it.
pub const ROWS_PAGE_MAX: i64 = 500;

/// Where a page of rows starts, once the request's claims are checked: `offset` below 0
/// becomes 0, `limit` is clamped to `1..=ROWS_PAGE_MAX`, and an offset at or past the end of
/// the `matching` rows becomes the start of the last page (0 when nothing matches). Pure
/// arithmetic, shared by the server (which answers it) and the records page (its buttons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowsPage {
    pub offset: i64,
    pub limit: i64,
}

impl RowsPage {
    pub fn clamp(offset: i64, limit: i64, matching: i64) -> Self {
        let limit = limit.clamp(1, ROWS_PAGE_MAX);
        let matching = matching.max(0);
        let last = if matching == 0 {
            0
        } else {
            (matching - 1) / limit * limit
        };
        RowsPage {
            offset: offset.clamp(0, last),
            limit,
        }
    }

    /// 1-based numbers of the first and last row shown, among the matching ones; None when
    /// the page is empty.
    pub fn shown(self, matching: i64) -> Option<(i64, i64)> {
        let last = self.offset.saturating_add(self.limit).min(matching);
        (last > self.offset).then(|| (self.offset + 1, last))
    }

    /// The previous page's offset (None on the first page).
    pub fn previous(self) -> Option<i64> {
        (self.offset > 0).then(|| (self.offset - self.limit).max(0))
    }

    /// The next page's offset (None on the last page).
    pub fn next(self, matching: i64) -> Option<i64> {
        let next = self.offset.saturating_add(self.limit);
        (next < matching).then_some(next)
    }

    /// The last page's offset.
    pub fn last(self, matching: i64) -> i64 {
        RowsPage::clamp(i64::MAX, self.limit, matching).offset
    }
}

/// One page of an upload's row results (F6 「查看各列結果」), in row order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadRowsResponse {
    pub rows: Vec<UploadRowResult>,
    /// Rows decided so far, whatever the filter.
    pub total: i64,
    /// Rows the filter matches: the refused rows with `failed_only`, else `total`.
    pub matching: i64,
    /// Among the matching rows, how many come before this page (the offset used, after
    /// [`RowsPage::clamp`]).
    pub offset: i64,
    /// The page size used (after [`RowsPage::clamp`]).
    pub limit: i64,
    /// Only refused rows (`?failed_only=true`).
    pub failed_only: bool,
}

impl UploadRowsResponse {
    pub fn page(&self) -> RowsPage {
        RowsPage {
            offset: self.offset,
            limit: self.limit,
        }
    }
}

/// F7 「確定」: the mail's ticket, a proof of the card (its verified record must be the row's
/// person) and the new password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkActivateRequest {
    pub ticket: String,
    pub proof: CardProof,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkActivateResponse {
    pub status: AccountStatus,
}

/// F8 for bulk registrants: the card's verified record identifies the person (by ID number);
/// the email may be new. The answer is always `{accepted: true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkResendRequest {
    pub proof: CardProof,
    pub email: crate::Email,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_reason_codes_round_trip() {
        for r in RowReason::ALL {
            assert_eq!(RowReason::from_code(r.code()), Some(r));
            let wire = serde_json::to_value(r).expect("json");
            assert_eq!(wire.as_str(), Some(r.code()));
        }
    }

    #[test]
    fn rows_page_clamps_the_claims() {
        // Within range: as asked (an offset not on a page boundary is kept).
        assert_eq!(
            RowsPage::clamp(150, 100, 1000),
            RowsPage {
                offset: 150,
                limit: 100
            }
        );
        // Negative offset, zero/negative/huge limit.
        assert_eq!(RowsPage::clamp(-5, 100, 1000).offset, 0);
        assert_eq!(RowsPage::clamp(0, 0, 1000).limit, 1);
        assert_eq!(RowsPage::clamp(0, -7, 1000).limit, 1);
        assert_eq!(RowsPage::clamp(0, i64::MAX, 1000).limit, ROWS_PAGE_MAX);
        // At or past the end: the last page; nothing matching: offset 0.
        assert_eq!(RowsPage::clamp(1000, 100, 1000).offset, 900);
        assert_eq!(RowsPage::clamp(999, 100, 1000).offset, 900);
        assert_eq!(RowsPage::clamp(i64::MAX, 100, 1001).offset, 1000);
        assert_eq!(RowsPage::clamp(i64::MAX, 100, 0).offset, 0);
        assert_eq!(
            RowsPage::clamp(i64::MIN, i64::MIN, 5),
            RowsPage {
                offset: 0,
                limit: 1
            }
        );
    }

    #[test]
    fn rows_page_arithmetic_at_the_boundaries() {
        let p = RowsPage::clamp(0, 100, 250);
        assert_eq!(p.shown(250), Some((1, 100)));
        assert_eq!(p.previous(), None);
        assert_eq!(p.next(250), Some(100));
        assert_eq!(p.last(250), 200);
        let last = RowsPage::clamp(200, 100, 250);
        assert_eq!(last.shown(250), Some((201, 250)));
        assert_eq!(last.next(250), None);
        assert_eq!(last.previous(), Some(100));
        // Exactly full pages: the last page is full, no empty page after it.
        let full = RowsPage::clamp(5000, 100, 200);
        assert_eq!(full.offset, 100);
        assert_eq!(full.shown(200), Some((101, 200)));
        assert_eq!(full.next(200), None);
        // One row, no rows.
        assert_eq!(RowsPage::clamp(0, 100, 1).shown(1), Some((1, 1)));
        assert_eq!(RowsPage::clamp(0, 100, 0).shown(0), None);
        assert_eq!(RowsPage::clamp(0, 100, 0).next(0), None);
        // An unaligned offset steps back to 0, not below.
        assert_eq!(RowsPage::clamp(30, 100, 250).previous(), Some(0));
        // No overflow near i64::MAX.
        let far = RowsPage {
            offset: i64::MAX - 1,
            limit: ROWS_PAGE_MAX,
        };
        assert_eq!(far.next(i64::MAX), None);
    }
}

//! API bodies of the insured-unit services (FLOWS F4–F8): unit roles, bulk registration
//! upload, upload records, bulk registrant activation and resend.
//!
//! Paths (all under [`crate::api::API_PREFIX`]):
//! - `GET  /units` → [`MyUnitsResponse`] (the logged-in person's units and permissions)
//! - `GET  /units/{code}/roles` → [`RolesResponse`]; `PUT /units/{code}/roles` [`SetRoleRequest`] (F4, admin only)
//! - `POST /units/{code}/uploads` raw file body, header [`FILE_NAME_HEADER`] → [`UploadAccepted`] (F5)
//! - `GET  /units/{code}/uploads` → [`UploadsResponse`]; `GET /units/{code}/uploads/{id}` → [`UploadRecord`] (F6)
//! - `GET  /units/{code}/uploads/{id}/rows` → [`UploadRowsResponse`];
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadRowsResponse {
    pub rows: Vec<UploadRowResult>,
    pub total: i64,
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
}

//! F7 bulk registrant activation (「健保卡註冊認證作業」) and F8 resend for bulk registrants,
//! with their mails.

use nhi_protocol::api::{AccountStatus, ProofPurpose, ResendResponse, TICKET_TTL_SECONDS};
use nhi_protocol::mask::mask_name;
use nhi_protocol::units::{
    BulkActivateRequest, BulkActivateResponse, BulkResendRequest, BULK_ACTIVATE_PATH,
};
use nhi_protocol::RocDate;

use super::bulk_upload::ResultAttachment;
use super::mails::{self, escape, html_page, taipei_time, Rendered};
use super::registration::{new_ticket, presented_ticket_hash};
use super::units::id_for_audit;
use super::ServiceResult;
use super::{mask_email, Caller, ServiceError, Services};
use crate::storage::accounts::{self, NewAccount};
use crate::storage::registrants as store;
use crate::storage::units;
use crate::storage::{self, audit, StorageError};

/// The F7 link; the ticket travels in the fragment (issue 10).
pub fn activate_link(origin: &str, ticket: &str) -> String {
    nhi_protocol::api::ticket_link(origin, BULK_ACTIVATE_PATH, ticket)
}

/// F7: the verification mail of an accepted row. Plain text only and short: a large unit
/// sends 100,000 of them in one job, and every byte is written to the outbox (mail clients
/// turn the link into a link).
pub fn bulk_activation_mail(
    name_masked: &str,
    unit_name: &str,
    link: &str,
    expires_at: i64,
) -> Rendered {
    let until = taipei_time(expires_at);
    let subject = "健保卡網路服務註冊認證通知 / NHI card registration: please activate".to_owned();
    let text = format!(
        "{name_masked} 您好：{unit_name} 已為您申請健保卡網路服務註冊。\n\
         請於 {until}（臺灣時間）前開啟「健保卡註冊認證作業」，插入健保卡按「讀取」並設定註冊密碼（連結限用一次）：\n{link}\n\n\
         {unit_name} registered you for NHI card online services. Before {until} (Taiwan time) open the link, \
         insert your NHI card, press \"Read\" and set your password (single use).\n"
    );
    Rendered {
        kind: "bulk_activation",
        subject,
        text,
        html: String::new(),
    }
}

/// What the uploader's result mail reports (F5).
pub struct ResultSummary<'a> {
    pub uploader: &'a str,
    pub file_name: &'a str,
    pub unit_code: &'a str,
    pub accepted: i64,
    pub rejected: i64,
    /// .xlsx: the sheet read and the others (not read).
    pub sheet: Option<&'a str>,
    pub other_sheets: &'a [String],
    pub attachment: ResultAttachment,
}

/// F5: the uploader's result mail: the counts, the sheets of an .xlsx, and what is attached
/// (see [`ResultAttachment`]) with the records page's link.
pub fn result_mail(r: &ResultSummary<'_>, origin: &str) -> Rendered {
    let (uploader, file_name, accepted, rejected) =
        (r.uploader, r.file_name, r.accepted, r.rejected);
    let records = format!("{origin}/units/records?unit={}", r.unit_code);
    let subject =
        format!("健保卡註冊申請整批資料上傳結果 / Bulk registration upload result: {file_name}");
    let (zh_file, en_file) = match r.attachment {
        ResultAttachment::Whole => (
            "各列結果及原因請見附件".to_owned(),
            "The attached file gives each row's outcome and reason".to_owned(),
        ),
        ResultAttachment::Compressed => (
            "結果檔較大，附件為其壓縮檔（.zip），內含各列結果及原因".to_owned(),
            "The result file is large: it is attached compressed (.zip), with each row's outcome and reason".to_owned(),
        ),
        ResultAttachment::FailuresCompressed => (
            format!("結果檔過大，附件（.zip）僅含不受理的各列及原因；完整結果檔請至「健保卡註冊申請上傳紀錄查詢」下載：{records}"),
            format!("The result file is too large to mail: the attachment (.zip) has only the rejected rows and their reasons; download the full file from the upload records: {records}"),
        ),
        ResultAttachment::LinkOnly => (
            format!("結果檔過大，未附加；請至「健保卡註冊申請上傳紀錄查詢」下載：{records}"),
            format!("The result file is too large to mail and is not attached; download it from the upload records: {records}"),
        ),
    };
    let (zh_sheets, en_sheets) = match r.sheet {
        Some(sheet) => {
            let others = r.other_sheets.join("」、「");
            let others_en = r.other_sheets.join("\", \"");
            if r.other_sheets.is_empty() {
                (
                    format!("讀取的工作表：「{sheet}」。"),
                    format!(" Sheet read: \"{sheet}\"."),
                )
            } else {
                (
                    format!("讀取的工作表：「{sheet}」；未讀取的工作表：「{others}」。"),
                    format!(" Sheet read: \"{sheet}\"; sheets not read: \"{others_en}\"."),
                )
            }
        }
        None => (String::new(), String::new()),
    };
    let text = format!(
        "{uploader} 您好：\n您上傳的檔案「{file_name}」已處理完成：受理 {accepted} 筆，不受理 {rejected} 筆。{zh_sheets}\
         {zh_file}，亦可於「健保卡註冊申請上傳紀錄查詢」查詢：{records}\n----\n\
         Dear {uploader},\nYour file \"{file_name}\" has been processed: {accepted} rows accepted, {rejected} rejected.{en_sheets} \
         {en_file}; the upload records are also at {records}\n"
    );
    let html = html_page(&format!(
        "<p>{u} 您好：</p><p>您上傳的檔案「{f}」已處理完成：受理 {accepted} 筆，不受理 {rejected} 筆。{zs}{zf}。</p><hr>\
         <p lang=\"en\">Dear {u}, your file “{f}” has been processed: {accepted} rows accepted, {rejected} rejected.{es} \
         {ef}.</p>",
        u = escape(uploader),
        f = escape(file_name),
        zs = escape(&zh_sheets),
        zf = escape(&zh_file),
        es = escape(&en_sheets),
        ef = escape(&en_file),
    ));
    Rendered {
        kind: "bulk_result",
        subject,
        text,
        html,
    }
}

impl Services {
    /// F7 「確定」: ticket + the row's person's card + password → an active account, the
    /// ticket consumed, the completion mail and the audit entry, in one transaction.
    pub async fn bulk_activate(
        &self,
        caller: &Caller,
        req: BulkActivateRequest,
    ) -> ServiceResult<BulkActivateResponse> {
        let verified = self.verify_card(&req.proof, ProofPurpose::Activate).await?;
        let card = verified.card_number().as_str().to_owned();
        let refuse =
            |outcome, error| self.refused(caller, &card, "bulk_activation", outcome, error);
        let Some(hash) = presented_ticket_hash(&req.ticket) else {
            return Err(refuse("ticket_invalid", ServiceError::TicketInvalid).await);
        };
        let registrant = {
            let mut conn = self.db.conn().await?;
            store::registrant_by_token(&mut conn, &hash).await?
        };
        let Some(r) = registrant.filter(|r| r.status == "pending") else {
            return Err(refuse("ticket_invalid", ServiceError::TicketInvalid).await);
        };
        let now = storage::now();
        if r.expires_at.unwrap_or(0) < now {
            return Err(refuse("ticket_expired", ServiceError::TicketExpired).await);
        }
        if verified.national_id().as_str() != r.national_id {
            return Err(refuse("wrong_card", ServiceError::WrongCard).await);
        }
        {
            let mut conn = self.db.conn().await?;
            if accounts::by_card_or_id(&mut conn, &card, &r.national_id)
                .await?
                .is_some()
            {
                return Err(ServiceError::AlreadyRegistered);
            }
        }
        let password_hash = self
            .checked_hash(req.password.clone(), verified.data(), &r.email)
            .await?;
        let birth = verified.birth_date().to_string();
        let sex = verified.sex().to_string();
        let account = NewAccount {
            card_number: &card,
            national_id: verified.national_id().as_str(),
            name: verified.name(),
            birth_date: &birth,
            sex: &sex,
            // Bulk registrants are not checked against the household registry (F5: no
            // household number needed); the unit vouched for them.
            household_number: "",
            county: "",
            township: "",
            village: "",
            neighbourhood: 0,
            email: &r.email,
            mobile: r.mobile.as_deref(),
            phone: None,
            password_hash: &password_hash,
        };
        let mut tx = self.db.begin().await?;
        let id = match accounts::insert_pending(&mut tx, &account, now).await {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => return Err(ServiceError::AlreadyRegistered),
            Err(e) => return Err(e.into()),
        };
        if !accounts::activate(&mut tx, id, now).await?
            || !store::activate_registrant(&mut tx, r.id, &hash, id).await?
        {
            return Err(ServiceError::TicketInvalid);
        }
        let mail = mails::completion(&mask_name(&r.name), self.config.origin());
        mails::enqueue(&mut tx, &r.email, &mail, now).await?;
        let detail = format!("unit={}", r.unit_code);
        let entry = audit::AuditEntry {
            actor: Some(&card),
            action: "bulk_activation",
            outcome: "activated",
            ip: &caller.ip,
            detail: Some(&detail),
        };
        audit::commit(tx, &entry, now).await?;
        self.outbox_wakeup.notify_one();
        Ok(BulkActivateResponse {
            status: AccountStatus::Active,
        })
    }

    /// F8 for bulk registrants: a new 5-day link (the old one stops working), to the same or
    /// a new address. Same answer whatever the state (anti-enumeration).
    pub async fn bulk_resend(
        &self,
        caller: &Caller,
        req: &BulkResendRequest,
    ) -> ServiceResult<ResendResponse> {
        let verified = self.verify_card(&req.proof, ProofPurpose::Resend).await?;
        let card = verified.card_number().as_str();
        let outcome = self
            .bulk_resend_inner(verified.national_id().as_str(), req.email.as_str())
            .await?;
        let detail = format!("id={}", id_for_audit(verified.national_id().as_str()));
        self.audit(caller, Some(card), "bulk_resend", outcome, Some(&detail))
            .await;
        Ok(ResendResponse { accepted: true })
    }

    async fn bulk_resend_inner(
        &self,
        national_id: &str,
        email: &str,
    ) -> ServiceResult<&'static str> {
        let now = storage::now();
        let mut tx = self.db.begin().await?;
        let Some(r) = store::pending_registrant(&mut tx, national_id).await? else {
            return Ok("no_registrant");
        };
        let interval = i64::try_from(self.config.resend_interval_seconds).unwrap_or(i64::MAX);
        if now.saturating_sub(r.token_created_at.unwrap_or(0)) < interval {
            return Ok("too_soon");
        }
        let ticket = new_ticket(now);
        store::replace_ticket(&mut tx, r.id, &ticket.hash, email, now, ticket.expires_at).await?;
        let unit_name = units::unit(&mut tx, &r.unit_code)
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        let mail = bulk_activation_mail(
            &mask_name(&r.name),
            &unit_name,
            &activate_link(self.config.origin(), &ticket.token),
            ticket.expires_at,
        );
        mails::enqueue(&mut tx, email, &mail, now).await?;
        mails::notify_old_address(&mut tx, &r.name, &r.email, email, now).await?;
        tx.commit().await.map_err(StorageError::from)?;
        self.outbox_wakeup.notify_one();
        tracing::debug!(email = %mask_email(email), "bulk resend");
        Ok("sent")
    }
}

/// Ticket lifetime of bulk registrants (the same 5 days as F1).
pub const BULK_TICKET_TTL: i64 = TICKET_TTL_SECONDS as i64;

/// Whether a row's birth date (ROC) is the insured record's.
pub fn same_birth_date(a: &str, b: &str) -> bool {
    match (a.parse::<RocDate>(), b.parse::<RocDate>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

//! 線上申辦業務 (online applications, F9): 換補發健保卡 and 投保證明, each with a status the
//! person follows; operators move them on through an authenticated API, every change audited
//! in the same transaction.

use nhi_protocol::mask::mask_middle;
use nhi_protocol::online::{
    Application, ApplicationKind, ApplicationStatus, CardReplacementRequest, OperatorStatusRequest,
    ReplacementReason, StatusEvent,
};
use sqlx::AnyConnection;

use super::certificate_pdf::{self, CertificateData, EnrolmentLine};
use super::health_bank::{birth_date_of, ensure_seeded};
use super::online::{parse_iso, today, Operator};
use super::{Caller, Services};
use super::{ServiceError, ServiceResult};
use crate::storage::accounts::AccountRow;
use crate::storage::audit::{self, AuditEntry};
use crate::storage::{self};

/// Longest operator note kept.
pub const MAX_NOTE_CHARS: usize = 500;

type AppRow = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

const APP_COLUMNS: &str =
    "id, account_id, kind, status, reason, postal_code, mailing_address, created_at, updated_at";

async fn load(conn: &mut AnyConnection, rows: Vec<AppRow>) -> ServiceResult<Vec<Application>> {
    let mut out = Vec::with_capacity(rows.len());
    for (id, _, kind, status, reason, postal_code, mailing_address, created_at, updated_at) in rows
    {
        let kind = ApplicationKind::parse(&kind)
            .ok_or_else(|| ServiceError::bad("kind", format!("stored kind {kind} unknown")))?;
        let status = ApplicationStatus::parse(&status).ok_or_else(|| {
            ServiceError::bad("status", format!("stored status {status} unknown"))
        })?;
        let events: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT status, at, note FROM application_events WHERE application_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        out.push(Application {
            id,
            kind,
            status,
            created_at,
            updated_at,
            reason: reason.as_deref().and_then(ReplacementReason::parse),
            postal_code,
            mailing_address,
            timeline: events
                .into_iter()
                .filter_map(|(s, at, note)| {
                    ApplicationStatus::parse(&s).map(|status| StatusEvent { status, at, note })
                })
                .collect(),
            certificate_available: kind == ApplicationKind::EnrolmentCertificate
                && status == ApplicationStatus::Issued,
        });
    }
    Ok(out)
}

async fn insert_event(
    conn: &mut AnyConnection,
    application: i64,
    status: ApplicationStatus,
    at: i64,
    actor: &str,
    note: Option<&str>,
) -> ServiceResult<()> {
    sqlx::query(
        "INSERT INTO application_events (application_id, status, at, actor, note) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(application)
    .bind(status.as_str())
    .bind(at)
    .bind(actor)
    .bind(note)
    .execute(conn)
    .await?;
    Ok(())
}

impl Services {
    async fn create_application(
        &self,
        caller: &Caller,
        account: &AccountRow,
        kind: ApplicationKind,
        form: Option<&CardReplacementRequest>,
    ) -> ServiceResult<Application> {
        let now = storage::now();
        let mut tx = self.db.begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO applications (account_id, kind, status, reason, postal_code, mailing_address, created_at, updated_at) \
             VALUES ($1, $2, 'submitted', $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(account.id)
        .bind(kind.as_str())
        .bind(form.map(|f| f.reason.as_str()))
        .bind(form.map(|f| f.postal_code.trim().to_owned()))
        .bind(form.map(|f| f.mailing_address.trim().to_owned()))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        insert_event(
            &mut tx,
            id,
            ApplicationStatus::Submitted,
            now,
            &account.card_number,
            None,
        )
        .await?;
        let detail = format!("id={id} kind={}", kind.as_str());
        audit::insert(
            &mut tx,
            &AuditEntry {
                actor: Some(&account.card_number),
                action: "application_submit",
                outcome: "ok",
                ip: &caller.ip,
                detail: Some(&detail),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(target: "audit", actor = %account.card_number, action = "application_submit", outcome = "ok", ip = %caller.ip, detail, "audit");
        self.application_of(account, id).await
    }

    /// 換補發健保卡.
    pub async fn apply_card_replacement(
        &self,
        caller: &Caller,
        account: &AccountRow,
        req: &CardReplacementRequest,
    ) -> ServiceResult<Application> {
        req.validate()
            .map_err(|(field, e)| ServiceError::bad(field, e.to_string()))?;
        self.create_application(caller, account, ApplicationKind::CardReplacement, Some(req))
            .await
    }

    /// 投保證明.
    pub async fn apply_certificate(
        &self,
        caller: &Caller,
        account: &AccountRow,
    ) -> ServiceResult<Application> {
        ensure_seeded(&self.db, account).await?;
        self.create_application(caller, account, ApplicationKind::EnrolmentCertificate, None)
            .await
    }

    /// The person's applications, newest first.
    pub async fn applications_of(&self, account: &AccountRow) -> ServiceResult<Vec<Application>> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<AppRow> = sqlx::query_as(&format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE account_id = $1 ORDER BY id DESC"
        ))
        .bind(account.id)
        .fetch_all(&mut *conn)
        .await?;
        load(&mut conn, rows).await
    }

    /// One of the person's applications; another person's is `NotFound`.
    pub async fn application_of(
        &self,
        account: &AccountRow,
        id: i64,
    ) -> ServiceResult<Application> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<AppRow> = sqlx::query_as(&format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE id = $1 AND account_id = $2"
        ))
        .bind(id)
        .bind(account.id)
        .fetch_all(&mut *conn)
        .await?;
        load(&mut conn, rows)
            .await?
            .pop()
            .ok_or(ServiceError::ApplicationNotFound)
    }

    /// Applications for operators, optionally only those in `status`, oldest first.
    pub async fn operator_applications(
        &self,
        status: Option<ApplicationStatus>,
    ) -> ServiceResult<Vec<Application>> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<AppRow> = match status {
            Some(s) => {
                sqlx::query_as(&format!(
                    "SELECT {APP_COLUMNS} FROM applications WHERE status = $1 ORDER BY id LIMIT 500"
                ))
                .bind(s.as_str())
                .fetch_all(&mut *conn)
                .await?
            }
            None => {
                sqlx::query_as(&format!(
                    "SELECT {APP_COLUMNS} FROM applications ORDER BY id DESC LIMIT 500"
                ))
                .fetch_all(&mut *conn)
                .await?
            }
        };
        load(&mut conn, rows).await
    }

    /// An operator moves an application on. Only the transitions of
    /// [`ApplicationStatus::next`] are allowed; the change, the timeline event and the audit
    /// entry are one transaction, and a concurrent change of the same application loses.
    pub async fn advance_application(
        &self,
        caller: &Caller,
        op: &Operator,
        id: i64,
        req: &OperatorStatusRequest,
    ) -> ServiceResult<Application> {
        let note = req.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if note
            .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS || n.chars().any(char::is_control))
        {
            return Err(ServiceError::bad(
                "note",
                "at most 500 characters, no control characters",
            ));
        }
        let actor = op.actor();
        let now = storage::now();
        let mut tx = self.db.begin().await?;
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT a.kind, a.status, acc.card_number FROM applications a \
             JOIN accounts acc ON acc.id = a.account_id WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((kind, from, owner)) = row else {
            drop(tx);
            self.audit(
                caller,
                Some(&actor),
                "application_status",
                "not_found",
                Some(&format!("id={id}")),
            )
            .await;
            return Err(ServiceError::ApplicationNotFound);
        };
        let kind = ApplicationKind::parse(&kind).ok_or(ServiceError::ApplicationNotFound)?;
        let from = ApplicationStatus::parse(&from).ok_or(ServiceError::ApplicationNotFound)?;
        let detail = format!(
            "id={id} owner={} from={} to={}",
            mask_middle(&owner, 0, 4),
            from.as_str(),
            req.status.as_str()
        );
        if !from.next(kind).contains(&req.status) {
            drop(tx);
            self.audit(
                caller,
                Some(&actor),
                "application_status",
                "refused",
                Some(&detail),
            )
            .await;
            return Err(ServiceError::bad(
                "status",
                format!(
                    "a {} application cannot go from {} to {}",
                    kind.as_str(),
                    from.as_str(),
                    req.status.as_str()
                ),
            ));
        }
        let changed = sqlx::query(
            "UPDATE applications SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(req.status.as_str())
        .bind(now)
        .bind(id)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() != 1 {
            drop(tx);
            return Err(ServiceError::bad(
                "status",
                "the application changed meanwhile; reload",
            ));
        }
        insert_event(&mut tx, id, req.status, now, &actor, note).await?;
        audit::insert(
            &mut tx,
            &AuditEntry {
                actor: Some(&actor),
                action: "application_status",
                outcome: "ok",
                ip: &caller.ip,
                detail: Some(&detail),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(target: "audit", actor, action = "application_status", outcome = "ok", ip = %caller.ip, detail, "audit");
        let mut conn = self.db.conn().await?;
        let rows: Vec<AppRow> = sqlx::query_as(&format!(
            "SELECT {APP_COLUMNS} FROM applications WHERE id = $1"
        ))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        load(&mut conn, rows)
            .await?
            .pop()
            .ok_or(ServiceError::ApplicationNotFound)
    }

    /// The 投保證明 PDF of an issued certificate application of this person.
    pub async fn certificate_pdf(
        &self,
        caller: &Caller,
        account: &AccountRow,
        id: i64,
    ) -> ServiceResult<Vec<u8>> {
        let app = self.application_of(account, id).await?;
        if !app.certificate_available {
            return Err(ServiceError::CertificateNotIssued);
        }
        ensure_seeded(&self.db, account).await?;
        let rows: Vec<(String, String, String, String, Option<String>)> = {
            let mut conn = self.db.conn().await?;
            sqlx::query_as(
                "SELECT unit_name, unit_code, category, start_date, end_date FROM enrolments \
                 WHERE account_id = $1 ORDER BY start_date",
            )
            .bind(account.id)
            .fetch_all(&mut *conn)
            .await?
        };
        let issued_at = app
            .timeline
            .iter()
            .rev()
            .find(|e| e.status == ApplicationStatus::Issued)
            .map_or(app.updated_at, |e| e.at);
        let issued_on = time::OffsetDateTime::from_unix_timestamp(issued_at)
            .map(|t| t.to_offset(time::macros::offset!(+8)).date())
            .unwrap_or_else(|_| today());
        let data = CertificateData {
            certificate_no: format!("NHI-{:08}", app.id),
            name: account.name.clone(),
            national_id_masked: mask_middle(&account.national_id, 3, 3),
            birth_date: birth_date_of(account),
            issued_on,
            enrolments: rows
                .into_iter()
                .filter_map(|(unit_name, unit_code, category, start, end)| {
                    Some(EnrolmentLine {
                        unit_name,
                        unit_code,
                        category,
                        start: parse_iso(&start)?,
                        end: end.as_deref().and_then(parse_iso),
                    })
                })
                .collect(),
        };
        let font = certificate_pdf::load_font(
            &self.config.certificate_font,
            self.config.certificate_font_index,
        )
        .await?;
        let pdf = tokio::task::spawn_blocking(move || certificate_pdf::render(&font, &data))
            .await
            .map_err(|e| ServiceError::Pdf(e.to_string()))??;
        self.audit(
            caller,
            Some(&account.card_number),
            "certificate_download",
            "ok",
            Some(&format!("id={id}")),
        )
        .await;
        Ok(pdf)
    }
}

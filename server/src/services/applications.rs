//! 線上申辦業務 (online applications, F9): 換補發健保卡 and 投保證明, each with a status the
//! person follows; operators move them on through an authenticated API, every change audited
//! in the same transaction.

use super::certificate_pdf::{self, CertificateData, EnrolmentLine};
use super::health_bank::{birth_date_of, ensure_seeded};
use super::online::{parse_iso, today, Operator};
use super::{Caller, Services};
use super::{ServiceError, ServiceResult};
use crate::storage::accounts::AccountRow;
use crate::storage::applications::{self as store, Filter, NewApplication};
use crate::storage::audit::{self, AuditEntry};
use crate::storage::{self, health_bank};
use nhi_protocol::mask::{mask_card_number, mask_national_id};
use nhi_protocol::online::{
    Application, ApplicationKind, ApplicationStatus, CardReplacementRequest, NoteVisibility,
    OperatorStatusRequest, ReplacementReason, StatusEvent,
};

/// Longest operator note kept.
pub const MAX_NOTE_CHARS: usize = 500;

/// Who reads a listing: the person (citizen-visible notes only) or an operator (all notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Citizen,
    Operator,
}

/// The applications `filter` selects, with their timelines as `reader` may see them.
async fn load_where(
    db: &storage::Db,
    filter: Filter<'_>,
    reader: Reader,
) -> ServiceResult<Vec<Application>> {
    let mut conn = db.conn().await?;
    let rows = store::list(&mut conn, filter).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let kind = ApplicationKind::parse(&row.kind).ok_or_else(|| {
            ServiceError::bad("kind", format!("stored kind {} unknown", row.kind))
        })?;
        let status = ApplicationStatus::parse(&row.status).ok_or_else(|| {
            ServiceError::bad("status", format!("stored status {} unknown", row.status))
        })?;
        let events = store::events(&mut conn, row.id).await?;
        out.push(Application {
            id: row.id,
            kind,
            status,
            created_at: row.created_at,
            updated_at: row.updated_at,
            reason: row.reason.as_deref().and_then(ReplacementReason::parse),
            postal_code: row.postal_code,
            mailing_address: row.mailing_address,
            timeline: events
                .into_iter()
                .filter_map(|e| {
                    let status = ApplicationStatus::parse(&e.status)?;
                    // Anything not marked citizen-visible is internal.
                    let citizen =
                        NoteVisibility::parse(&e.note_visibility) == Some(NoteVisibility::Citizen);
                    let (note, internal_note) = match (citizen, reader) {
                        (true, _) => (e.note, None),
                        (false, Reader::Operator) => (None, e.note),
                        (false, Reader::Citizen) => (None, None),
                    };
                    Some(StatusEvent {
                        status,
                        at: e.at,
                        note,
                        internal_note,
                    })
                })
                .collect(),
            certificate_available: kind == ApplicationKind::EnrolmentCertificate
                && status == ApplicationStatus::Issued,
        });
    }
    Ok(out)
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
        let (postal_code, mailing_address) = (
            form.map(|f| f.postal_code.trim().to_owned()),
            form.map(|f| f.mailing_address.trim().to_owned()),
        );
        let new = NewApplication {
            account_id: account.id,
            kind: kind.as_str(),
            reason: form.map(|f| f.reason.as_str()),
            postal_code: postal_code.as_deref(),
            mailing_address: mailing_address.as_deref(),
        };
        let id = match store::insert(&mut tx, &new, now).await {
            Ok(id) => id,
            // The database's partial unique index: one pending card replacement per person,
            // also when two submissions race.
            Err(e) if e.is_unique_violation() && kind == ApplicationKind::CardReplacement => {
                drop(tx);
                self.audit(
                    caller,
                    Some(&account.card_number),
                    "application_submit",
                    "pending",
                    Some(&format!("kind={}", kind.as_str())),
                )
                .await;
                return Err(ServiceError::ApplicationPending);
            }
            Err(e) => return Err(e.into()),
        };
        store::insert_event(
            &mut tx,
            id,
            ApplicationStatus::Submitted.as_str(),
            now,
            &account.card_number,
            None,
            NoteVisibility::Internal.as_str(),
        )
        .await?;
        let detail = format!("id={id} kind={}", kind.as_str());
        let entry = AuditEntry {
            actor: Some(&account.card_number),
            action: "application_submit",
            outcome: "ok",
            ip: &caller.ip,
            detail: Some(&detail),
        };
        audit::commit(tx, &entry, now).await?;
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
        ensure_seeded(&self.db, &*self.claims, account).await?;
        self.create_application(caller, account, ApplicationKind::EnrolmentCertificate, None)
            .await
    }

    /// The person's applications, newest first.
    pub async fn applications_of(&self, account: &AccountRow) -> ServiceResult<Vec<Application>> {
        load_where(&self.db, Filter::Account(account.id), Reader::Citizen).await
    }

    /// One of the person's applications; another person's is `NotFound`.
    pub async fn application_of(
        &self,
        account: &AccountRow,
        id: i64,
    ) -> ServiceResult<Application> {
        let filter = Filter::OfAccount {
            id,
            account_id: account.id,
        };
        load_where(&self.db, filter, Reader::Citizen)
            .await?
            .pop()
            .ok_or(ServiceError::ApplicationNotFound)
    }

    /// Applications for operators, optionally only those in `status`, oldest first.
    pub async fn operator_applications(
        &self,
        status: Option<ApplicationStatus>,
    ) -> ServiceResult<Vec<Application>> {
        let filter = match status {
            Some(s) => Filter::Status(s.as_str()),
            None => Filter::All,
        };
        load_where(&self.db, filter, Reader::Operator).await
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
        let row = store::with_owner(&mut tx, id).await?;
        let Some(store::OwnedApplication {
            kind,
            status: from,
            card_number: owner,
        }) = row
        else {
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
            mask_card_number(&owner),
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
        let changed =
            store::set_status(&mut tx, id, from.as_str(), req.status.as_str(), now).await?;
        if !changed {
            drop(tx);
            return Err(ServiceError::bad(
                "status",
                "the application changed meanwhile; reload",
            ));
        }
        store::insert_event(
            &mut tx,
            id,
            req.status.as_str(),
            now,
            &actor,
            note,
            req.visibility.as_str(),
        )
        .await?;
        let entry = AuditEntry {
            actor: Some(&actor),
            action: "application_status",
            outcome: "ok",
            ip: &caller.ip,
            detail: Some(&detail),
        };
        audit::commit(tx, &entry, now).await?;
        load_where(&self.db, Filter::Id(id), Reader::Operator)
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
        ensure_seeded(&self.db, &*self.claims, account).await?;
        let rows = {
            let mut conn = self.db.conn().await?;
            health_bank::enrolments(&mut conn, account.id).await?
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
            national_id_masked: mask_national_id(&account.national_id),
            birth_date: birth_date_of(account),
            issued_on,
            enrolments: rows
                .into_iter()
                .filter_map(|e| {
                    Some(EnrolmentLine {
                        start: parse_iso(&e.start_date)?,
                        end: e.end_date.as_deref().and_then(parse_iso),
                        unit_name: e.unit_name,
                        unit_code: e.unit_code,
                        category: e.category,
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

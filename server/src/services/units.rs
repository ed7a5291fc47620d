//! Insured units (FLOWS F4): who acts for a unit, with which permission, and the role
//! management of the unit admin. Also the sample units of the embedded default and the
//! deterministic generator of large units (benchmark).

use nhi_protocol::units::{
    LoginMethod, MyUnitsResponse, Permission, RolesResponse, SetRoleRequest, StaffMember,
    UnitSummary,
};
use nhi_protocol::NationalId;
use serde::Deserialize;

use super::{Caller, ServiceError, ServiceResult, Services};
use crate::storage::units::{self as store, InsuredRow};
use crate::storage::{self, audit, Db, StorageError};

/// The person acting for a unit: from an NHI card login (card proof + password, F3) or a
/// citizen digital certificate (自然人憑證) login (the verified ID number, issue 12); nothing
/// below depends on which.
#[derive(Debug, Clone)]
pub struct Principal {
    pub national_id: String,
    pub name: String,
    pub email: String,
    pub method: LoginMethod,
}

/// What the principal may do in one unit.
#[derive(Debug, Clone)]
pub struct Membership {
    pub unit_code: String,
    pub unit_name: String,
    pub is_admin: bool,
    pub can_upload: bool,
    pub can_query: bool,
}

impl Membership {
    pub fn allows(&self, p: Permission) -> bool {
        self.is_admin
            || match p {
                Permission::Upload => self.can_upload,
                Permission::Query => self.can_query,
            }
    }

    /// `forbidden` unless this membership allows `p` (the one check of the service and of
    /// the HTTP layer's `UnitPrincipal`).
    pub fn require(&self, p: Permission) -> ServiceResult<()> {
        if self.allows(p) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }
}

/// The sample units file (`server/data/sample-units.json`).
#[derive(Debug, Deserialize)]
struct UnitsFile {
    units: Vec<UnitEntry>,
}

#[derive(Debug, Deserialize)]
struct UnitEntry {
    unit_code: String,
    name: String,
    admin: String,
    insured: Vec<PersonEntry>,
}

#[derive(Debug, Deserialize)]
struct PersonEntry {
    national_id: String,
    name: String,
    birth_date: String,
}

pub const BUNDLED_UNITS: &str = include_str!("../../data/sample-units.json");

/// The units file's people and the unit each is insured by: national ID → (unit name, unit
/// code); a person in two units keeps the first (what the sample claims enrol them with).
pub fn current_units(
    json: &str,
) -> Result<std::collections::HashMap<String, (String, String)>, serde_json::Error> {
    let file: UnitsFile = serde_json::from_str(json)?;
    let mut units = std::collections::HashMap::new();
    for u in file.units {
        for p in u.insured {
            units
                .entry(p.national_id)
                .or_insert_with(|| (u.name.clone(), u.unit_code.clone()));
        }
    }
    Ok(units)
}

/// Loads sample units (idempotent: existing units and people are kept).
pub async fn seed_units(db: &Db, json: &str) -> anyhow::Result<usize> {
    let file: UnitsFile = serde_json::from_str(json)?;
    let mut tx = db.begin().await?;
    for u in &file.units {
        store::insert_unit(&mut tx, &u.unit_code, &u.name, &u.admin).await?;
        let people: Vec<InsuredRow> = u
            .insured
            .iter()
            .map(|p| InsuredRow {
                national_id: p.national_id.clone(),
                name: p.name.clone(),
                birth_date: p.birth_date.clone(),
            })
            .collect();
        store::insert_insured(&mut tx, &u.unit_code, &people).await?;
    }
    tx.commit().await.map_err(StorageError::from)?;
    Ok(file.units.len())
}

/// Deterministic fictitious people (checksum-valid IDs, ROC birth dates), for large units.
/// `seed` selects the series; the same arguments always give the same people.
pub fn generate_people(seed: u64, n: usize) -> Vec<InsuredRow> {
    const SURNAMES: &[&str] = &["陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊"];
    const GIVEN: &[&str] = &[
        "志明", "淑芬", "家豪", "美玲", "俊傑", "雅婷", "冠宇", "怡君", "宗翰", "佳穎",
    ];
    let mut out = Vec::with_capacity(n);
    let mut used = std::collections::HashSet::with_capacity(n);
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    while out.len() < n {
        let r = next();
        let letter = b"ABCDEFGHJKLMNPQRSTUVXYWZIO"[(r % 26) as usize] as char;
        let sex = if (r >> 8) & 1 == 0 { '1' } else { '2' };
        let body = (r >> 9) % 10_000_000;
        let partial = format!("{letter}{sex}{body:07}");
        let Some(id) = (0..10)
            .map(|d| format!("{partial}{d}"))
            .find(|c| c.parse::<NationalId>().is_ok())
        else {
            continue;
        };
        if !used.insert(id.clone()) {
            continue;
        }
        let r2 = next();
        let year = 40 + r2 % 70;
        let month = 1 + (r2 >> 8) % 12;
        let day = 1 + (r2 >> 16) % 28;
        out.push(InsuredRow {
            national_id: id,
            name: format!(
                "{}{}",
                SURNAMES[(r2 >> 24) as usize % SURNAMES.len()],
                GIVEN[(r2 >> 32) as usize % GIVEN.len()]
            ),
            birth_date: format!("{year:03}{month:02}{day:02}"),
        });
    }
    out
}

fn bool_of(v: i64) -> bool {
    v != 0
}

impl Services {
    /// The principal behind a session cookie: an NHI card login's account, else a citizen
    /// certificate login's session (which only the unit pages accept).
    pub async fn principal_by_session(&self, token: Option<&str>) -> ServiceResult<Principal> {
        match self.account_by_session(token).await {
            Ok(account) => Ok(Principal {
                national_id: account.national_id,
                name: account.name,
                email: account.email,
                method: LoginMethod::NhiCard,
            }),
            Err(ServiceError::SessionExpired) => self.certificate_principal(token).await,
            Err(e) => Err(e),
        }
    }

    /// The principal's membership in a unit (Forbidden when none).
    pub async fn membership(&self, p: &Principal, code: &str) -> ServiceResult<Membership> {
        let mut conn = self.db.conn().await?;
        store::memberships(&mut conn, &p.national_id)
            .await?
            .into_iter()
            .find(|m| m.unit_code == code)
            .map(|m| Membership {
                unit_code: m.unit_code,
                unit_name: m.name,
                is_admin: bool_of(m.is_admin),
                can_upload: bool_of(m.can_upload),
                can_query: bool_of(m.can_query),
            })
            .ok_or(ServiceError::Forbidden)
    }

    pub async fn require_permission(
        &self,
        p: &Principal,
        code: &str,
        perm: Permission,
    ) -> ServiceResult<Membership> {
        let m = self.membership(p, code).await?;
        m.require(perm)?;
        Ok(m)
    }

    pub async fn my_units(&self, p: &Principal) -> ServiceResult<MyUnitsResponse> {
        let mut conn = self.db.conn().await?;
        let units = store::memberships(&mut conn, &p.national_id)
            .await?
            .into_iter()
            .map(|m| UnitSummary {
                unit_code: m.unit_code,
                name: m.name,
                is_admin: bool_of(m.is_admin),
                can_upload: bool_of(m.can_upload),
                can_query: bool_of(m.can_query),
            })
            .collect();
        Ok(MyUnitsResponse {
            login_method: p.method,
            name: p.name.clone(),
            email: p.email.clone(),
            units,
            upload_max_bytes: u64::try_from(self.config.upload_max_bytes).unwrap_or(u64::MAX),
        })
    }

    async fn require_admin(&self, p: &Principal, code: &str) -> ServiceResult<Membership> {
        let m = self.membership(p, code).await?;
        if m.is_admin {
            Ok(m)
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// F4: the unit's staff and their permissions (admin only).
    pub async fn unit_roles(&self, p: &Principal, code: &str) -> ServiceResult<RolesResponse> {
        let m = self.require_admin(p, code).await?;
        let mut conn = self.db.conn().await?;
        let staff = store::staff(&mut conn, code)
            .await?
            .into_iter()
            .map(|s| StaffMember {
                national_id: s.national_id,
                name: s.name,
                can_upload: bool_of(s.can_upload),
                can_query: bool_of(s.can_query),
            })
            .collect();
        Ok(RolesResponse {
            unit_code: m.unit_code,
            unit_name: m.unit_name,
            staff,
        })
    }

    /// F4: grants/revokes a staff member's permissions; the change and the audit entry are
    /// one transaction.
    pub async fn set_role(
        &self,
        caller: &Caller,
        p: &Principal,
        code: &str,
        req: &SetRoleRequest,
    ) -> ServiceResult<RolesResponse> {
        self.require_admin(p, code).await?;
        let id: NationalId = req
            .national_id
            .trim()
            .to_ascii_uppercase()
            .parse()
            .map_err(|e: nhi_protocol::id::IdError| ServiceError::BadRequest {
                field: "national_id",
                message: e.to_string(),
            })?;
        let now = storage::now();
        let mut tx = self.db.begin().await?;
        if store::insured_person(&mut tx, code, id.as_str())
            .await?
            .is_none()
        {
            return Err(ServiceError::BadRequest {
                field: "national_id",
                message: "not_insured".into(),
            });
        }
        store::set_role(
            &mut tx,
            code,
            id.as_str(),
            req.can_upload,
            req.can_query,
            &p.national_id,
            now,
        )
        .await?;
        let detail = format!(
            "unit={code} staff={} upload={} query={}",
            id.masked(),
            req.can_upload,
            req.can_query
        );
        let actor = format!("id:{}", id_for_audit(&p.national_id));
        let entry = audit::AuditEntry {
            actor: Some(&actor),
            action: "unit_role",
            outcome: "changed",
            ip: &caller.ip,
            detail: Some(&detail),
        };
        audit::commit(tx, &entry, now).await?;
        self.unit_roles(p, code).await
    }
}

/// The audit log names people by masked ID number.
pub fn id_for_audit(national_id: &str) -> String {
    nhi_protocol::mask::mask_national_id(national_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_people_are_valid_unique_and_deterministic() {
        let a = generate_people(7, 2000);
        assert_eq!(a.len(), 2000);
        assert_eq!(a[..10].len(), generate_people(7, 10).len());
        assert_eq!(a[0].national_id, generate_people(7, 1)[0].national_id);
        let ids: std::collections::HashSet<_> = a.iter().map(|p| &p.national_id).collect();
        assert_eq!(ids.len(), 2000);
        for p in &a {
            assert!(
                p.national_id.parse::<NationalId>().is_ok(),
                "{}",
                p.national_id
            );
            assert!(
                p.birth_date.parse::<nhi_protocol::RocDate>().is_ok(),
                "{}",
                p.birth_date
            );
        }
        assert!(!std::any::type_name::<nhi_protocol::units::FileProblem>().is_empty());
    }
}

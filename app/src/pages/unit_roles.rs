//! F4 角色管理 (`/units/roles?unit=…`): the unit admin grants and revokes
//! 「健保卡註冊上傳」 and 「健保卡註冊查詢」 per staff member. Every change is saved at once
//! (and audited by the server).

use leptos::prelude::*;
use nhi_protocol::units::{RolesResponse, SetRoleRequest};

use crate::api::{self, Failure};
use crate::components::{Field, MessageBox, PageTitle, SubmitButton};
use crate::i18n::{use_i18n, Msg, T};
use crate::pages::units::{unit_param, BackToUnits};
use crate::session::{is_expired, SessionGate};

#[component]
pub fn UnitRoles() -> impl IntoView {
    let i = use_i18n();
    let unit = unit_param();
    let data = RwSignal::new(None::<RolesResponse>);
    let failure = RwSignal::new(None::<Failure>);
    let notice = RwSignal::new(None::<Msg>);
    let new_id = RwSignal::new(String::new());
    let new_upload = RwSignal::new(true);
    let new_query = RwSignal::new(true);
    let e_id = RwSignal::new(None::<Msg>);
    let busy = RwSignal::new(false);
    {
        let unit = unit.clone();
        leptos::task::spawn_local(async move {
            match api::get::<RolesResponse>(&format!("/units/{unit}/roles")).await {
                Ok(d) => {
                    let _ = data.try_set(Some(d));
                }
                Err(e) => {
                    let _ = failure.try_set(Some(e));
                }
            }
        });
    }
    let save = {
        let unit = unit.clone();
        move |req: SetRoleRequest| {
            let unit = unit.clone();
            busy.set(true);
            notice.set(None);
            leptos::task::spawn_local(async move {
                let r = api::put::<_, RolesResponse>(&format!("/units/{unit}/roles"), &req).await;
                let _ = busy.try_set(false);
                match r {
                    Ok(d) => {
                        let _ = data.try_set(Some(d));
                        let _ = failure.try_set(None);
                        let _ = notice.try_set(Some(Msg::Key(T::UnSaved)));
                        let _ = new_id.try_set(String::new());
                    }
                    Err(Failure::Api(e)) if e.field.as_deref() == Some("national_id") => {
                        let key = if e.message == "not_insured" {
                            T::UnNotInsured
                        } else {
                            T::UnRsInvalidId
                        };
                        let _ = e_id.try_set(Some(Msg::Key(key)));
                    }
                    Err(e) => {
                        let _ = failure.try_set(Some(e));
                    }
                }
            });
        }
    };
    let add = {
        let save = save.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let id = new_id.get_untracked().trim().to_ascii_uppercase();
            if id.is_empty() {
                e_id.set(Some(Msg::Key(T::FieldRequired)));
                return;
            }
            e_id.set(None);
            save(SetRoleRequest {
                national_id: id,
                can_upload: new_upload.get_untracked(),
                can_query: new_query.get_untracked(),
            });
        }
    };
    let login = move || failure.with(|f| f.as_ref().is_some_and(is_expired));
    let error = Signal::derive(move || {
        failure.with(|f| f.as_ref().filter(|f| !is_expired(f)).map(Msg::from))
    });
    let save_row = save.clone();
    view! {
        <PageTitle key=T::UnRoles />
        <BackToUnits />
        <p class="lead">{move || i.t(T::UnRolesIntro)}</p>
        <SessionGate shown=Signal::derive(login) message=T::UnLoginNeeded action=T::NavLogin />
        <MessageBox msg=error />
        <div aria-live="polite"><MessageBox msg=notice notice=true /></div>
        {move || data.get().map(|d| {
            let save_row = save_row.clone();
            view! {
                <p>{move || i.t(T::UnUnitName)}": "{d.unit_name.clone()}" ("{d.unit_code.clone()}")"</p>
                <table class="data-table" id="staff-table">
                    <caption>{move || i.t(T::UnStaffCaption)}</caption>
                    <thead><tr>
                        <th scope="col">{move || i.t(T::Name)}</th>
                        <th scope="col">{move || i.t(T::NationalId)}</th>
                        <th scope="col">{move || i.t(T::UnPermUpload)}</th>
                        <th scope="col">{move || i.t(T::UnPermQuery)}</th>
                        <th scope="col">{move || i.t(T::UnActions)}</th>
                    </tr></thead>
                    <tbody>
                        {d.staff.is_empty().then(|| view! { <tr><td colspan="5">{move || i.t(T::UnNoStaff)}</td></tr> })}
                        {d.staff.into_iter().map(|s| {
                            let (id1, id2, id3) = (s.national_id.clone(), s.national_id.clone(), s.national_id.clone());
                            let (name1, name2) = (s.name.clone(), s.name.clone());
                            let (up, q) = (s.can_upload, s.can_query);
                            let (s1, s2, s3) = (save_row.clone(), save_row.clone(), save_row.clone());
                            view! {
                                <tr>
                                    <th scope="row">{s.name.clone()}</th>
                                    <td>{s.national_id.clone()}</td>
                                    <td><input type="checkbox" class="perm-upload" prop:checked=up
                                        aria-label=move || format!("{} {}", i.t(T::UnPermUpload), name1)
                                        on:change=move |_| s1(SetRoleRequest { national_id: id1.clone(), can_upload: !up, can_query: q }) /></td>
                                    <td><input type="checkbox" class="perm-query" prop:checked=q
                                        aria-label=move || format!("{} {}", i.t(T::UnPermQuery), name2)
                                        on:change=move |_| s2(SetRoleRequest { national_id: id2.clone(), can_upload: up, can_query: !q }) /></td>
                                    <td><button type="button" class="button button-secondary revoke"
                                        on:click=move |_| s3(SetRoleRequest { national_id: id3.clone(), can_upload: false, can_query: false })>
                                        {move || i.t(T::UnRevoke)}</button></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }
        })}
        <h2>{move || i.t(T::UnAddStaff)}</h2>
        <form on:submit=add novalidate id="add-staff">
            <Field id="staff-id" label=T::UnStaffId hint=T::UnStaffIdHint value=new_id error=e_id required=true maxlength="10" />
            <fieldset>
                <legend>{move || i.t(T::UnStaffCaption)}</legend>
                <p><input type="checkbox" id="new-upload" prop:checked=move || new_upload.get()
                    on:change=move |_| new_upload.update(|v| *v = !*v) />
                <label for="new-upload">{move || i.t(T::UnPermUpload)}</label></p>
                <p><input type="checkbox" id="new-query" prop:checked=move || new_query.get()
                    on:change=move |_| new_query.update(|v| *v = !*v) />
                <label for="new-query">{move || i.t(T::UnPermQuery)}</label></p>
            </fieldset>
            <SubmitButton busy label=T::UnSave id="save-staff" />
        </form>
    }
}

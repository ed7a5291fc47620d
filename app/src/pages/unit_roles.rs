//! F4 角色管理 (`/units/roles?unit=…`): the unit admin grants and revokes
//! 「健保卡註冊上傳」 and 「健保卡註冊查詢」 per staff member. Every change is saved at once
//! (and audited by the server).

use leptos::prelude::*;
use nhi_protocol::units::{RolesResponse, SetRoleRequest};

use crate::api::{self, Failure};
use crate::components::{Field, MessageBox, PageTitle, SubmitButton};
use crate::i18n::{use_i18n, Msg, T};
use crate::pages::units::{failure_shown, unit_param, BackToUnits};
use crate::session::SessionGate;

#[component]
pub fn UnitRoles() -> impl IntoView {
    let i = use_i18n();
    let unit = unit_param();
    let roles = {
        let unit = unit.clone();
        LocalResource::new(move || {
            let path = format!("/units/{unit}/roles");
            async move { api::get::<RolesResponse>(&path).await }
        })
    };
    // A save's failure (the load's is the resource's).
    let failure = RwSignal::new(None::<Failure>);
    let notice = RwSignal::new(None::<Msg>);
    let new_id = RwSignal::new(String::new());
    let new_upload = RwSignal::new(true);
    let new_query = RwSignal::new(true);
    let e_id = RwSignal::new(None::<Msg>);
    // Every change is saved at once; the answer is the new staff list.
    let save_action = Action::new_local(move |req: &SetRoleRequest| {
        let (path, req) = (format!("/units/{unit}/roles"), req.clone());
        async move {
            match api::put::<_, RolesResponse>(&path, &req).await {
                Ok(d) => {
                    roles.set(Some(Ok(d)));
                    failure.set(None);
                    notice.set(Some(Msg::Key(T::UnSaved)));
                    new_id.set(String::new());
                }
                Err(Failure::Api(e)) if e.field.as_deref() == Some("national_id") => {
                    let key = if e.message == "not_insured" {
                        T::UnNotInsured
                    } else {
                        T::UnRsInvalidId
                    };
                    e_id.set(Some(Msg::Key(key)));
                }
                Err(e) => failure.set(Some(e)),
            }
        }
    });
    let busy = save_action.pending();
    let save = move |req: SetRoleRequest| {
        notice.set(None);
        save_action.dispatch(req);
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
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
    };
    let (login, error) =
        failure_shown(move || failure.get().or_else(|| roles.get().and_then(Result::err)));
    view! {
        <PageTitle key=T::UnRoles />
        <BackToUnits />
        <p class="lead">{move || i.t(T::UnRolesIntro)}</p>
        <SessionGate shown=login message=T::UnLoginNeeded action=T::NavLogin login="/units/login" />
        <MessageBox msg=error />
        <div aria-live="polite"><MessageBox msg=notice notice=true /></div>
        <Transition fallback=|| ()>
        {move || roles.get().and_then(Result::ok).map(|d| {
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
                            view! {
                                <tr>
                                    <th scope="row">{s.name.clone()}</th>
                                    <td>{s.national_id.clone()}</td>
                                    <td><input type="checkbox" class="perm-upload" prop:checked=up
                                        aria-label=move || format!("{} {}", i.t(T::UnPermUpload), name1)
                                        on:change=move |_| save(SetRoleRequest { national_id: id1.clone(), can_upload: !up, can_query: q }) /></td>
                                    <td><input type="checkbox" class="perm-query" prop:checked=q
                                        aria-label=move || format!("{} {}", i.t(T::UnPermQuery), name2)
                                        on:change=move |_| save(SetRoleRequest { national_id: id2.clone(), can_upload: up, can_query: !q }) /></td>
                                    <td><button type="button" class="button button-secondary revoke"
                                        on:click=move |_| save(SetRoleRequest { national_id: id3.clone(), can_upload: false, can_query: false })>
                                        {move || i.t(T::UnRevoke)}</button></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }
        })}
        </Transition>
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

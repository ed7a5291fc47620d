//! `/passkey-login` (issue 16): the login with a passkey, opened by the F3 login page's
//! 「使用通行金鑰登入」. A page of the online area, so the first page's bundle carries only that
//! link; the ceremony starts at once, and the button is there to try again.

use leptos::prelude::*;

use super::webauthn::PasskeyLoginButton;
use crate::components::PageTitle;
use crate::i18n::{use_i18n, T};
use crate::route::Link;
use crate::session::take_return_path;

#[component]
pub fn PasskeyLogin() -> impl IntoView {
    let i = use_i18n();
    view! {
        <PageTitle key=T::PkLoginTitle />
        <p class="lead">{move || i.t(T::PkLoginIntro)}</p>
        <PasskeyLoginButton to=take_return_path auto=true />
        <p id="passkey-login-other">
            {move || i.t(T::PkLoginNone)} " "
            <Link href="/login" class="button-link">{move || i.t(T::PkLoginWithCard)}</Link>
        </p>
    }
}

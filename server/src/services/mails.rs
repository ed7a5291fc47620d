//! Mail texts: zh-TW first, English below; plain text and HTML.

use nhi_protocol::api::CONFIRM_PATH;
use nhi_protocol::mask::mask_name;

use super::{mask_email, random_token};
use crate::storage::outbox::{self, NewMail};
use crate::storage::{StorageError, Tx};

pub struct Rendered {
    pub kind: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A fresh `Message-ID` for a mail of `kind`.
pub(crate) fn message_id(kind: &str) -> String {
    format!(
        "<{}.{kind}@nhi-registration>",
        hex::encode(&random_token()[..16])
    )
}

/// Puts the mail to `to` in the outbox, in the caller's transaction; the outbox id.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    to: &str,
    mail: &Rendered,
    now: i64,
) -> Result<i64, StorageError> {
    let id = message_id(mail.kind);
    let new = NewMail {
        message_id: &id,
        kind: mail.kind,
        recipient: to,
        subject: &mail.subject,
        text_body: &mail.text,
        html_body: &mail.html,
    };
    outbox::enqueue(tx, &new, now).await
}

/// F8: when a resend moves a registration to another address, the old address hears of it
/// (the card alone must not silently redirect a registration). Nothing when it is the same.
pub(crate) async fn notify_old_address(
    tx: &mut Tx,
    name: &str,
    old_email: &str,
    new_email: &str,
    now: i64,
) -> Result<(), StorageError> {
    if !old_email.eq_ignore_ascii_case(new_email) {
        let notice = address_changed(&mask_name(name), &mask_email(new_email));
        enqueue(tx, old_email, &notice, now).await?;
    }
    Ok(())
}

pub(crate) fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

/// `YYYY-MM-DD HH:MM` in Taiwan time (UTC+8): the one format of every page and mail
/// (`nhi_protocol::date::show_time`).
pub(crate) fn taipei_time(unix: i64) -> String {
    nhi_protocol::date::show_time(unix)
}

/// The F2 link; the ticket travels in the fragment (issue 10).
pub fn confirm_link(origin: &str, ticket: &str) -> String {
    nhi_protocol::api::ticket_link(origin, CONFIRM_PATH, ticket)
}

pub(crate) fn html_page(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"zh-Hant-TW\"><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family:sans-serif;line-height:1.6\">{body}</body></html>"
    )
}

/// F1/F8: the activation mail with the link 「進入電子信箱認證畫面」.
pub fn activation(name_masked: &str, link: &str, expires_at: i64) -> Rendered {
    let until = taipei_time(expires_at);
    let subject = "健保卡網路服務註冊：請認證您的電子信箱 / NHI card online services: please confirm your email".to_owned();
    let text = format!(
        "{name_masked} 您好：\n\n\
         您已申請健保卡網路服務註冊。請於 {until}（臺灣時間）前開啟下列連結「進入電子信箱認證畫面」，\
         插入健保卡並按「讀取」完成認證：\n\n{link}\n\n\
         此連結僅能使用一次，有效期限 5 天。若您未曾申請，請忽略本信。\n\n\
         ----\n\n\
         Dear {name_masked},\n\n\
         You applied for NHI card online services. Open the link below before {until} (Taiwan time), \
         insert your NHI card and press \"Read\" to confirm your email address:\n\n{link}\n\n\
         The link works once and expires after 5 days. If you did not apply, ignore this mail.\n"
    );
    let (n, l, u) = (escape(name_masked), escape(link), escape(&until));
    let html = html_page(&format!(
        "<p>{n} 您好：</p><p>您已申請健保卡網路服務註冊。請於 {u}（臺灣時間）前點選下列連結，插入健保卡並按「讀取」完成認證。</p>\
         <p><a href=\"{l}\">進入電子信箱認證畫面</a></p><p>此連結僅能使用一次，有效期限 5 天。若您未曾申請，請忽略本信。</p>\
         <hr><p lang=\"en\">Dear {n},</p><p lang=\"en\">You applied for NHI card online services. Open the link below before {u} \
         (Taiwan time), insert your NHI card and press “Read” to confirm your email address.</p>\
         <p lang=\"en\"><a href=\"{l}\">Confirm my email address</a></p>\
         <p lang=\"en\">The link works once and expires after 5 days. If you did not apply, ignore this mail.</p>"
    ));
    Rendered {
        kind: "activation",
        subject,
        text,
        html,
    }
}

/// F2: 申請完成通知信.
pub fn completion(name_masked: &str, origin: &str) -> Rendered {
    let subject =
        "健保卡網路服務註冊申請完成通知 / NHI card online services: registration complete"
            .to_owned();
    let text = format!(
        "{name_masked} 您好：\n\n您的健保卡網路服務註冊已完成，現在可以使用健保卡及註冊密碼登入：\n{origin}/\n\n\
         若這不是您本人的操作，請立即與健保署聯絡。\n\n----\n\n\
         Dear {name_masked},\n\nYour registration for NHI card online services is complete. \
         You can now log in with your NHI card and registration password:\n{origin}/\n\n\
         If this was not you, contact the National Health Insurance Administration at once.\n"
    );
    let (n, o) = (escape(name_masked), escape(origin));
    let html = html_page(&format!(
        "<p>{n} 您好：</p><p>您的健保卡網路服務註冊已完成，現在可以使用健保卡及註冊密碼<a href=\"{o}/\">登入</a>。</p>\
         <p>若這不是您本人的操作，請立即與健保署聯絡。</p><hr>\
         <p lang=\"en\">Dear {n},</p><p lang=\"en\">Your registration for NHI card online services is complete. \
         You can now <a href=\"{o}/\">log in</a> with your NHI card and registration password.</p>\
         <p lang=\"en\">If this was not you, contact the National Health Insurance Administration at once.</p>"
    ));
    Rendered {
        kind: "completion",
        subject,
        text,
        html,
    }
}

/// F8: sent to the *old* address when a resend changed the address of an application.
pub fn address_changed(name_masked: &str, new_email_masked: &str) -> Rendered {
    let subject = "健保卡網路服務註冊：認證信箱已變更 / NHI card online services: confirmation address changed".to_owned();
    let text = format!(
        "{name_masked} 您好：\n\n您的健保卡網路服務註冊申請已以健保卡要求重寄認證信，並將電子信箱變更為 {new_email_masked}。\
         此後認證信只寄到新信箱。若這不是您本人的操作，請勿理會新信件並立即與健保署聯絡。\n\n----\n\n\
         Dear {name_masked},\n\nSomeone with your NHI card asked to resend the confirmation mail of your \
         registration and changed its address to {new_email_masked}. Confirmation mail now goes to the new address only. \
         If this was not you, contact the National Health Insurance Administration at once.\n"
    );
    let (n, e) = (escape(name_masked), escape(new_email_masked));
    let html = html_page(&format!(
        "<p>{n} 您好：</p><p>您的健保卡網路服務註冊申請已以健保卡要求重寄認證信，並將電子信箱變更為 {e}。此後認證信只寄到新信箱。</p>\
         <p>若這不是您本人的操作，請立即與健保署聯絡。</p><hr>\
         <p lang=\"en\">Dear {n},</p><p lang=\"en\">Someone with your NHI card asked to resend the confirmation mail of your \
         registration and changed its address to {e}. Confirmation mail now goes to the new address only.</p>\
         <p lang=\"en\">If this was not you, contact the National Health Insurance Administration at once.</p>"
    ));
    Rendered {
        kind: "address_changed",
        subject,
        text,
        html,
    }
}

/// Issue 16: a passkey was added to the account; how to remove it.
pub fn passkey_added(name_masked: &str, passkey_name: &str, origin: &str, at: i64) -> Rendered {
    let subject =
        "健保卡網路服務：已新增通行金鑰 / NHI card online services: a passkey was added".to_owned();
    let when = taipei_time(at);
    let text = format!(
        "{name_masked} 您好：\n\n您的帳戶已於 {when} 以健保卡及註冊密碼驗證後新增通行金鑰「{passkey_name}」。\
         此後可用這個通行金鑰登入，不需讀卡機。\n\
         若要移除：登入後開啟「通行金鑰」頁面 {origin}/passkeys ，按該金鑰的「移除」。\
         若這不是您本人的操作，請立即移除它並與健保署聯絡。\n\n----\n\n\
         Dear {name_masked},\n\nA passkey named \"{passkey_name}\" was added to your account on {when} \
         after a check with your NHI card and registration password. It can now be used to log in \
         without a card reader.\n\
         To remove it: log in, open the Passkeys page {origin}/passkeys and choose Remove next to it. \
         If this was not you, remove it at once and contact the National Health Insurance Administration.\n"
    );
    let (n, k, o, w) = (
        escape(name_masked),
        escape(passkey_name),
        escape(origin),
        escape(&when),
    );
    let html = html_page(&format!(
        "<p>{n} 您好：</p><p>您的帳戶已於 {w} 以健保卡及註冊密碼驗證後新增通行金鑰「{k}」。此後可用這個通行金鑰登入，不需讀卡機。</p>\
         <p>若要移除：登入後開啟<a href=\"{o}/passkeys\">「通行金鑰」頁面</a>，按該金鑰的「移除」。\
         若這不是您本人的操作，請立即移除它並與健保署聯絡。</p><hr>\
         <p lang=\"en\">Dear {n},</p><p lang=\"en\">A passkey named “{k}” was added to your account on {w} \
         after a check with your NHI card and registration password. It can now be used to log in without a card reader.</p>\
         <p lang=\"en\">To remove it: log in, open the <a href=\"{o}/passkeys\">Passkeys page</a> and choose Remove next to it. \
         If this was not you, remove it at once and contact the National Health Insurance Administration.</p>"
    ));
    Rendered {
        kind: "passkey_added",
        subject,
        text,
        html,
    }
}

/// Issue 16: a card was reported lost or replaced: its sessions ended and the passkeys it
/// enrolled (`passkeys` of them) were removed.
pub fn passkeys_revoked(name_masked: &str, card_masked: &str, passkeys: u64) -> Rendered {
    let subject = "健保卡網路服務：舊卡的登入及通行金鑰已停用 / NHI card online services: the old card's logins and passkeys were revoked"
        .to_owned();
    let text = format!(
        "{name_masked} 您好：\n\n健保卡 {card_masked} 已掛失或換發。以這張卡登入的連線已結束，\
         以這張卡新增的通行金鑰（{passkeys} 個）已移除。請以新卡登入；如需通行金鑰，請以新卡重新新增。\
         若這不是您本人的操作，請立即與健保署聯絡。\n\n----\n\n\
         Dear {name_masked},\n\nNHI card {card_masked} was reported lost or has been replaced. \
         The sessions it opened have ended and the passkeys it added ({passkeys}) were removed. \
         Log in with your new card; add a passkey again with the new card if you want one. \
         If this was not you, contact the National Health Insurance Administration at once.\n"
    );
    let (n, c) = (escape(name_masked), escape(card_masked));
    let html = html_page(&format!(
        "<p>{n} 您好：</p><p>健保卡 {c} 已掛失或換發。以這張卡登入的連線已結束，以這張卡新增的通行金鑰（{passkeys} 個）已移除。\
         請以新卡登入；如需通行金鑰，請以新卡重新新增。</p><p>若這不是您本人的操作，請立即與健保署聯絡。</p><hr>\
         <p lang=\"en\">Dear {n},</p><p lang=\"en\">NHI card {c} was reported lost or has been replaced. \
         The sessions it opened have ended and the passkeys it added ({passkeys}) were removed. \
         Log in with your new card; add a passkey again with the new card if you want one.</p>\
         <p lang=\"en\">If this was not you, contact the National Health Insurance Administration at once.</p>"
    ));
    Rendered {
        kind: "passkeys_revoked",
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_mail_is_bilingual_and_escaped() {
        let m = activation(
            "王<b>明",
            "https://x.example/confirm#ticket=abc",
            1_800_000_000,
        );
        assert!(m.text.contains("進入電子信箱認證畫面") && m.text.contains("Dear"));
        assert!(m.html.contains("王&lt;b&gt;明") && !m.html.contains("<b>明"));
        assert!(m.text.find("您好").expect("zh") < m.text.find("Dear").expect("en"));
    }

    #[test]
    fn passkey_mails_are_bilingual_escaped_and_say_how_to_remove() {
        let m = passkey_added("王○明", "<script>", "https://x.example", 1_800_000_000);
        assert_eq!(m.kind, "passkey_added");
        assert!(m.text.contains("移除") && m.text.contains("Remove"));
        assert!(m.text.contains("https://x.example/passkeys"));
        assert!(m.html.contains("&lt;script&gt;") && !m.html.contains("<script>"));
        assert!(m.text.find("您好").expect("zh") < m.text.find("Dear").expect("en"));
        let r = passkeys_revoked("王○明", "0000****5678", 2);
        assert_eq!(r.kind, "passkeys_revoked");
        assert!(r.text.contains("0000****5678") && r.text.contains("（2 個）"));
        assert!(r.text.contains("Dear") && r.html.contains("lang=\"en\""));
    }
}

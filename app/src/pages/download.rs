//! `/download` (issue 13): what a citizen installs to use the card here — the browser
//! extension and the card reader component nhi-bridge — offered for the system and browser
//! this page runs in first (the extension's store page, the package for this OS), every file
//! the server offers below with its SHA-256, and what each piece is, why it is safe, how to
//! install, check and remove it. F0's remedies link here (`#extension`, `#bridge`). It is a
//! page of the online area's bundle, not the first page's: a citizen opens it once, from a
//! remedy (see `nhi_protocol::areas`).

use leptos::prelude::*;
use nhi_protocol::downloads::{DownloadFile, DownloadKind, DownloadsResponse};

use crate::api;
use crate::components::PageTitle;
use crate::i18n::{use_i18n, I18n, T};
use crate::route::Link;

use super::online::escape as esc;

/// The system the page runs on, as far as the browser tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Os {
    Windows,
    Mac,
    /// Debian/Ubuntu or Fedora cannot be told apart: both packages are offered.
    Linux,
    /// Android, iOS, iPadOS: no card reader component there.
    Mobile,
    Other,
}

/// The browser family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Browser {
    /// Chrome, Chromium, Brave, Opera, …: the Chrome Web Store.
    Chromium,
    Edge,
    Firefox,
    Other,
}

/// The OS and browser from `navigator.userAgent` and `navigator.platform`, and
/// `navigator.userAgentData.platform` (`hint`, Chromium only). Even Chromium's reduced user
/// agent names the platform family (`Windows NT 10.0`, `Macintosh`, `X11; Linux`, `Android`),
/// all this page needs; where the two disagree the user agent has been overridden on purpose
/// (a policy, the `--user-agent` switch, which leaves `userAgentData` as it was) and is
/// followed. The hint decides when the user agent names no system, and always when it says
/// Android or iOS (a tablet asking for the desktop site says Linux in its user agent).
fn detect(ua: &str, platform: &str, hint: Option<&str>) -> (Os, Browser) {
    let from_hint = hint.and_then(|h| match h {
        "Windows" => Some(Os::Windows),
        "macOS" => Some(Os::Mac),
        "Linux" => Some(Os::Linux),
        "Android" | "iOS" => Some(Os::Mobile),
        "" => None,
        _ => Some(Os::Other),
    });
    let from_ua =
        if ua.contains("Android") || ["iPhone", "iPad", "iPod"].iter().any(|d| ua.contains(d)) {
            Os::Mobile
        } else if ua.contains("Windows") || platform.starts_with("Win") {
            Os::Windows
        } else if ua.contains("Macintosh") || ua.contains("Mac OS") || platform.starts_with("Mac") {
            Os::Mac
        } else if ua.contains("CrOS") {
            Os::Other
        } else if ua.contains("Linux") || ua.contains("X11") || platform.starts_with("Linux") {
            Os::Linux
        } else {
            Os::Other
        };
    let os = match (from_hint, from_ua) {
        (Some(Os::Mobile), _) => Os::Mobile,
        (Some(h), Os::Other) => h,
        (_, ua) => ua,
    };
    let browser = if ua.contains("Edg/") {
        Browser::Edge
    } else if ua.contains("Firefox/") {
        Browser::Firefox
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        Browser::Chromium
    } else {
        Browser::Other
    };
    (os, browser)
}

fn platform() -> (Os, Browser) {
    let Some(nav) = web_sys::window().map(|w| w.navigator()) else {
        return (Os::Other, Browser::Other);
    };
    let hint = js_sys::Reflect::get(&nav, &"userAgentData".into())
        .ok()
        .filter(|v| v.is_object())
        .and_then(|d| js_sys::Reflect::get(&d, &"platform".into()).ok())
        .and_then(|p| p.as_string());
    detect(
        &nav.user_agent().unwrap_or_default(),
        &nav.platform().unwrap_or_default(),
        hint.as_deref(),
    )
}

/// A size as people read it (KB / MB, one decimal).
fn human_size(bytes: u64) -> String {
    let (unit, name) = if bytes >= 1024 * 1024 {
        (1024 * 1024, "MB")
    } else {
        (1024, "KB")
    };
    let tenths = (bytes * 10 + unit / 2) / unit;
    format!("{}.{} {name}", tenths / 10, tenths % 10)
}

fn kind_text(kind: DownloadKind) -> T {
    match kind {
        DownloadKind::Deb => T::DownloadKindDeb,
        DownloadKind::Rpm => T::DownloadKindRpm,
        DownloadKind::Msi => T::DownloadKindMsi,
        DownloadKind::ChromiumExtension => T::DownloadKindChromiumExtension,
        DownloadKind::FirefoxExtension => T::DownloadKindFirefoxExtension,
        DownloadKind::Bridge => T::DownloadKindBridge,
        DownloadKind::Extension => T::DownloadKindExtension,
        DownloadKind::Checksums => T::DownloadKindChecksums,
        DownloadKind::Other => T::DownloadKindOther,
    }
}

fn para(i: I18n, key: T) -> String {
    format!("<p>{}</p>", esc(&i.t(key)))
}

/// One file offered as a button-like link, with what it is, its size and SHA-256.
fn file_offer(i: I18n, f: &DownloadFile) -> String {
    let name = esc(&f.name);
    format!(
        "<li class=\"offer\"><a class=\"button button-primary\" href=\"{}\" download=\"{name}\" \
         data-kind=\"{}\">{name}</a> <span>{} · {}</span><br><span class=\"hint\">SHA-256: \
         <code class=\"sha256\">{}</code></span></li>",
        esc(&f.url),
        f.kind.as_str(),
        esc(&i.t(kind_text(f.kind))),
        human_size(f.bytes),
        esc(&f.sha256),
    )
}

fn offers<'a>(i: I18n, files: impl Iterator<Item = &'a DownloadFile>) -> String {
    let items: String = files.map(|f| file_offer(i, f)).collect();
    if items.is_empty() {
        String::new()
    } else {
        format!("<ul class=\"offers\">{items}</ul>")
    }
}

/// The store page for this browser and the package for this system (issue 13).
fn recommended_html(i: I18n, os: Os, browser: Browser, r: &DownloadsResponse) -> String {
    let (os_key, browser_key) = (
        match os {
            Os::Windows => T::DownloadOsWindows,
            Os::Mac => T::DownloadOsMac,
            Os::Linux => T::DownloadOsLinux,
            Os::Mobile => T::DownloadOsMobile,
            Os::Other => T::DownloadOsOther,
        },
        match browser {
            Browser::Chromium => T::DownloadBrowserChrome,
            Browser::Edge => T::DownloadBrowserEdge,
            Browser::Firefox => T::DownloadBrowserFirefox,
            Browser::Other => T::DownloadBrowserOther,
        },
    );
    let mut html = format!(
        "<p id=\"detected\">{}</p>",
        esc(&i.t_args(
            T::DownloadDetected,
            &[("os", &i.t(os_key)), ("browser", &i.t(browser_key))]
        ))
    );
    if os == Os::Mobile {
        html.push_str(&format!(
            "<p class=\"message message-error\">{}</p>",
            esc(&i.t(T::DownloadMobile))
        ));
        return html;
    }

    // Step 1: the extension — its store page, else the file of this browser family.
    html.push_str(&format!("<h3>{}</h3>", esc(&i.t(T::DownloadStepExt))));
    let s = &r.stores;
    let store = match browser {
        Browser::Chromium => s
            .chrome
            .as_ref()
            .map(|u| ("chrome", u, T::DownloadStoreChrome)),
        // Edge installs from its own store, or from the Chrome Web Store.
        Browser::Edge => s
            .edge
            .as_ref()
            .map(|u| ("edge", u, T::DownloadStoreEdge))
            .or_else(|| {
                s.chrome
                    .as_ref()
                    .map(|u| ("chrome", u, T::DownloadStoreChrome))
            }),
        Browser::Firefox => s
            .firefox
            .as_ref()
            .map(|u| ("firefox", u, T::DownloadStoreFirefox)),
        Browser::Other => None,
    };
    match (browser, store) {
        (Browser::Other, _) => html.push_str(&para(i, T::DownloadUnknownBrowser)),
        (_, Some((store, url, label))) => html.push_str(&format!(
            "<p><a class=\"button button-primary store-link\" data-store=\"{store}\" \
             href=\"{}\">{}</a></p>{}",
            esc(url),
            esc(&i.t(label)),
            para(i, T::DownloadStoreNote),
        )),
        (_, None) => {
            let wanted = if browser == Browser::Firefox {
                DownloadKind::FirefoxExtension
            } else {
                DownloadKind::ChromiumExtension
            };
            let zips = offers(i, r.files.iter().filter(|f| f.kind == wanted));
            if zips.is_empty() {
                html.push_str(&para(i, T::DownloadExtNone));
            } else {
                html.push_str(&para(i, T::DownloadExtNoStore));
                html.push_str(&zips);
            }
        }
    }

    // Step 2: the card reader component's package for this system.
    html.push_str(&format!("<h3>{}</h3>", esc(&i.t(T::DownloadStepBridge))));
    let wanted: &[DownloadKind] = match os {
        Os::Windows => &[DownloadKind::Msi],
        Os::Linux => &[DownloadKind::Deb, DownloadKind::Rpm],
        _ => &[],
    };
    // In the order of `wanted` (the .deb before the .rpm), not by name.
    let packages = offers(
        i,
        wanted
            .iter()
            .flat_map(|k| r.files.iter().filter(move |f| f.kind == *k)),
    );
    if packages.is_empty() {
        html.push_str(&para(
            i,
            if os == Os::Mac {
                T::DownloadInstallMac
            } else {
                T::DownloadBridgeNone
            },
        ));
    } else {
        if os == Os::Linux {
            html.push_str(&para(i, T::DownloadLinuxWhich));
        }
        html.push_str(&packages);
        if os == Os::Windows {
            html.push_str(&para(i, T::DownloadInstallWindows));
        } else {
            html.push_str(&para(i, T::DownloadInstallDeb));
            html.push_str(&para(i, T::DownloadInstallRpm));
        }
    }
    html
}

/// Every file offered, as one HTML table.
fn listing_html(i: I18n, files: &[DownloadFile]) -> String {
    if files.is_empty() {
        return format!(
            "<p class=\"downloads-none\">{}</p>",
            esc(&i.t(T::DownloadNone))
        );
    }
    let mut html = format!(
        "<div class=\"table-wrap\"><table class=\"data-table download-files\"><thead><tr>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">SHA-256</th></tr></thead><tbody>",
        esc(&i.t(T::DownloadColFile)),
        esc(&i.t(T::DownloadColKind)),
        esc(&i.t(T::DownloadColSize)),
    );
    for f in files {
        let name = esc(&f.name);
        html.push_str(&format!(
            "<tr class=\"download-file\" data-kind=\"{}\"><td><a href=\"{}\" download=\"{name}\">{name}</a></td>\
             <td>{}</td><td>{}</td><td><code class=\"sha256\">{}</code></td></tr>",
            f.kind.as_str(),
            esc(&f.url),
            esc(&i.t(kind_text(f.kind))),
            human_size(f.bytes),
            esc(&f.sha256),
        ));
    }
    html.push_str(&format!(
        "</tbody></table></div><p class=\"hint\">{}</p>",
        esc(&i.t(T::DownloadChecksumHint))
    ));
    html
}

#[component]
pub fn Download() -> impl IntoView {
    let i = use_i18n();
    let (os, browser) = platform();
    let files = RwSignal::new(None::<Result<DownloadsResponse, api::Failure>>);
    leptos::task::spawn_local(async move {
        // The page may be gone by then: nothing to show it to.
        let _ = files.try_set(Some(api::get::<DownloadsResponse>("/downloads").await));
    });
    // Both are static once loaded (as the health bank's chart is): HTML strings.
    let loaded = move |f: fn(I18n, Os, Browser, &DownloadsResponse) -> String| {
        move || {
            files.with(|r| match r {
                None => para(i, T::DownloadLoading),
                Some(Ok(r)) => f(i, os, browser, r),
                Some(Err(_)) => para(i, T::DownloadUnavailable),
            })
        }
    };
    let recommended = loaded(recommended_html);
    let listing = loaded(|i, _, _, r| listing_html(i, &r.files));
    let version = move || {
        files.with(|r| match r {
            Some(Ok(r)) if !r.version.is_empty() => {
                i.t_args(T::DownloadVersion, &[("version", &r.version)])
            }
            _ => String::new(),
        })
    };
    let os_name = format!("{os:?}").to_ascii_lowercase();
    let browser_name = format!("{browser:?}").to_ascii_lowercase();
    let t = move |key: T| move || i.t(key);
    view! {
        <PageTitle key=T::DownloadTitle />
        <p class="lead">{t(T::DownloadIntro)}</p>
        <section id="recommended" aria-labelledby="dl-rec" data-os=os_name data-browser=browser_name>
            <h2 id="dl-rec">{t(T::DownloadRecTitle)}</h2>
            <div id="download-recommended" inner_html=recommended></div>
        </section>
        <section aria-labelledby="dl-what">
            <h2 id="dl-what">{t(T::DownloadWhatTitle)}</h2>
            <h3 id="extension">{t(T::DownloadExtTitle)}</h3>
            <p>{t(T::DownloadExtBody)}</p>
            <h3 id="bridge">{t(T::DownloadBridgeTitle)}</h3>
            <p>{t(T::DownloadBridgeBody)}</p>
        </section>
        <section id="safe" aria-labelledby="dl-safe">
            <h2 id="dl-safe">{t(T::DownloadSafeTitle)}</h2>
            <ul>
                <li>{t(T::DownloadSafeNoPort)}</li>
                <li>{t(T::DownloadSafeOrigins)}</li>
                <li>{t(T::DownloadSafePin)}</li>
                <li>{t(T::DownloadSafeSigned)}</li>
            </ul>
        </section>
        <section id="install" aria-labelledby="dl-install">
            <h2 id="dl-install">{t(T::DownloadInstallTitle)}</h2>
            <ul>
                <li>{t(T::DownloadInstallWindows)}</li>
                <li>{t(T::DownloadInstallDeb)}</li>
                <li>{t(T::DownloadInstallRpm)}</li>
                <li>{t(T::DownloadInstallMac)}</li>
            </ul>
        </section>
        <section id="verify" aria-labelledby="dl-verify">
            <h2 id="dl-verify">{t(T::DownloadVerifyTitle)}</h2>
            <p>{t(T::DownloadVerifyBody)}</p>
            <ul class="commands">
                <li><code>{t(T::DownloadVerifyWindows)}</code></li>
                <li><code>{t(T::DownloadVerifyLinux)}</code></li>
                <li><code>{t(T::DownloadVerifyMac)}</code></li>
            </ul>
        </section>
        <section id="remove" aria-labelledby="dl-remove">
            <h2 id="dl-remove">{t(T::DownloadRemoveTitle)}</h2>
            <ul>
                <li>{t(T::DownloadRemoveWindows)}</li>
                <li>{t(T::DownloadRemoveLinux)}</li>
                <li>{t(T::DownloadRemoveExt)}</li>
            </ul>
        </section>
        <section aria-labelledby="dl-files">
            <h2 id="files"><span id="dl-files">{t(T::DownloadFilesTitle)}</span></h2>
            <div id="download-list" inner_html=listing></div>
            <p class="hint" id="download-version">{version}</p>
        </section>
        <section id="developers" aria-labelledby="dl-dev">
            <h2 id="dl-dev">{t(T::DownloadDevTitle)}</h2>
            <p>{t(T::DownloadDevBody)}</p>
        </section>
        <p><Link href="/check">{move || i.t(T::NavCheck)}</Link></p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const EDGE_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

    const BARE: &str = "Mozilla/5.0 Chrome/131.0.0.0";

    #[test]
    fn systems_and_browsers_are_told_apart() {
        for (ua, platform, hint, expected) in [
            (
                CHROME_LINUX,
                "Linux x86_64",
                None,
                (Os::Linux, Browser::Chromium),
            ),
            (
                CHROME_LINUX,
                "",
                Some("Linux"),
                (Os::Linux, Browser::Chromium),
            ),
            (
                EDGE_WINDOWS,
                "Win32",
                Some("Windows"),
                (Os::Windows, Browser::Edge),
            ),
            (EDGE_WINDOWS, "", None, (Os::Windows, Browser::Edge)),
            (
                FIREFOX_LINUX,
                "Linux x86_64",
                None,
                (Os::Linux, Browser::Firefox),
            ),
            (SAFARI_MAC, "MacIntel", None, (Os::Mac, Browser::Other)),
            (
                CHROME_ANDROID,
                "Linux armv8l",
                Some("Android"),
                (Os::Mobile, Browser::Chromium),
            ),
            (
                CHROME_ANDROID,
                "Linux armv8l",
                None,
                (Os::Mobile, Browser::Chromium),
            ),
            (SAFARI_IPHONE, "iPhone", None, (Os::Mobile, Browser::Other)),
            // An overridden user agent is followed; userAgentData decides where the user
            // agent names no system, and for phones and tablets asking for desktop sites.
            (
                EDGE_WINDOWS,
                "",
                Some("Linux"),
                (Os::Windows, Browser::Edge),
            ),
            (BARE, "", Some("Windows"), (Os::Windows, Browser::Chromium)),
            (
                CHROME_LINUX,
                "",
                Some("Android"),
                (Os::Mobile, Browser::Chromium),
            ),
            (BARE, "", Some("Chrome OS"), (Os::Other, Browser::Chromium)),
            ("", "", None, (Os::Other, Browser::Other)),
        ] {
            assert_eq!(detect(ua, platform, hint), expected, "{ua} / {hint:?}");
        }
    }

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(human_size(5_400_000), "5.1 MB");
        assert_eq!(human_size(6_000), "5.9 KB");
    }
}

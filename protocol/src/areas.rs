//! The SPA's areas: separately built bundles, so that the first page a citizen opens does not
//! download the insured-unit (F4–F7) and online-service (F9) pages.
//!
//! The server serves `dist/<dir>/index.html` for a path of an area; the app navigates within
//! its own area without reloading and loads another area's page with a full navigation.

/// One separately built part of the SPA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// F0–F3, F8 and the logged-in home: the first page's bundle (`dist/`).
    Citizen,
    /// F4–F7: insured units and bulk activation (`dist/units/`).
    Units,
    /// F9: 健康存摺 and 線上申辦業務, and the downloads page (`dist/online/`): pages a
    /// citizen reaches after the first screen.
    Online,
}

const UNITS_PREFIXES: &[&str] = &["/units", "/bulk-activate"];
/// `/passkeys` and `/passkey-login` (issue 16): the passkey pages are reached after the first
/// screen, so they stay out of its bundle (`/passkeys` is the page the passkey mails link).
const ONLINE_PREFIXES: &[&str] = &[
    "/health-bank",
    "/applications",
    "/download",
    "/passkeys",
    "/passkey-login",
];

/// `path` is `prefix` or below it (`/units`, `/units/roles`; not `/unitsx`).
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl Area {
    pub const ALL: [Area; 3] = [Area::Citizen, Area::Units, Area::Online];

    /// The area whose bundle renders `path` (a URL path, without query).
    pub fn of_path(path: &str) -> Area {
        if UNITS_PREFIXES.iter().any(|p| under(path, p)) {
            Area::Units
        } else if ONLINE_PREFIXES.iter().any(|p| under(path, p)) {
            Area::Online
        } else {
            Area::Citizen
        }
    }

    /// The folder under `dist/` that holds the area's build (`""` for the citizen area).
    pub fn dir(self) -> &'static str {
        match self {
            Area::Citizen => "",
            Area::Units => "units",
            Area::Online => "online",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_area() {
        for (path, area) in [
            ("/", Area::Citizen),
            ("/register", Area::Citizen),
            ("/home", Area::Citizen),
            ("/units", Area::Units),
            ("/units/upload", Area::Units),
            ("/unitsx", Area::Citizen),
            ("/bulk-activate", Area::Units),
            ("/health-bank", Area::Online),
            ("/applications", Area::Online),
            ("/applications/extra", Area::Online),
            ("/passkeys", Area::Online),
            ("/passkey-login", Area::Online),
            ("/passkey-loginx", Area::Citizen),
        ] {
            assert_eq!(Area::of_path(path), area, "{path}");
        }
        assert_eq!(Area::ALL.map(Area::dir), ["", "units", "online"]);
    }
}

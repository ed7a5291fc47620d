//! What sits in front of the server: the reverse proxies whose `X-Forwarded-For` is
//! believed (`trusted_proxies`).

use std::net::IpAddr;

use serde::Deserialize;

/// `trusted_proxies`: addresses (`127.0.0.1`, `::1`) and networks (`10.0.0.0/8`, `fd00::/8`).
/// IPv4-mapped IPv6 entries (`::ffff:10.0.0.1`) are stored as IPv4, as peers are compared in
/// their canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (compared in canonical form: `::ffff:a.b.c.d` is `a.b.c.d`) is listed.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

fn parse_proxy(entry: &str) -> Result<ipnet::IpNet, String> {
    let entry = entry.trim();
    let net = match entry.parse::<ipnet::IpNet>() {
        Ok(net) => net.trunc(),
        Err(_) => entry
            .parse::<IpAddr>()
            .map(ipnet::IpNet::from)
            .map_err(|_| format!("{entry:?} is neither an IP address nor a CIDR network"))?,
    };
    Ok(match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(ipnet::IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        other => other,
    })
}

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = String;

    fn try_from(entries: Vec<String>) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| parse_proxy(e).map_err(|m| format!("trusted_proxies: {m}")))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

impl std::str::FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated, as in `NHI_TRUSTED_PROXIES`.
    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .try_into()
    }
}

#[cfg(test)]
mod edge_tests {
    use super::*;
    use crate::config::Config;
    use std::net::SocketAddr;

    fn proxies(s: &str) -> TrustedProxies {
        s.parse().expect("valid list")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn trusted_proxies_match_addresses_and_networks() {
        let p = proxies(" 127.0.0.1, 10.0.0.0/8 ,fd00::/8, 192.168.1.77/24, ::ffff:172.16.0.0/108");
        for yes in [
            "127.0.0.1",
            "10.255.0.3",
            "fd12::1",
            "192.168.1.1",
            "::ffff:10.1.2.3",
            "172.16.9.9",
        ] {
            assert!(p.contains(ip(yes)), "{yes}");
        }
        for no in [
            "127.0.0.2",
            "11.0.0.1",
            "fe80::1",
            "192.168.2.1",
            "::1",
            "172.32.0.1",
        ] {
            assert!(!p.contains(ip(no)), "{no}");
        }
        assert!(TrustedProxies::default().is_empty());
        assert!(!TrustedProxies::default().contains(ip("127.0.0.1")));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("localhost".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn trusted_proxies_from_toml_and_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n")
            .expect("write");
        let cfg = Config::load(Some(&path), |_| None).expect("loads");
        assert_eq!(cfg.trusted_proxies, proxies("127.0.0.1,10.0.0.0/8"));
        let cfg = Config::load(Some(&path), |k| {
            (k == "NHI_TRUSTED_PROXIES").then(|| "::1, 192.168.0.0/16".to_owned())
        })
        .expect("env wins");
        assert_eq!(cfg.trusted_proxies, proxies("::1,192.168.0.0/16"));
        let cfg = Config::load(None, |k| (k == "NHI_TRUSTED_PROXIES").then(String::new))
            .expect("empty env");
        assert!(cfg.trusted_proxies.is_empty());
        assert!(Config::load(None, |k| {
            (k == "NHI_TRUSTED_PROXIES").then(|| "10.0.0.1,nope".to_owned())
        })
        .is_err());
        assert!(Config::default().trusted_proxies.is_empty());
    }

    #[test]
    fn the_removed_trust_forwarded_for_is_refused_with_a_pointer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "trust_forwarded_for = true\n").expect("write");
        for err in [
            Config::load(Some(&path), |_| None),
            Config::load(None, |k| {
                (k == "NHI_TRUST_FORWARDED_FOR").then(|| "false".to_owned())
            }),
        ] {
            let msg = err.expect_err("refused").to_string();
            assert!(msg.contains("trust_forwarded_for"), "{msg}");
            assert!(msg.contains("trusted_proxies"), "{msg}");
        }
    }

    #[test]
    fn metrics_listen_and_token() {
        let cfg = Config::default();
        assert_eq!(
            cfg.metrics_addr(),
            Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        assert_eq!(cfg.metrics_token_sha256, None);
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let off = Config::load(None, env(&[("NHI_METRICS_LISTEN", "off")])).expect("off");
        assert_eq!(off.metrics_addr(), None);
        let other = Config::load(None, env(&[("NHI_METRICS_LISTEN", "[::1]:9100")])).expect("v6");
        assert_eq!(
            other.metrics_addr(),
            Some("[::1]:9100".parse().expect("addr"))
        );
        assert!(Config::load(None, env(&[("NHI_METRICS_LISTEN", "9464")])).is_err());
        let hash = "ab".repeat(32);
        let token = Config::load(None, move |k| {
            (k == "NHI_METRICS_TOKEN_SHA256").then(|| hash.clone())
        })
        .expect("token");
        assert_eq!(token.metrics_token_sha256, Some("ab".repeat(32)));
        assert!(Config::load(None, env(&[("NHI_METRICS_TOKEN_SHA256", "secret")])).is_err());
    }
}

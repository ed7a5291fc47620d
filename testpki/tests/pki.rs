//! The generated PKI has the properties the plan's card table says, checked with an
//! independent parser (x509-parser) and its signature verification.

use std::time::{Duration, SystemTime};

use nhi_testpki::{Algorithm, CardStatus, IdTable, Outcome, TestPki, CARDS, POLICY_OID};
use x509_parser::asn1_rs::BitString;
use x509_parser::prelude::*;

fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = X509Certificate::from_der(der).expect("certificate parses");
    assert!(rest.is_empty());
    cert
}

fn cn(name: &X509Name<'_>) -> String {
    name.iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .expect("CN")
        .to_owned()
}

fn has_policy(cert: &X509Certificate<'_>) -> bool {
    cert.extensions()
        .iter()
        .any(|e| match e.parsed_extension() {
            ParsedExtension::CertificatePolicies(p) => {
                p.iter().any(|i| i.policy_id.to_id_string() == POLICY_OID)
            }
            _ => false,
        })
}

#[test]
fn every_card_is_as_the_table_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::init(dir.path()).expect("init");
    assert_eq!(pki.cards().len(), CARDS.len());
    let root = parse(pki.root_der());
    let issuing = parse(pki.issuing_ca_der());
    let sibling = parse(pki.sibling_ca_der());
    assert!(root.verify_signature(None).is_ok(), "root self-signed");
    assert!(issuing.verify_signature(Some(root.public_key())).is_ok());
    assert!(sibling.verify_signature(Some(root.public_key())).is_ok());
    assert_ne!(issuing.subject(), sibling.subject());
    assert!(issuing.is_ca() && sibling.is_ca() && root.is_ca());
    let now = ASN1Time::now().timestamp();
    let day = 86_400;
    let table: IdTable =
        serde_json::from_slice(&std::fs::read(pki.id_table_path()).expect("table"))
            .expect("table json");
    assert_eq!(table.certificates.len(), CARDS.len());

    for &(label, id, name, status, algorithm) in CARDS {
        let card = pki.card(label).expect(label);
        assert_eq!(
            (
                card.national_id.as_str(),
                card.name.as_str(),
                card.status,
                card.algorithm
            ),
            (id, name, status, algorithm)
        );
        assert_eq!(card.pin, "123456");
        let cert = parse(card.der());
        // subject C=TW, CN=name, serialNumber=last 4 digits of the ID
        assert_eq!(cn(cert.subject()), name, "{label}");
        let country: Vec<_> = cert.subject().iter_country().collect();
        assert_eq!(country.len(), 1);
        assert_eq!(country[0].as_str().expect("C"), "TW");
        let serial_attr: Vec<String> = cert
            .subject()
            .iter_by_oid(&oid_registry::OID_X509_SERIALNUMBER)
            .map(|a| a.as_str().expect("serialNumber").to_owned())
            .collect();
        assert_eq!(serial_attr, vec![id[6..].to_owned()], "{label}");
        assert!(
            !cert.subject().to_string().contains(id),
            "full ID not in the certificate"
        );
        // random 16-byte serial, as the manifest says
        assert_eq!(cert.raw_serial(), card.serial(), "{label}");
        assert_eq!(card.serial().len(), 16);
        // issuer and signature
        let expected_issuer = match status {
            CardStatus::Sibling => &sibling,
            CardStatus::SelfSigned => &cert,
            _ => &issuing,
        };
        assert_eq!(cert.issuer(), expected_issuer.subject(), "{label}");
        assert!(
            cert.verify_signature(Some(expected_issuer.public_key()))
                .is_ok(),
            "{label} signed by its issuer"
        );
        if status != CardStatus::SelfSigned {
            assert!(cert.verify_signature(Some(cert.public_key())).is_err());
        }
        assert_eq!(
            card.chain_der().len(),
            if status == CardStatus::SelfSigned {
                0
            } else {
                2
            }
        );
        if let Some(first) = card.chain_der().first() {
            assert_eq!(parse(first).subject(), expected_issuer.subject());
        }
        // policy
        assert_eq!(
            has_policy(&cert),
            status != CardStatus::NoPolicy,
            "{label} policy"
        );
        // key usage: critical, digitalSignature only (no nonRepudiation)
        let ku = cert.key_usage().expect("ku").expect("key usage present");
        assert!(ku.critical, "{label} keyUsage critical");
        if status == CardStatus::NoDigitalSignature {
            assert!(!ku.value.digital_signature() && ku.value.key_encipherment());
        } else {
            assert!(ku.value.digital_signature(), "{label}");
            assert!(!ku.value.non_repudiation() && !ku.value.key_cert_sign());
        }
        let eku = cert
            .extended_key_usage()
            .expect("eku")
            .expect("eku present");
        assert!(eku.value.client_auth);
        assert!(!cert.is_ca());
        // validity
        let (nb, na) = (
            cert.validity().not_before.timestamp(),
            cert.validity().not_after.timestamp(),
        );
        match status {
            CardStatus::Expired => assert!(na < now && na > now - 2 * day, "{label}"),
            CardStatus::NotYetValid => assert!(nb > now && nb < now + 2 * day, "{label}"),
            _ => {
                assert!(cert.validity().is_valid(), "{label} valid now");
                assert!((nb - (now - day)).abs() < 120 && (na - (now + 730 * day)).abs() < 120);
            }
        }
        // key type
        let spki_alg = cert.public_key().algorithm.algorithm.to_id_string();
        match algorithm {
            Algorithm::ES256 => assert_eq!(spki_alg, "1.2.840.10045.2.1"),
            Algorithm::RS256 => {
                assert_eq!(spki_alg, "1.2.840.113549.1.1.1");
                let Ok(x509_parser::public_key::PublicKey::RSA(k)) = cert.public_key().parsed()
                else {
                    panic!("{label}: RSA key")
                };
                assert_eq!(k.key_size(), 2048);
            }
        }
        // the ID table has this certificate with its holder's ID
        assert!(table
            .certificates
            .iter()
            .any(|e| e.certificate_sha256 == card.sha256_hex() && e.national_id == id));
        // files: PEM of the DER, key 0600
        assert_eq!(
            std::fs::read_to_string(&card.certificate_path).expect("pem"),
            card.pem()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&card.key_path)
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{label} key mode");
        }
    }
}

#[test]
fn signatures_verify_with_the_certificate_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::init(dir.path()).expect("init");
    let data = b"SHA-256(origin) || SHA-256(nonce) stand-in";
    for card in pki.cards() {
        let sig = card.sign(data);
        let cert = parse(card.der());
        let spki = cert.public_key();
        match card.algorithm {
            Algorithm::ES256 => {
                assert_eq!(sig.len(), 64, "{}: r||s", card.label);
                // x509-parser verifies DER signatures: re-encode r||s
                let der = p256::ecdsa::Signature::from_slice(&sig)
                    .expect("r||s")
                    .to_der();
                let alg = AlgorithmIdentifier::new(oid_registry::OID_SIG_ECDSA_WITH_SHA256, None);
                assert!(
                    x509_parser::verify::verify_signature(
                        spki,
                        &alg,
                        &BitString::new(0, der.as_bytes()),
                        data
                    )
                    .is_ok(),
                    "{}",
                    card.label
                );
            }
            Algorithm::RS256 => {
                assert_eq!(sig.len(), 256);
                let alg = AlgorithmIdentifier::new(oid_registry::OID_PKCS1_SHA256WITHRSA, None);
                assert!(x509_parser::verify::verify_signature(
                    spki,
                    &alg,
                    &BitString::new(0, &sig),
                    data
                )
                .is_ok());
            }
        }
        assert!(card.verify(data, &sig));
        assert!(!card.verify(b"other data", &sig));
        // sign_hash is the card's PSO: the same over SHA-256(data)
        use sha2::Digest as _;
        let hash: [u8; 32] = sha2::Sha256::digest(data).into();
        assert!(card.verify(data, &card.sign_hash(&hash).expect("sign_hash")));
        // the exported key is the card's key
        assert!(!card.key_pkcs8_der().expect("pkcs8").is_empty());
    }
}

#[test]
fn the_crl_lists_exactly_the_revoked_card_and_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::init(dir.path()).expect("init");
    let issuing = parse(pki.issuing_ca_der());
    let check = |expect_next: i64| {
        let der = std::fs::read(pki.crl_path()).expect("crl");
        let (rest, crl) = CertificateRevocationList::from_der(&der).expect("crl parses");
        assert!(rest.is_empty());
        assert_eq!(crl.issuer(), issuing.subject());
        assert!(crl.verify_signature(issuing.public_key()).is_ok());
        let root = parse(pki.root_der());
        assert!(crl.verify_signature(root.public_key()).is_err());
        let serials: Vec<&[u8]> = crl
            .iter_revoked_certificates()
            .map(|r| r.raw_serial())
            .collect();
        assert_eq!(
            serials,
            vec![pki.card("chen-revoked").expect("chen").serial()]
        );
        let next = crl.next_update().expect("nextUpdate").timestamp();
        assert!((next - expect_next).abs() < 120, "{next} vs {expect_next}");
    };
    let now = ASN1Time::now().timestamp();
    check(now + 7 * 86_400);
    // stale, for the server's fail-closed test
    let t = SystemTime::now();
    pki.write_crl(
        t - Duration::from_secs(10 * 86_400),
        t - Duration::from_secs(3 * 86_400),
    )
    .expect("stale crl");
    check(now - 3 * 86_400);
    // a reload (the key on disk) signs the same way
    let again = TestPki::load(dir.path()).expect("load");
    again
        .write_crl(t, t + Duration::from_secs(86_400))
        .expect("crl");
    check(now + 86_400);
    assert!(
        pki.write_crl(t, t - Duration::from_secs(1)).is_err(),
        "next before this"
    );
}

#[test]
fn init_twice_is_idempotent_and_force_regenerates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, o1) = TestPki::init_with(dir.path(), false).expect("init");
    assert_eq!(o1, Outcome::Created);
    let manifest = std::fs::read(dir.path().join("pki.json")).expect("manifest");
    let (b, o2) = TestPki::init_with(dir.path(), false).expect("init again");
    assert_eq!(o2, Outcome::Reused);
    assert_eq!(
        std::fs::read(dir.path().join("pki.json")).expect("manifest"),
        manifest
    );
    for (x, y) in a.cards().iter().zip(b.cards()) {
        assert_eq!(x.der(), y.der());
    }
    let (c, o3) = TestPki::init_with(dir.path(), true).expect("force");
    assert_eq!(o3, Outcome::Forced);
    assert_ne!(
        c.card("wang").expect("wang").der(),
        a.card("wang").expect("wang").der()
    );
    assert_eq!(c.env().len(), 5);
    assert_eq!(
        c.env()[1],
        ("NHI_CERTIFICATE_POLICY_OIDS", POLICY_OID.to_owned())
    );
}

#[test]
fn garbage_is_regenerated_and_load_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = TestPki::init(dir.path()).expect("init");
    let wang = first.card("wang").expect("wang").der().to_vec();

    // garbage manifest
    std::fs::write(dir.path().join("pki.json"), b"\x00{not json").expect("write");
    let err = TestPki::load(dir.path()).expect_err("garbage manifest");
    assert!(err.to_string().contains("pki.json"), "{err}");
    let (pki, outcome) = TestPki::init_with(dir.path(), false).expect("regenerates");
    assert!(
        matches!(outcome, Outcome::Regenerated(ref why) if why.contains("manifest")),
        "{outcome:?}"
    );
    assert_ne!(pki.card("wang").expect("wang").der(), wang);

    // a broken key file
    std::fs::write(
        &pki.card("huang").expect("huang").key_path,
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let err = TestPki::load(dir.path()).expect_err("broken key");
    assert!(err.to_string().contains("huang.key"), "{err}");
    assert!(matches!(
        TestPki::init_with(dir.path(), false).expect("init").1,
        Outcome::Regenerated(_)
    ));

    // a missing certificate
    std::fs::remove_file(dir.path().join("cards/wang.pem")).expect("rm");
    assert!(TestPki::load(dir.path()).is_err());
    TestPki::init(dir.path()).expect("init");

    // a manifest pointing outside the directory
    let path = dir.path().join("pki.json");
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace("\"root.pem\"", "\"../root.pem\"");
    std::fs::write(&path, text).expect("write");
    let err = TestPki::load(dir.path()).expect_err("outside");
    assert!(err.to_string().contains("not inside"), "{err}");

    // a stale one (generated a day ago) is regenerated: the not-yet-valid card would be valid
    let (_, _) = TestPki::init_with(dir.path(), false).expect("init");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    m["created"] = serde_json::json!(m["created"].as_u64().expect("created") - 86_400);
    std::fs::write(&path, serde_json::to_vec(&m).expect("json")).expect("write");
    assert!(
        matches!(TestPki::init_with(dir.path(), false).expect("init").1, Outcome::Regenerated(ref w) if w.contains("too long ago"))
    );
}

#[test]
fn the_binary_inits_and_prints_the_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_nhi-testpki");
    let t0 = std::time::Instant::now();
    let out = std::process::Command::new(bin)
        .arg("init")
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("init took {:?}", t0.elapsed());
    let out = std::process::Command::new(bin)
        .arg("env")
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    assert_eq!(
        keys,
        [
            "NHI_CERTIFICATE_ISSUING_CAS",
            "NHI_CERTIFICATE_POLICY_OIDS",
            "NHI_CERTIFICATE_CRL",
            "NHI_CERTIFICATE_ID_VERIFICATION",
            "NHI_CERTIFICATE_ID_TABLE",
        ]
    );
    assert!(text.contains("NHI_CERTIFICATE_ID_VERIFICATION=table\n"));
    // env of a directory without a PKI fails with a message
    let empty = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(bin)
        .arg("env")
        .arg(empty.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pki.json"));
    let out = std::process::Command::new(bin)
        .arg("bogus")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_key_of_another_card_or_a_wrong_table_is_noticed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::init(dir.path()).expect("init");
    // wang's key swapped for huang's (both P-256: it still signs, but not for this certificate)
    std::fs::copy(
        &pki.card("huang").expect("huang").key_path,
        &pki.card("wang").expect("wang").key_path,
    )
    .expect("copy");
    let err = TestPki::load(dir.path()).expect_err("mismatch");
    assert!(err.to_string().contains("not the certificate's"), "{err}");
    TestPki::init(dir.path()).expect("regenerates");
    // an ID table that maps a certificate to someone else
    let path = dir.path().join("id-table.json");
    let mut table: IdTable =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    table.certificates[0].national_id = "Z999999999".into();
    std::fs::write(&path, serde_json::to_vec(&table).expect("json")).expect("write");
    let err = TestPki::load(dir.path()).expect_err("table");
    assert!(err.to_string().contains("not in the table"), "{err}");
}

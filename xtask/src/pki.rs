//! The throw-away PKI of a test control plane, generated with the `openssl` CLI: one ECDSA P-256 CA that
//! signs the kube-apiserver serving certificate (localhost, 127.0.0.1, ::1) and the admin client
//! certificate (CN=admin, O=system:masters), plus the service-account signing key pair. Everything is valid
//! for 7 days and lives in the control plane's state directory. See docs/testing.md for why openssl.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::process;

/// Paths of the generated PKI files.
#[derive(Debug, Clone)]
pub struct Pki {
    /// CA certificate: trusted for the serving cert and used as `--client-ca-file`.
    pub ca_crt: PathBuf,
    /// kube-apiserver serving certificate.
    pub server_crt: PathBuf,
    /// kube-apiserver serving key.
    pub server_key: PathBuf,
    /// Admin client certificate (CN=admin, O=system:masters).
    pub admin_crt: PathBuf,
    /// Admin client key (PKCS#8 EC).
    pub admin_key: PathBuf,
    /// Service-account token signing key (private).
    pub sa_key: PathBuf,
    /// Service-account token verification key (public).
    pub sa_pub: PathBuf,
}

const DAYS: &str = "7";

/// Fails with an actionable message when the `openssl` CLI is missing.
pub fn check_openssl() -> Result<()> {
    process::output(Command::new("openssl").arg("version"))
        .map(|_| ())
        .context(
            "the `openssl` CLI is needed to generate the test PKI (Debian/Ubuntu: apt-get install openssl)",
        )
}

/// Generates a fresh PKI into `dir` (created if missing). `dir` must be valid UTF-8 (it is passed to
/// `openssl` on its command line).
pub fn generate(dir: &Path) -> Result<Pki> {
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let dir = dir
        .to_str()
        .context("the PKI directory path must be valid UTF-8")?;
    let p = |name: &str| format!("{dir}/{name}");
    let (ca_key, ca_crt, cnf) = (p("ca.key"), p("ca.crt"), p("openssl.cnf"));
    let (server_key, server_crt) = (p("apiserver.key"), p("apiserver.crt"));
    let (admin_key, admin_crt) = (p("admin.key"), p("admin.crt"));
    let (sa_key, sa_pub) = (p("sa.key"), p("sa.pub"));
    // A self-contained config so the host's OPENSSL_CONF/openssl.cnf defaults cannot add or clash with
    // extensions.
    fs::write(
        &cnf,
        "[req]\n\
         distinguished_name = dn\n\
         prompt = no\n\
         [dn]\n\
         CN = unused\n\
         [ca]\n\
         basicConstraints = critical,CA:TRUE\n\
         keyUsage = critical,keyCertSign,cRLSign,digitalSignature\n\
         subjectKeyIdentifier = hash\n\
         [server]\n\
         basicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1\n\
         authorityKeyIdentifier = keyid\n\
         [client]\n\
         basicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature\n\
         extendedKeyUsage = clientAuth\n\
         authorityKeyIdentifier = keyid\n",
    )
    .with_context(|| format!("failed to write {cnf}"))?;

    ec_key(&ca_key)?;
    openssl(&[
        "req",
        "-new",
        "-x509",
        "-sha256",
        "-days",
        DAYS,
        "-config",
        &cnf,
        "-extensions",
        "ca",
        "-subj",
        "/CN=edgefleet-test-ca",
        "-key",
        &ca_key,
        "-out",
        &ca_crt,
    ])?;
    let ca = Signer {
        cnf: &cnf,
        key: &ca_key,
        crt: &ca_crt,
    };
    ca.leaf("/CN=kube-apiserver", "server", &server_key, &server_crt, 1)?;
    ca.leaf("/O=system:masters/CN=admin", "client", &admin_key, &admin_crt, 2)?;
    ec_key(&sa_key)?;
    openssl(&["pkey", "-in", &sa_key, "-pubout", "-out", &sa_pub])?;
    Ok(Pki {
        ca_crt: ca_crt.into(),
        server_crt: server_crt.into(),
        server_key: server_key.into(),
        admin_crt: admin_crt.into(),
        admin_key: admin_key.into(),
        sa_key: sa_key.into(),
        sa_pub: sa_pub.into(),
    })
}

/// The CA that signs leaf certificates.
struct Signer<'a> {
    cnf: &'a str,
    key: &'a str,
    crt: &'a str,
}

impl Signer<'_> {
    /// Creates a key and a certificate for `subject` with the config section `extensions`.
    fn leaf(&self, subject: &str, extensions: &str, key: &str, crt: &str, serial: u32) -> Result<()> {
        ec_key(key)?;
        let csr = format!("{crt}.csr");
        openssl(&[
            "req", "-new", "-config", self.cnf, "-subj", subject, "-key", key, "-out", &csr,
        ])?;
        openssl(&[
            "x509",
            "-req",
            "-sha256",
            "-days",
            DAYS,
            "-in",
            &csr,
            "-CA",
            self.crt,
            "-CAkey",
            self.key,
            "-set_serial",
            &serial.to_string(),
            "-extfile",
            self.cnf,
            "-extensions",
            extensions,
            "-out",
            crt,
        ])?;
        fs::remove_file(&csr).with_context(|| format!("failed to remove {csr}"))
    }
}

fn ec_key(out: &str) -> Result<()> {
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        out,
    ])
}

fn openssl(args: &[&str]) -> Result<()> {
    process::output(Command::new("openssl").args(args)).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openssl_out(args: &[&str]) -> Result<String> {
        process::output(Command::new("openssl").args(args))
    }

    #[test]
    fn generated_certificates_chain_to_the_ca_with_the_right_purposes() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("edgefleet-pki-test-{}", std::process::id()));
        let pki = generate(&dir)?;
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let ca = s(&pki.ca_crt);
        // The serving cert is valid for TLS servers only, the admin cert for TLS clients only.
        let server_ok = openssl_out(&[
            "verify",
            "-CAfile",
            &ca,
            "-purpose",
            "sslserver",
            &s(&pki.server_crt),
        ]);
        let server_as_client = openssl_out(&[
            "verify",
            "-CAfile",
            &ca,
            "-purpose",
            "sslclient",
            &s(&pki.server_crt),
        ]);
        let admin_ok = openssl_out(&[
            "verify",
            "-CAfile",
            &ca,
            "-purpose",
            "sslclient",
            &s(&pki.admin_crt),
        ]);
        let server_text = openssl_out(&["x509", "-noout", "-text", "-in", &s(&pki.server_crt)])?;
        let admin_subject = openssl_out(&["x509", "-noout", "-subject", "-in", &s(&pki.admin_crt)])?;
        let sa_pub_matches =
            openssl_out(&["pkey", "-in", &s(&pki.sa_key), "-pubout"])? == fs::read_to_string(&pki.sa_pub)?;
        fs::remove_dir_all(&dir)?;

        assert!(server_ok.is_ok(), "{server_ok:?}");
        assert!(
            server_as_client.is_err(),
            "the serving cert must not authenticate clients"
        );
        assert!(admin_ok.is_ok(), "{admin_ok:?}");
        for san in [
            "DNS:localhost",
            "IP Address:127.0.0.1",
            "IP Address:0:0:0:0:0:0:0:1",
        ] {
            assert!(
                server_text.contains(san),
                "serving cert lacks {san}:\n{server_text}"
            );
        }
        assert!(admin_subject.contains("O = system:masters"), "{admin_subject}");
        assert!(admin_subject.contains("CN = admin"), "{admin_subject}");
        assert!(sa_pub_matches, "sa.pub is not the public half of sa.key");
        Ok(())
    }
}

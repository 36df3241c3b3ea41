//! Signing keys and signatures: parsing, errors, and differential tests against Nix 2.8
//! (`nix-store --generate-binary-cache-key`, `nix store sign`, `nix store verify`). The
//! differential tests fail when Nix is missing.

use std::path::{Path, PathBuf};
use std::process::Output;

use kiln_formats::narinfo::NarInfo;
use kiln_formats::signing::{KeyError, KeyKind, PublicKey, SecretKey, Signature, TrustedKeys};
use kiln_formats::store_path::DEFAULT_STORE_DIR;

const SD: &str = DEFAULT_STORE_DIR;

#[test]
fn generated_keys_round_trip_and_sign() {
    let key = SecretKey::generate("kiln.example-1").unwrap();
    assert_eq!(key.name(), "kiln.example-1");
    let text = key.to_string();
    assert!(text.starts_with("kiln.example-1:"));
    assert_eq!(text.len(), "kiln.example-1:".len() + 88);
    assert_eq!(SecretKey::parse(&text).unwrap(), key);
    assert_eq!(SecretKey::parse(&format!("{text}\n")).unwrap(), key);
    assert!(
        !format!("{key:?}").contains(&text[15..]),
        "Debug hides the secret"
    );

    let public = key.to_public();
    assert_eq!(PublicKey::parse(&public.to_string()).unwrap(), public);
    let sig = key.sign(b"data");
    assert_eq!(sig.key_name(), "kiln.example-1");
    assert_eq!(Signature::parse(&sig.to_string()).unwrap(), sig);
    assert!(public.verify(b"data", &sig));
    assert!(!public.verify(b"other", &sig));

    let other = SecretKey::generate("kiln.example-1").unwrap();
    assert_ne!(other, key, "two keys from OS randomness differ");
    let trusted: TrustedKeys = [other.to_public()].into_iter().collect();
    assert!(!trusted.verify(b"data", &sig));
    let trusted =
        TrustedKeys::parse_list(&format!("  {}\n{}  ", other.to_public(), public)).unwrap();
    assert_eq!(trusted.len(), 1, "the later key of a name wins");
    assert!(trusted.verify(b"data", &sig));
    assert!(trusted.verify_str(b"data", &sig.to_string()));
    assert!(!trusted.verify_str(b"data", "kiln.example-1:AAAA"));
    assert!(!trusted.verify_str(b"data", "no colon"));
}

#[test]
fn known_answer() {
    // RFC 8032 test 1: seed 9d61b19d…, empty message.
    let seed: [u8; 32] = (0..32)
        .map(|i| {
            u8::from_str_radix(
                &"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
                    [2 * i..2 * i + 2],
                16,
            )
            .unwrap()
        })
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let key = SecretKey::from_seed("rfc8032", seed).unwrap();
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(
        hex(&key.to_public().to_bytes()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert_eq!(
        hex(key.sign(b"").bytes()),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
         5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
}

#[test]
fn malformed_keys_are_rejected_clearly() {
    let key = SecretKey::from_seed("k", [1; 32]).unwrap();
    let good = key.to_string();
    let payload = &good[2..];

    assert_eq!(
        SecretKey::parse(payload),
        Err(KeyError::MissingName {
            kind: KeyKind::SecretKey
        })
    );
    assert_eq!(
        PublicKey::parse(&format!(":{}", &key.to_public().to_string()[2..])),
        Err(KeyError::MissingName {
            kind: KeyKind::PublicKey
        })
    );
    assert!(matches!(
        SecretKey::parse("k:not*base64"),
        Err(KeyError::BadBase64 {
            kind: KeyKind::SecretKey,
            ..
        })
    ));
    // A public key where a secret key belongs, and the other way round.
    assert_eq!(
        SecretKey::parse(&key.to_public().to_string()),
        Err(KeyError::WrongLength {
            kind: KeyKind::SecretKey,
            name: "k".into(),
            found: 32,
            expected: 64
        })
    );
    assert_eq!(
        PublicKey::parse(&good),
        Err(KeyError::WrongLength {
            kind: KeyKind::PublicKey,
            name: "k".into(),
            found: 64,
            expected: 32
        })
    );
    assert!(matches!(
        Signature::parse("k:AAAA"),
        Err(KeyError::WrongLength {
            kind: KeyKind::Signature,
            found: 3,
            ..
        })
    ));
    // Seed of one key, public half of another.
    let other = SecretKey::from_seed("k", [2; 32]).unwrap().to_string();
    let spliced = format!("{}{}", &good[..2 + 43], &other[2 + 43..]);
    assert_eq!(
        SecretKey::parse(&spliced),
        Err(KeyError::Mismatch { name: "k".into() })
    );
    assert_eq!(
        SecretKey::parse(&spliced).unwrap_err().to_string(),
        "secret key 'k' is corrupt: its public half does not match its seed"
    );
    for name in ["", "a:b", "a b"] {
        assert!(matches!(
            SecretKey::generate(name),
            Err(KeyError::BadName { .. })
        ));
    }
    // Padding is optional on input.
    assert_eq!(SecretKey::parse(good.trim_end_matches('=')).unwrap(), key);
}

/// A scratch Nix 2.8 installation: state in a temp dir, no substituters, a chroot store.
struct Nix {
    dir: tempfile::TempDir,
}

impl Nix {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/nix.conf"),
            "substituters =\nexperimental-features = nix-command\n",
        )
        .unwrap();
        Self { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        kiln_testkit::reference_command(tool, self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, tool: &str, args: &[&str]) -> String {
        let out = self.run(tool, args);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn store(&self) -> String {
        self.path("root").display().to_string()
    }

    /// Generates a key pair with Nix, returning the secret and public key files' contents.
    fn generate_key(&self, name: &str) -> (PathBuf, String, String) {
        let sec = self.path(&format!("{name}.sec"));
        let public = self.path(&format!("{name}.pub"));
        self.ok(
            "nix-store",
            &[
                "--generate-binary-cache-key",
                name,
                sec.to_str().unwrap(),
                public.to_str().unwrap(),
            ],
        );
        let s = std::fs::read_to_string(&sec).unwrap();
        let p = std::fs::read_to_string(&public).unwrap();
        (sec, s, p)
    }

    /// Adds a file to the chroot store, returning its store path.
    fn add_file(&self, name: &str, contents: &str) -> String {
        let file = self.path(name);
        std::fs::write(&file, contents).unwrap();
        self.ok(
            "nix",
            &[
                "--store",
                &self.store(),
                "store",
                "add-file",
                file.to_str().unwrap(),
            ],
        )
        .trim()
        .to_owned()
    }

    /// Copies paths into an uncompressed file:// cache, returning the cache directory.
    fn copy_to_cache(&self, paths: &[&str]) -> PathBuf {
        let cache = self.path("cache");
        let to = format!("file://{}?compression=none", cache.display());
        let store = self.store();
        let mut args = vec!["--store", store.as_str(), "copy", "--to", &to];
        args.extend_from_slice(paths);
        self.ok("nix", &args);
        cache
    }
}

fn narinfo_path(cache: &Path, store_path: &str) -> PathBuf {
    let base = store_path.rsplit('/').next().unwrap();
    cache.join(format!("{}.narinfo", &base[..32]))
}

#[test]
fn differential_public_key_matches_nix() {
    let nix = Nix::new();
    for name in ["cache.example.org-1", "k"] {
        let (_, secret, public) = nix.generate_key(name);
        let key = SecretKey::parse(&secret).unwrap();
        assert_eq!(key.name(), name);
        assert_eq!(key.to_public().to_string(), public);
        assert_eq!(key.to_string(), secret, "prints the key as Nix wrote it");
        assert_eq!(PublicKey::parse(&public).unwrap(), key.to_public());
    }
}

#[test]
fn differential_signatures_identical_to_nix_store_sign() {
    let nix = Nix::new();
    let (sec, secret, public) = nix.generate_key("nix-signer-1");
    // A key Kiln generated, in a file as Nix writes one (no final newline), signs in Nix too.
    let kiln_key = SecretKey::generate("kiln-signer-1").unwrap();
    let kiln_sec = nix.path("kiln.sec");
    std::fs::write(&kiln_sec, kiln_key.to_string()).unwrap();
    let a = nix.add_file("a.txt", "hello\n");
    let b = nix.add_file("b.txt", "world\n");
    for key_file in [&sec, &kiln_sec] {
        nix.ok(
            "nix",
            &[
                "--store",
                &nix.store(),
                "store",
                "sign",
                "--key-file",
                key_file.to_str().unwrap(),
                &a,
                &b,
            ],
        );
    }
    let cache = nix.copy_to_cache(&[&a, &b]);
    let key = SecretKey::parse(&secret).unwrap();
    let trusted = TrustedKeys::parse_list(&public).unwrap();
    let both: TrustedKeys = [key.to_public(), kiln_key.to_public()]
        .into_iter()
        .collect();
    for p in [&a, &b] {
        let text = std::fs::read_to_string(narinfo_path(&cache, p)).unwrap();
        let info = NarInfo::parse(SD, &text).unwrap();
        assert_eq!(
            info.render(SD),
            text,
            "Nix's narinfo prints back byte for byte"
        );
        assert_eq!(info.sigs.len(), 2);
        let fingerprint = info.fingerprint(SD);
        for k in [&key, &kiln_key] {
            let kiln_sig = k.sign(fingerprint.as_bytes()).to_string();
            assert!(info.sigs.contains(&kiln_sig), "Ed25519 is deterministic");
        }
        assert_eq!(info.verify(SD, &trusted), 1);
        assert_eq!(info.verify(SD, &both), 2);
        let mut resigned = info.clone();
        resigned.sigs.clear();
        resigned.sign(SD, &kiln_key);
        resigned.sign(SD, &key);
        assert_eq!(resigned, info);
    }
}

#[test]
fn differential_nix_accepts_kiln_signatures() {
    let nix = Nix::new();
    let p = nix.add_file("c.txt", "signed by kiln\n");
    let cache = nix.copy_to_cache(&[&p]);
    let file = narinfo_path(&cache, &p);
    let mut info = NarInfo::parse(SD, &std::fs::read_to_string(&file).unwrap()).unwrap();
    // Nix trusts content-addressed paths without signatures; drop the CA so it must check.
    info.ca = None;
    info.sigs.clear();
    let key = SecretKey::generate("kiln-signer-1").unwrap();
    let stranger = SecretKey::generate("kiln-signer-1").unwrap();
    info.sign(SD, &key);

    let verify = |trusted: &str| {
        nix.run(
            "nix",
            &[
                "--store",
                &format!("file://{}", cache.display()),
                "store",
                "verify",
                "--no-contents",
                "--trusted-public-keys",
                trusted,
                &p,
            ],
        )
        .status
    };
    std::fs::write(&file, info.render(SD)).unwrap();
    assert!(verify(&key.to_public().to_string()).success());
    // `nix store verify` exits with 2 exactly when a path is untrusted.
    assert_eq!(verify(&stranger.to_public().to_string()).code(), Some(2));

    // Nix normalises a base16 NarHash to nix32 before checking, as Kiln's fingerprint does.
    let base16 = info.render(SD).replace(
        &format!("NarHash: {}", info.nar_hash),
        &format!("NarHash: sha256:{}", info.nar_hash.to_base16()),
    );
    assert_ne!(base16, info.render(SD));
    assert_eq!(NarInfo::parse(SD, &base16).unwrap(), info);
    std::fs::write(&file, base16).unwrap();
    assert!(verify(&key.to_public().to_string()).success());
}

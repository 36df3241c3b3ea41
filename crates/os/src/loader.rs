//! The VM's boot loader: the part systemd-boot plays on a real machine, played by the runner
//! (`kiln os vm --boot`), because qemu's `-kernel` cannot read a disk.
//!
//! The loader's state lives on the `nix` image, in [`LOADER_DIR`] (the guest's `/boot/loader`:
//! stage 2 links `/boot` to `/nix/var/kiln/boot`), in systemd-boot's format:
//!
//! * `entries/kiln-N.conf`: generation N's entry (`linux`, `initrd`, `options`). With boot
//!   counting (automatic boot assessment) a new entry is `kiln-N+LEFT.conf`; each try renames
//!   it to `kiln-N+LEFT-1-DONE+1.conf` before the kernel starts, and the guest renames it to
//!   `kiln-N.conf` (blesses it) once `multi-user.target` is reached. `kiln-N+0-DONE.conf` is
//!   bad: it is not booted unless asked for by number.
//! * `loader.conf`: `default kiln-N.conf`, the entry booted when none is asked for;
//! * `oneshot`: `kiln-N.conf`, booted once, next boot only (removed as it is used);
//! * `failed-N`: why the last try of generation N did not reach `multi-user.target` (the
//!   failed units, or a timeout), written by the guest before it reboots.
//!
//! The runner reads and writes that state on the image while the VM is off, unprivileged,
//! with e2fsprogs' `debugfs` ([`Image`]); [`choose`] picks the entry.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the loader's state is inside the `nix` image (its root is the guest's `/nix`).
pub const LOADER_DIR: &str = "/var/kiln/boot/loader";

/// A boot entry's file name: `kiln-N.conf`, or with a boot counter `kiln-N+LEFT[-DONE].conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The generation.
    pub generation: u64,
    /// Tries left, for an entry still being assessed (`None`: blessed, or never counted).
    pub left: Option<u32>,
    /// Tries done.
    pub done: u32,
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Entry {
    /// Parses an entry's file name; `None` for any other file.
    pub fn parse(name: &str) -> Option<Entry> {
        let stem = name.strip_prefix("kiln-")?.strip_suffix(".conf")?;
        let (number, counter) = match stem.split_once('+') {
            Some((n, c)) => (n, Some(c)),
            None => (stem, None),
        };
        let generation = digits(number)?;
        let (left, done) = match counter {
            None => (None, 0),
            Some(c) => {
                let (l, d) = match c.split_once('-') {
                    Some((l, d)) => (l, digits(d)?),
                    None => (c, 0),
                };
                (
                    Some(u32::try_from(digits(l)?).ok()?),
                    u32::try_from(d).ok()?,
                )
            }
        };
        Some(Entry {
            generation,
            left,
            done,
        })
    }

    /// A new entry of `generation`, counted with `tries` when given.
    pub fn new(generation: u64, tries: Option<u32>) -> Entry {
        Entry {
            generation,
            left: tries,
            done: 0,
        }
    }

    /// Its file name.
    pub fn file_name(&self) -> String {
        match self.left {
            None => format!("kiln-{}.conf", self.generation),
            Some(l) if self.done == 0 => format!("kiln-{}+{l}.conf", self.generation),
            Some(l) => format!("kiln-{}+{l}-{}.conf", self.generation, self.done),
        }
    }

    /// Its id, the name without the counter (what `loader.conf`'s `default` names).
    pub fn id(&self) -> String {
        format!("kiln-{}.conf", self.generation)
    }

    /// No tries left: the generation failed to boot every time it was tried.
    pub fn bad(&self) -> bool {
        self.left == Some(0)
    }

    /// The entry after one more try (a counted entry loses one try left).
    pub fn tried(&self) -> Entry {
        match self.left {
            Some(l) => Entry {
                left: Some(l.saturating_sub(1)),
                done: self.done + 1,
                ..*self
            },
            None => *self,
        }
    }
}

/// The generation a `default`/`oneshot` value names: `kiln-N.conf` or `kiln-N`.
pub fn parse_id(value: &str) -> Option<u64> {
    let v = value.trim();
    let n = v.strip_prefix("kiln-")?;
    digits(n.strip_suffix(".conf").unwrap_or(n))
}

/// The generation `loader.conf`'s `default` line names.
pub fn parse_loader_conf(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("default"))
        .and_then(parse_id)
}

/// The text of `loader.conf` for the default `generation`.
pub fn loader_conf(generation: u64) -> String {
    format!("timeout 5\ndefault kiln-{generation}.conf\n")
}

/// What the loader reads before a boot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The entries, in no order.
    pub entries: Vec<Entry>,
    /// `loader.conf`'s default.
    pub default: Option<u64>,
    /// The one-shot choice.
    pub oneshot: Option<u64>,
    /// The failure notes the guest left: generation and text.
    pub failures: Vec<(u64, String)>,
}

impl State {
    /// The entry of `generation`.
    pub fn entry(&self, generation: u64) -> Option<Entry> {
        self.entries
            .iter()
            .find(|e| e.generation == generation)
            .copied()
    }

    /// The failure note of `generation`.
    pub fn failure(&self, generation: u64) -> Option<&str> {
        self.failures
            .iter()
            .find(|(g, _)| *g == generation)
            .map(|(_, t)| t.as_str())
    }
}

/// Why an entry was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Asked for by number (`--generation N`, a pick from the menu).
    Asked,
    /// The one-shot choice.
    Oneshot,
    /// `loader.conf`'s default.
    Default,
    /// No usable default: the newest good entry.
    Newest,
    /// The default is bad (no tries left): the previous good generation boots instead.
    Reverted {
        /// The bad default entry.
        bad: Entry,
        /// Why its last try failed, as the guest noted it.
        failure: Option<String>,
    },
}

/// The loader's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The entry to boot (before its try is counted).
    pub entry: Entry,
    /// Why.
    pub why: Why,
}

/// Why no entry can boot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChooseError {
    /// There are no entries.
    #[error("there are no boot entries")]
    NoEntries,
    /// The generation asked for has no entry.
    #[error("generation {0} has no boot entry (entries: {1})")]
    NoSuchGeneration(u64, String),
    /// Every entry is bad.
    #[error("every boot entry is bad (out of tries): {0}")]
    AllBad(String),
}

/// Chooses the entry to boot, as systemd-boot does: the generation `asked` for, else the
/// one-shot entry, else the default; an entry with no tries left is never the default: the
/// newest good generation older than it boots instead (else the newest good one).
pub fn choose(state: &State, asked: Option<u64>) -> Result<Choice, ChooseError> {
    let names = || {
        let mut v: Vec<String> = state.entries.iter().map(Entry::file_name).collect();
        v.sort();
        v.join(", ")
    };
    if state.entries.is_empty() {
        return Err(ChooseError::NoEntries);
    }
    if let Some(n) = asked {
        let entry = state
            .entry(n)
            .ok_or_else(|| ChooseError::NoSuchGeneration(n, names()))?;
        return Ok(Choice {
            entry,
            why: Why::Asked,
        });
    }
    if let Some(entry) = state.oneshot.and_then(|n| state.entry(n)) {
        return Ok(Choice {
            entry,
            why: Why::Oneshot,
        });
    }
    let mut good: Vec<Entry> = state.entries.iter().filter(|e| !e.bad()).copied().collect();
    good.sort_by_key(|e| std::cmp::Reverse(e.generation));
    let newest = good.first().copied();
    match state.default.and_then(|n| state.entry(n)) {
        Some(entry) if !entry.bad() => Ok(Choice {
            entry,
            why: Why::Default,
        }),
        Some(bad) => {
            let entry = good
                .iter()
                .find(|e| e.generation < bad.generation)
                .copied()
                .or(newest)
                .ok_or_else(|| ChooseError::AllBad(names()))?;
            Ok(Choice {
                entry,
                why: Why::Reverted {
                    bad,
                    failure: state.failure(bad.generation).map(str::to_owned),
                },
            })
        }
        None => Ok(Choice {
            entry: newest.ok_or_else(|| ChooseError::AllBad(names()))?,
            why: Why::Newest,
        }),
    }
}

/// A boot entry's fields (`linux`, `initrd`, `options`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryText {
    /// The kernel.
    pub linux: Option<String>,
    /// The initrd.
    pub initrd: Option<String>,
    /// The kernel command line.
    pub options: String,
}

/// Parses a systemd-boot entry (`key value` lines; `options` lines add up).
pub fn parse_entry(text: &str) -> EntryText {
    let mut e = EntryText::default();
    for line in text.lines() {
        let line = line.trim();
        let (key, value) = line.split_once([' ', '\t']).unwrap_or((line, ""));
        let value = value.trim();
        match key {
            "linux" => e.linux = Some(value.to_owned()),
            "initrd" => e.initrd = Some(value.to_owned()),
            "options" => {
                if !e.options.is_empty() {
                    e.options.push(' ');
                }
                e.options.push_str(value);
            }
            _ => {}
        }
    }
    e
}

/// Why `debugfs` could not read or write the image.
#[derive(Debug, thiserror::Error)]
#[error("debugfs on {}: {detail}", image.display())]
pub struct ImageError {
    /// The image.
    pub image: PathBuf,
    /// What went wrong.
    pub detail: String,
}

/// An ext4 image read and written with `debugfs` (unprivileged, the VM off).
#[derive(Debug, Clone)]
pub struct Image {
    path: PathBuf,
}

impl Image {
    /// The image at `path`.
    pub fn new(path: &Path) -> Image {
        Image {
            path: path.to_owned(),
        }
    }

    fn err(&self, detail: impl Into<String>) -> ImageError {
        ImageError {
            image: self.path.clone(),
            detail: detail.into(),
        }
    }

    /// Runs `debugfs` with `commands` on its standard input; its standard output. Any
    /// message on standard error but its banner is an error.
    fn debugfs(&self, write: bool, commands: &str) -> Result<Vec<u8>, ImageError> {
        let mut cmd = Command::new("debugfs");
        if write {
            cmd.arg("-w");
        }
        let mut child = cmd
            .arg("-f")
            .arg("-")
            .arg(&self.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.err(format!("{e} (install e2fsprogs)")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(commands.as_bytes())
                .map_err(|e| self.err(e.to_string()))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| self.err(e.to_string()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let problems: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("debugfs "))
            .collect();
        if !out.status.success() || !problems.is_empty() {
            return Err(self.err(format!(
                "{} ({}; commands: {})",
                problems.join("; "),
                out.status,
                commands.trim().replace('\n', "; ")
            )));
        }
        Ok(out.stdout)
    }

    /// The names in directory `dir` (without `.` and `..`); empty when it does not exist.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, ImageError> {
        check_path(dir).map_err(|d| self.err(d))?;
        let out = match self.debugfs(false, &format!("ls -p {dir}\n")) {
            Ok(o) => o,
            Err(e) if e.detail.contains("File not found") => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        // `/inode/mode/uid/gid/name/size/`; commands are echoed as `debugfs: …`.
        let mut names = Vec::new();
        for line in String::from_utf8_lossy(&out).lines() {
            let fields: Vec<&str> = line.split('/').collect();
            if fields.len() >= 7 && fields[0].is_empty() {
                let name = fields[5];
                if name != "." && name != ".." && !name.is_empty() {
                    names.push(name.to_owned());
                }
            }
        }
        Ok(names)
    }

    /// The contents of the file at `path` (which must exist: see [`Image::list`]).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, ImageError> {
        check_path(path).map_err(|d| self.err(d))?;
        let out = Command::new("debugfs")
            .arg("-R")
            .arg(format!("cat {path}"))
            .arg(&self.path)
            .output()
            .map_err(|e| self.err(format!("{e} (install e2fsprogs)")))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(p) = stderr.lines().find(|l| !l.starts_with("debugfs ")) {
            return Err(self.err(format!("cat {path}: {p}")));
        }
        Ok(out.stdout)
    }

    /// Renames `from` to `to` in directory `dir` (a new link, then the old one removed: the
    /// inode's link count is unchanged).
    pub fn rename(&self, dir: &str, from: &str, to: &str) -> Result<(), ImageError> {
        for p in [dir, from, to] {
            check_path(p).map_err(|d| self.err(d))?;
        }
        self.debugfs(true, &format!("cd {dir}\nln {from} {to}\nunlink {from}\n"))?;
        Ok(())
    }

    /// Writes `contents` as `name` in directory `dir` (which must exist), replacing it.
    pub fn write(&self, dir: &str, name: &str, contents: &[u8]) -> Result<(), ImageError> {
        for p in [dir, name] {
            check_path(p).map_err(|d| self.err(d))?;
        }
        let tmp = self
            .path
            .with_extension(format!("write-{}.tmp", std::process::id()));
        fs::write(&tmp, contents).map_err(|e| self.err(format!("{}: {e}", tmp.display())))?;
        let exists = self.list(dir)?.iter().any(|n| n == name);
        let mut cmds = format!("cd {dir}\n");
        if exists {
            cmds.push_str(&format!("rm {name}\n"));
        }
        cmds.push_str(&format!("write {} {name}\n", tmp.display()));
        let r = self.debugfs(true, &cmds);
        let _ = fs::remove_file(&tmp);
        r.map(|_| ())
    }

    /// Removes `name` from directory `dir`.
    pub fn remove(&self, dir: &str, name: &str) -> Result<(), ImageError> {
        for p in [dir, name] {
            check_path(p).map_err(|d| self.err(d))?;
        }
        self.debugfs(true, &format!("cd {dir}\nrm {name}\n"))?;
        Ok(())
    }

    /// The loader's state ([`LOADER_DIR`]).
    pub fn state(&self) -> Result<State, ImageError> {
        let mut state = State::default();
        for name in self.list(&format!("{LOADER_DIR}/entries"))? {
            if let Some(e) = Entry::parse(&name) {
                state.entries.push(e);
            }
        }
        for name in self.list(LOADER_DIR)? {
            let text = || -> Result<String, ImageError> {
                Ok(
                    String::from_utf8_lossy(&self.read(&format!("{LOADER_DIR}/{name}"))?)
                        .into_owned(),
                )
            };
            if name == "loader.conf" {
                state.default = parse_loader_conf(&text()?);
            } else if name == "oneshot" {
                state.oneshot = parse_id(&text()?);
            } else if let Some(n) = name.strip_prefix("failed-").and_then(digits) {
                state.failures.push((n, text()?.trim().to_owned()));
            }
        }
        Ok(state)
    }
}

/// `debugfs` reads its commands split at blanks: a path with one (or a newline) cannot be
/// named.
fn check_path(p: &str) -> Result<(), String> {
    if p.is_empty() || p.chars().any(|c| c.is_whitespace() || c == '"') {
        return Err(format!("the path {p:?} cannot be given to debugfs"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str) -> Entry {
        Entry::parse(name).unwrap()
    }

    #[test]
    fn entry_names_carry_the_boot_counter() {
        assert_eq!(e("kiln-3.conf"), Entry::new(3, None));
        assert_eq!(e("kiln-3+2.conf"), Entry::new(3, Some(2)));
        assert_eq!(
            e("kiln-3+0-2.conf"),
            Entry {
                generation: 3,
                left: Some(0),
                done: 2
            }
        );
        for bad in [
            "kiln-.conf",
            "kiln-3",
            "kiln-+3.conf",
            "kiln-3+.conf",
            "kiln-3+1-.conf",
            "kiln-3+-1.conf",
            "kiln-3+a.conf",
            "nixos-3.conf",
            "kiln-3+99999999999.conf",
        ] {
            assert_eq!(Entry::parse(bad), None, "{bad}");
        }
        let new = Entry::new(7, Some(2));
        assert_eq!(new.file_name(), "kiln-7+2.conf");
        assert_eq!(new.tried().file_name(), "kiln-7+1-1.conf");
        assert_eq!(new.tried().tried().file_name(), "kiln-7+0-2.conf");
        assert!(new.tried().tried().bad());
        assert_eq!(new.tried().tried().id(), "kiln-7.conf");
        assert_eq!(Entry::new(7, None).tried().file_name(), "kiln-7.conf");
        assert_eq!(
            parse_loader_conf("timeout 5\ndefault kiln-4.conf\n"),
            Some(4)
        );
        assert_eq!(parse_loader_conf(&loader_conf(12)), Some(12));
        assert_eq!(parse_id("kiln-4\n"), Some(4));
        assert_eq!(parse_loader_conf("default nixos-*\n"), None);
    }

    #[test]
    fn the_loader_chooses_as_systemd_boot_does_and_reverts_a_bad_default() {
        let mut s = State {
            entries: vec![e("kiln-1.conf"), e("kiln-2.conf"), e("kiln-3+1-1.conf")],
            default: Some(3),
            ..State::default()
        };
        assert_eq!(choose(&s, None).unwrap().why, Why::Default);
        assert_eq!(choose(&s, None).unwrap().entry.generation, 3);
        assert_eq!(choose(&s, Some(1)).unwrap().entry.generation, 1);
        assert!(matches!(
            choose(&s, Some(9)),
            Err(ChooseError::NoSuchGeneration(9, _))
        ));
        s.oneshot = Some(1);
        assert_eq!(choose(&s, None).unwrap().why, Why::Oneshot);
        s.oneshot = None;
        // Out of tries: the previous good generation boots, with the guest's reason.
        s.entries[2] = e("kiln-3+0-2.conf");
        s.failures.push((3, "failed units: broken.service".into()));
        let c = choose(&s, None).unwrap();
        assert_eq!(c.entry.generation, 2);
        assert_eq!(
            c.why,
            Why::Reverted {
                bad: e("kiln-3+0-2.conf"),
                failure: Some("failed units: broken.service".into())
            }
        );
        // Asked for by number, a bad entry still boots.
        assert_eq!(choose(&s, Some(3)).unwrap().entry.generation, 3);
        // A bad default with only newer good entries: the newest good one.
        s.default = Some(1);
        s.entries = vec![e("kiln-1+0-3.conf"), e("kiln-2.conf"), e("kiln-4+2.conf")];
        assert_eq!(choose(&s, None).unwrap().entry.generation, 4);
        // No default: the newest good entry.
        s.default = None;
        s.entries = vec![e("kiln-1.conf"), e("kiln-2+0-1.conf")];
        assert_eq!(
            choose(&s, None).unwrap(),
            Choice {
                entry: e("kiln-1.conf"),
                why: Why::Newest
            }
        );
        s.entries = vec![e("kiln-2+0-1.conf")];
        assert!(matches!(choose(&s, None), Err(ChooseError::AllBad(_))));
        s.entries.clear();
        assert_eq!(choose(&s, None), Err(ChooseError::NoEntries));
    }

    #[test]
    fn entries_are_parsed_as_systemd_boot_reads_them() {
        let t = parse_entry(
            "title Kiln\nversion Generation 2\nlinux /nix/store/k/bzImage\n\
             initrd\t/nix/store/i/initrd\noptions init=/nix/store/t/init console=ttyS0\n\
             options quiet\n",
        );
        assert_eq!(t.linux.as_deref(), Some("/nix/store/k/bzImage"));
        assert_eq!(t.initrd.as_deref(), Some("/nix/store/i/initrd"));
        assert_eq!(t.options, "init=/nix/store/t/init console=ttyS0 quiet");
        assert_eq!(parse_entry("garbage\n\n"), EntryText::default());
    }

    #[test]
    fn the_image_state_is_read_and_written_with_debugfs() {
        if Command::new("debugfs").arg("-V").output().is_err() {
            panic!("debugfs (e2fsprogs) is needed by this test");
        }
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let loader = src.join(LOADER_DIR.trim_start_matches('/'));
        fs::create_dir_all(loader.join("entries")).unwrap();
        fs::write(loader.join("entries/kiln-1.conf"), "linux /k\n").unwrap();
        fs::write(loader.join("entries/kiln-2+2.conf"), "linux /k2\n").unwrap();
        fs::write(loader.join("entries/README"), "not an entry").unwrap();
        fs::write(loader.join("loader.conf"), loader_conf(2)).unwrap();
        let img = tmp.path().join("nix.img");
        let st = Command::new("mke2fs")
            .args(["-q", "-F", "-t", "ext4", "-O", "^has_journal", "-d"])
            .arg(&src)
            .arg(&img)
            .arg("8M")
            .status()
            .unwrap();
        assert!(st.success());
        let image = Image::new(&img);
        let mut s = image.state().unwrap();
        s.entries.sort_by_key(|e| e.generation);
        assert_eq!(s.entries, vec![e("kiln-1.conf"), e("kiln-2+2.conf")]);
        assert_eq!(s.default, Some(2));
        let dir = format!("{LOADER_DIR}/entries");
        image
            .rename(&dir, "kiln-2+2.conf", "kiln-2+1-1.conf")
            .unwrap();
        image
            .write(LOADER_DIR, "loader.conf", b"default kiln-1.conf\n")
            .unwrap();
        image.write(LOADER_DIR, "failed-2", b"timed out\n").unwrap();
        image
            .write(LOADER_DIR, "oneshot", b"kiln-2.conf\n")
            .unwrap();
        let mut s = image.state().unwrap();
        s.entries.sort_by_key(|e| e.generation);
        assert_eq!(s.entries, vec![e("kiln-1.conf"), e("kiln-2+1-1.conf")]);
        assert_eq!((s.default, s.oneshot), (Some(1), Some(2)));
        assert_eq!(s.failure(2), Some("timed out"));
        assert_eq!(
            image.read(&format!("{dir}/kiln-2+1-1.conf")).unwrap(),
            b"linux /k2\n"
        );
        image.remove(LOADER_DIR, "oneshot").unwrap();
        assert_eq!(image.state().unwrap().oneshot, None);
        assert!(image.read(&format!("{dir}/nope")).is_err());
        assert!(image.rename(&dir, "nope", "nope2").is_err());
        assert!(image.list("/no/such/dir").unwrap().is_empty());
        assert!(image.write(LOADER_DIR, "a b", b"").is_err());
        // The file system is consistent after the writes.
        let fsck = Command::new("e2fsck")
            .arg("-fn")
            .arg(&img)
            .output()
            .unwrap();
        assert!(
            fsck.status.success(),
            "{}",
            String::from_utf8_lossy(&fsck.stdout)
        );
    }
}

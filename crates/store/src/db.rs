//! The store database: SQLite in Nix's own schema (version 10, what Nix 2.8 writes).
//!
//! Tables, as Nix defines them: `ValidPaths` (one row per valid path: `path`, `hash` (the NAR
//! hash, written `sha256:<base16>`), `registrationTime`, `deriver`, `narSize`, `ultimate`,
//! `sigs` (space-separated), `ca`), `Refs` (referrer and reference row ids; deleting a
//! referrer cascades, deleting a reference is refused) and `DerivationOutputs` (for each
//! valid `.drv`, its output names and paths). The version lives in the file `schema` next to
//! `db.sqlite`. The database runs in WAL mode with foreign keys enforced; writes take the write
//! lock up front (`BEGIN IMMEDIATE`) so two writers queue instead of failing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_formats::derivation::Derivation;
use kiln_formats::hash::Hash;
use kiln_formats::narinfo::ContentAddress;
use kiln_formats::store_path::StorePath;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::{PathInfo, StoreError};

/// The schema version Kiln reads and writes (Nix 2.8's).
pub const SCHEMA_VERSION: u32 = 10;

/// Nix's schema, written from the tables of a database Nix created.
const SCHEMA: &str = "
create table if not exists ValidPaths (
    id               integer primary key autoincrement not null,
    path             text unique not null,
    hash             text not null,
    registrationTime integer not null,
    deriver          text,
    narSize          integer,
    ultimate         integer,
    sigs             text,
    ca               text
);
create table if not exists Refs (
    referrer  integer not null,
    reference integer not null,
    primary key (referrer, reference),
    foreign key (referrer) references ValidPaths(id) on delete cascade,
    foreign key (reference) references ValidPaths(id) on delete restrict
);
create index if not exists IndexReferrer on Refs(referrer);
create index if not exists IndexReference on Refs(reference);
create trigger if not exists DeleteSelfRefs before delete on ValidPaths
  begin
    delete from Refs where referrer = old.id and reference = old.id;
  end;
create table if not exists DerivationOutputs (
    drv  integer not null,
    id   text not null,
    path text not null,
    primary key (drv, id),
    foreign key (drv) references ValidPaths(id) on delete cascade
);
create index if not exists IndexDerivationOutputs on DerivationOutputs(path);
";

/// An open store database.
#[derive(Debug)]
pub(crate) struct Db {
    conn: Connection,
    file: PathBuf,
    store_dir: String,
}

impl Db {
    /// Opens (creating when `create`) the database in `db_dir` for the logical `store_dir`.
    pub(crate) fn open(db_dir: &Path, store_dir: &str, create: bool) -> Result<Self, StoreError> {
        let file = db_dir.join("db.sqlite");
        let schema_file = db_dir.join("schema");
        let found = match std::fs::read_to_string(&schema_file) {
            Ok(s) => Some(s.trim().to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::io("reading", &schema_file)(e)),
        };
        let fresh = match found.as_deref() {
            None => true,
            Some(v) if v == SCHEMA_VERSION.to_string() => false,
            Some(v) => {
                return Err(StoreError::UnsupportedSchema {
                    path: schema_file,
                    found: v.to_owned(),
                    supported: SCHEMA_VERSION,
                })
            }
        };
        let db_err = |op| {
            let file = file.clone();
            move |source| StoreError::Db {
                op,
                db: file,
                source,
            }
        };
        let flags = if create || fresh {
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
        } else {
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
        } | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&file, flags).map_err(db_err("opening"))?;
        conn.busy_timeout(Duration::from_secs(3600))
            .map_err(db_err("setting the busy timeout"))?;
        // As Nix does: checkpoint the WAL only every 40000 pages, so that adding thousands of
        // small paths (instantiating a package set) costs a few fsyncs, not one per 1000 pages.
        // Statement journals (each cascading delete of a collection writes one) stay in
        // memory: as temporary files they were a third of the database's writes.
        conn.execute_batch(
            "pragma foreign_keys = 1; pragma journal_mode = wal; pragma synchronous = normal; \
             pragma wal_autocheckpoint = 40000; pragma temp_store = memory;",
        )
        .map_err(db_err("configuring"))?;
        if fresh {
            conn.execute_batch(SCHEMA)
                .map_err(db_err("creating the schema"))?;
            std::fs::write(&schema_file, SCHEMA_VERSION.to_string())
                .map_err(StoreError::io("writing", &schema_file))?;
        }
        Ok(Db {
            conn,
            file,
            store_dir: store_dir.to_owned(),
        })
    }

    /// The connection, the database file and the logical store directory, for the garbage
    /// collector's bulk queries (`gc.rs`).
    pub(crate) fn parts(&mut self) -> (&mut Connection, &Path, &str) {
        (&mut self.conn, &self.file, &self.store_dir)
    }

    fn err(&self, op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Db {
            op,
            db: self.file.clone(),
            source,
        }
    }

    fn parse_path(&self, s: &str) -> Result<StorePath, StoreError> {
        StorePath::from_absolute(&self.store_dir, s).map_err(|_| StoreError::Corrupt {
            what: "path",
            value: s.to_owned(),
        })
    }

    /// Returns the row id of a valid path.
    fn id_of(conn: &Connection, abs: &str) -> rusqlite::Result<Option<i64>> {
        conn.prepare_cached("select id from ValidPaths where path = ?1")?
            .query_row([abs], |r| r.get(0))
            .optional()
    }

    /// Whether `path` is valid.
    pub(crate) fn is_valid(&self, path: &StorePath) -> Result<bool, StoreError> {
        Self::id_of(&self.conn, &path.to_absolute(&self.store_dir))
            .map(|id| id.is_some())
            .map_err(self.err("querying a path"))
    }

    /// Returns everything recorded about `path`, or `None` when it is not valid.
    pub(crate) fn query_path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, StoreError> {
        let abs = path.to_absolute(&self.store_dir);
        type Row = (
            i64,
            String,
            i64,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = self
            .conn
            .prepare_cached(
                "select id, hash, registrationTime, deriver, narSize, ultimate, sigs, ca \
                 from ValidPaths where path = ?1",
            )
            .and_then(|mut st| {
                st.query_row([&abs], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                })
                .optional()
            })
            .map_err(self.err("querying path info"))?;
        let Some((id, hash, time, deriver, nar_size, ultimate, sigs, ca)) = row else {
            return Ok(None);
        };
        let nar_hash = Hash::parse_any(&hash, None).map_err(|_| StoreError::Corrupt {
            what: "narHash",
            value: hash.clone(),
        })?;
        let deriver = match deriver.as_deref() {
            None | Some("") => None,
            Some(d) => Some(self.parse_path(d)?),
        };
        let ca = match ca.as_deref() {
            None | Some("") => None,
            Some(c) => Some(ContentAddress::parse(c).map_err(|_| StoreError::Corrupt {
                what: "ca",
                value: c.to_owned(),
            })?),
        };
        let references = self.references_by_id(id)?;
        Ok(Some(PathInfo {
            path: path.clone(),
            nar_hash,
            nar_size: nar_size.unwrap_or(0).max(0) as u64,
            references,
            deriver,
            ca,
            sigs: sigs
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            registration_time: time,
            ultimate: ultimate.unwrap_or(0) != 0,
        }))
    }

    /// Runs a query whose one column is a store path, collecting the paths.
    fn query_paths(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
        op: &'static str,
    ) -> Result<BTreeSet<StorePath>, StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(self.err(op))?;
        let rows = st
            .query_map(params, |r| r.get::<_, String>(0))
            .map_err(self.err(op))?;
        let mut res = BTreeSet::new();
        for row in rows {
            res.insert(self.parse_path(&row.map_err(self.err(op))?)?);
        }
        Ok(res)
    }

    fn references_by_id(&self, id: i64) -> Result<BTreeSet<StorePath>, StoreError> {
        self.query_paths(
            "select path from Refs join ValidPaths on reference = id where referrer = ?1",
            &[&id],
            "querying references",
        )
    }

    /// Returns the valid paths that refer to `path` (itself included when it refers to itself).
    pub(crate) fn query_referrers(
        &self,
        path: &StorePath,
    ) -> Result<BTreeSet<StorePath>, StoreError> {
        let abs = path.to_absolute(&self.store_dir);
        self.query_paths(
            "select path from Refs join ValidPaths on referrer = id \
             where reference = (select id from ValidPaths where path = ?1)",
            &[&abs],
            "querying referrers",
        )
    }

    /// Returns the derivations that name `path` as an output.
    pub(crate) fn query_valid_derivers(
        &self,
        path: &StorePath,
    ) -> Result<BTreeSet<StorePath>, StoreError> {
        let abs = path.to_absolute(&self.store_dir);
        self.query_paths(
            "select v.path from DerivationOutputs d join ValidPaths v on d.drv = v.id \
             where d.path = ?1",
            &[&abs],
            "querying derivers",
        )
    }

    /// The valid path whose hash part is `hash`, if any (Nix's `queryPathFromHashPart`: the
    /// first path at or after `<store dir>/<hash>` that starts with it).
    pub(crate) fn path_from_hash_part(&self, hash: &str) -> Result<Option<StorePath>, StoreError> {
        let prefix = format!("{}/{hash}", self.store_dir);
        let found = self.query_paths(
            "select path from ValidPaths where path >= ?1 order by path limit 1",
            &[&prefix],
            "querying a hash part",
        )?;
        Ok(found.into_iter().next().filter(|p| p.hash_part() == hash))
    }

    /// Sets the signatures of the valid path `path` to `sigs`.
    pub(crate) fn set_signatures(
        &self,
        path: &StorePath,
        sigs: &BTreeSet<String>,
    ) -> Result<(), StoreError> {
        let joined = (!sigs.is_empty()).then(|| sigs.iter().cloned().collect::<Vec<_>>().join(" "));
        self.conn
            .prepare_cached("update ValidPaths set sigs = ?2 where path = ?1")
            .and_then(|mut st| {
                st.execute(rusqlite::params![path.to_absolute(&self.store_dir), joined])
            })
            .map(|_| ())
            .map_err(self.err("recording signatures"))
    }

    /// Returns every valid path.
    pub(crate) fn all_valid_paths(&self) -> Result<BTreeSet<StorePath>, StoreError> {
        self.query_paths("select path from ValidPaths", &[], "listing valid paths")
    }

    /// Registers `infos` as valid in one transaction: new rows or updated ones, then their
    /// references (which must be valid or among `infos`), then the outputs of derivations.
    /// `drvs` gives the parsed contents of any `.drv` among them.
    pub(crate) fn register(
        &mut self,
        infos: &[PathInfo],
        drvs: &[(StorePath, Derivation)],
    ) -> Result<(), StoreError> {
        let store_dir = self.store_dir.clone();
        let file = self.file.clone();
        let err = |op| {
            let db = file.clone();
            move |source| StoreError::Db { op, db, source }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("starting a transaction"))?;
        for info in infos {
            let abs = info.path.to_absolute(&store_dir);
            let hash = format!("{}:{}", info.nar_hash.algo(), info.nar_hash.to_base16());
            let deriver = info.deriver.as_ref().map(|d| d.to_absolute(&store_dir));
            let sigs = (!info.sigs.is_empty())
                .then(|| info.sigs.iter().cloned().collect::<Vec<_>>().join(" "));
            let ca = info.ca.as_ref().map(|c| c.to_string());
            let ultimate = info.ultimate.then_some(1);
            let updated = tx
                .prepare_cached(
                    "update ValidPaths set hash = ?2, registrationTime = ?3, deriver = ?4, \
                     narSize = ?5, ultimate = ?6, sigs = ?7, ca = ?8 where path = ?1",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        abs,
                        hash,
                        info.registration_time,
                        deriver,
                        info.nar_size as i64,
                        ultimate,
                        sigs,
                        ca
                    ])
                })
                .map_err(err("registering a path"))?;
            if updated == 0 {
                tx.prepare_cached(
                    "insert into ValidPaths (path, hash, registrationTime, deriver, narSize, \
                     ultimate, sigs, ca) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        abs,
                        hash,
                        info.registration_time,
                        deriver,
                        info.nar_size as i64,
                        ultimate,
                        sigs,
                        ca
                    ])
                })
                .map_err(err("registering a path"))?;
            }
        }
        for info in infos {
            let abs = info.path.to_absolute(&store_dir);
            let id = Self::id_of(&tx, &abs)
                .map_err(err("registering references"))?
                .expect("registered above");
            for r in &info.references {
                let rabs = r.to_absolute(&store_dir);
                let rid = Self::id_of(&tx, &rabs)
                    .map_err(err("registering references"))?
                    .ok_or_else(|| StoreError::MissingReference {
                        path: abs.clone(),
                        reference: rabs.clone(),
                    })?;
                tx.prepare_cached(
                    "insert or ignore into Refs (referrer, reference) values (?1, ?2)",
                )
                .and_then(|mut st| st.execute([id, rid]))
                .map_err(err("registering references"))?;
            }
        }
        for (drv_path, drv) in drvs {
            let abs = drv_path.to_absolute(&store_dir);
            let id = Self::id_of(&tx, &abs)
                .map_err(err("registering derivation outputs"))?
                .expect("registered above");
            for (name, output) in &drv.outputs {
                if let Some(out) = output.path() {
                    tx.prepare_cached(
                        "insert or replace into DerivationOutputs (drv, id, path) \
                         values (?1, ?2, ?3)",
                    )
                    .and_then(|mut st| st.execute(params![id, name, out.to_absolute(&store_dir)]))
                    .map_err(err("registering derivation outputs"))?;
                }
            }
        }
        tx.commit().map_err(err("committing registrations"))
    }

    /// Makes `paths` invalid in one transaction, refusing (changing nothing) when a valid path
    /// outside `paths` refers to one of them.
    pub(crate) fn invalidate(&mut self, paths: &BTreeSet<StorePath>) -> Result<(), StoreError> {
        let store_dir = self.store_dir.clone();
        let file = self.file.clone();
        let err = |op| {
            let db = file.clone();
            move |source| StoreError::Db { op, db, source }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("starting a transaction"))?;
        // Inside the transaction, so no referrer can be registered between check and delete.
        for p in paths {
            let abs = p.to_absolute(&store_dir);
            let mut st = tx
                .prepare_cached(
                    "select v.path from Refs r join ValidPaths v on r.referrer = v.id \
                     where r.reference = (select id from ValidPaths where path = ?1)",
                )
                .map_err(err("querying referrers"))?;
            let referrers: Vec<String> = st
                .query_map([&abs], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(err("querying referrers"))?;
            for referrer in referrers {
                let inside = StorePath::from_absolute(&store_dir, &referrer)
                    .is_ok_and(|r| paths.contains(&r));
                if !inside {
                    return Err(StoreError::StillReferenced {
                        path: abs,
                        referrer,
                    });
                }
            }
        }
        // References among the set first, so the `restrict` on references does not fire.
        for p in paths {
            tx.prepare_cached(
                "delete from Refs where referrer = (select id from ValidPaths where path = ?1)",
            )
            .and_then(|mut st| st.execute([p.to_absolute(&store_dir)]))
            .map_err(err("invalidating a path"))?;
        }
        for p in paths {
            tx.prepare_cached("delete from ValidPaths where path = ?1")
                .and_then(|mut st| st.execute([p.to_absolute(&store_dir)]))
                .map_err(err("invalidating a path"))?;
        }
        tx.commit().map_err(err("committing invalidations"))
    }
}

//! OpenClaw 2026.7+ keeps all pairing state in one SQLite database,
//! `<state>/state/openclaw.sqlite` (WAL; spec openclaw-2026.9 §1–§5). This
//! module finds it, opens it safely and reads the four pairing tables into
//! clawpair's models; [`dm`] also holds the one write clawpair ever makes to
//! it, the DM approve / dismiss / revoke transaction.
//!
//! Rules (spec §2, and "never harm the install"):
//! * nothing creates `state/` or the database: every open is without
//!   `SQLITE_OPEN_CREATE`, and a missing file is reported, not made;
//! * reads use a read-only connection (`mode=ro`), short statements inside
//!   one short read transaction, and a busy timeout; a quiescent database
//!   (WAL mode, no `-wal` file, so no connection is open on it) is read with
//!   `immutable=1`, which creates no `-wal`/`-shm` beside it;
//! * only [`dm::write_channel`] opens it for writing, in one
//!   `BEGIN IMMEDIATE` transaction, and only on a schema this build knows;
//! * `SQLITE_BUSY` past the timeout is [`DbError::Busy`], naming the file.

pub mod devices;
pub mod dm;
pub mod gateway;
mod generation;

pub use generation::{legacy_leftovers, owner_command, owner_missing, Generation};

pub use gateway::LocalGateway;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// `PRAGMA user_version` of OpenClaw 2026.9.6, the schema this build knows.
pub const KNOWN_USER_VERSION: i64 = 18;
/// OpenClaw's own busy timeout (spec §2), and ours.
pub const BUSY_TIMEOUT_MS: u64 = 5000;

/// The database of a state dir (it may not exist).
pub fn db_path(state_dir: &Path) -> PathBuf {
    crate::paths::sqlite_db(state_dir)
}

/// The busy timeout: 5 s, or `$CLAWPAIR_SQLITE_BUSY_MS` (tests only).
pub fn busy_timeout() -> Duration {
    let ms = std::env::var("CLAWPAIR_SQLITE_BUSY_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(BUSY_TIMEOUT_MS);
    Duration::from_millis(ms)
}

/// Why the database cannot be used. Nothing was changed in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error("{0}: no such database")]
    Missing(PathBuf),
    #[error("{0}: is a symbolic link; clawpair does not follow links in the state dir")]
    Symlink(PathBuf),
    #[error("{0}: not a regular file")]
    NotRegular(PathBuf),
    #[error("{path}: not an OpenClaw state database ({detail}); nothing was read or changed")]
    NotADatabase { path: PathBuf, detail: String },
    #[error(
        "{path}: the database stayed locked by another process for {ms} ms (OpenClaw busy?); \
         nothing was changed, try again"
    )]
    Busy { path: PathBuf, ms: u64 },
    #[error(
        "{path}: schema user_version {found} is newer than this clawpair knows ({known}) and its \
         pairing tables changed ({detail}); upgrade clawpair"
    )]
    Incompatible {
        path: PathBuf,
        found: i64,
        known: i64,
        detail: String,
    },
    #[error(
        "{path}: schema user_version {found} is not the one this clawpair writes ({known}); \
         it shows this state read-only and changes nothing (upgrade clawpair, or act through \
         OpenClaw)"
    )]
    ReadOnlySchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "{path}: cannot be read: its directory is not writable and SQLite needs a shared-memory \
         file (-shm) beside a live WAL database; run clawpair as the user that owns the state dir"
    )]
    NoShm { path: PathBuf },
    #[error("{path}: {detail}")]
    Sqlite { path: PathBuf, detail: String },
}

impl DbError {
    fn from_sqlite(path: &Path, e: rusqlite::Error) -> DbError {
        use rusqlite::ErrorCode;
        let path = path.to_path_buf();
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => DbError::Busy {
                path,
                ms: busy_timeout().as_millis() as u64,
            },
            Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
                DbError::NotADatabase {
                    path,
                    detail: e.to_string(),
                }
            }
            _ => DbError::Sqlite {
                path,
                detail: e.to_string(),
            },
        }
    }
}

/// What the database says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub user_version: i64,
    /// `schema_meta` row `primary`: `schema_version` and `app_version`.
    pub meta_version: Option<i64>,
    pub app_version: Option<String>,
}

impl Schema {
    /// Whether clawpair may write (its DM transaction): only on the schema it knows.
    pub fn writable(&self) -> bool {
        self.user_version == KNOWN_USER_VERSION
    }

    /// "user_version 18, OpenClaw 2026.9.6".
    pub fn describe(&self) -> String {
        match &self.app_version {
            Some(v) => format!("user_version {}, OpenClaw {v}", self.user_version),
            None => format!("user_version {}", self.user_version),
        }
    }
}

/// Columns of the four pairing tables as OpenClaw 2026.9.6 creates them
/// (spec §3), in DDL order.
pub const PAIRING_TABLES: &[(&str, &[&str])] = &[
    (
        "channel_pairing_requests",
        &[
            "channel_key",
            "account_id",
            "request_id",
            "code",
            "created_at",
            "last_seen_at",
            "meta_json",
        ],
    ),
    (
        "channel_pairing_allow_entries",
        &[
            "channel_key",
            "account_id",
            "entry",
            "sort_order",
            "updated_at",
        ],
    ),
    (
        "device_pairing_pending",
        &[
            "request_id",
            "device_id",
            "public_key",
            "display_name",
            "platform",
            "device_family",
            "client_id",
            "client_mode",
            "browser_origin",
            "role",
            "roles_json",
            "scopes_json",
            "remote_ip",
            "silent",
            "is_repair",
            "ts",
            "refreshed_at_ms",
        ],
    ),
    (
        "device_pairing_paired",
        &[
            "device_id",
            "public_key",
            "display_name",
            "operator_label",
            "platform",
            "device_family",
            "client_id",
            "client_mode",
            "browser_origin",
            "role",
            "roles_json",
            "scopes_json",
            "approved_scopes_json",
            "remote_ip",
            "tokens_json",
            "approved_via",
            "node_surface_json",
            "pending_node_surface_json",
            "created_at_ms",
            "approved_at_ms",
            "last_seen_at_ms",
            "last_seen_reason",
        ],
    ),
];

/// How a connection was opened, for the logs and for the watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// `mode=ro`: a live WAL database (its `-wal` exists).
    Live,
    /// `immutable=1`: WAL mode and no `-wal` file, so no connection is open
    /// on it; reading it this way creates nothing beside it.
    Quiescent,
}

/// An open, checked database.
pub struct StateDb {
    pub path: PathBuf,
    pub conn: Connection,
    pub schema: Schema,
    pub mode: ReadMode,
}

/// `path` as an SQLite URI (`file:` + the path with `%`, `?` and `#` escaped).
fn uri(path: &Path, query: &str) -> String {
    let mut s = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => s.push_str("%25"),
            '?' => s.push_str("%3f"),
            '#' => s.push_str("%23"),
            c => s.push(c),
        }
    }
    s.push('?');
    s.push_str(query);
    s
}

/// The file must be a regular file, reached without following a link.
fn check_file(path: &Path) -> Result<std::fs::Metadata, DbError> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Err(DbError::Missing(path.to_path_buf())),
        Ok(m) if m.file_type().is_symlink() => Err(DbError::Symlink(path.to_path_buf())),
        Ok(m) if !m.is_file() => Err(DbError::NotRegular(path.to_path_buf())),
        Ok(m) => Ok(m),
    }
}

/// Path of a sibling file (`-wal`, `-shm`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Byte 18 of the header is 2 in WAL mode.
fn header_says_wal(path: &Path) -> Result<bool, DbError> {
    use std::io::Read;
    let mut f = crate::fsutil::open_regular(path)
        .map_err(|e| DbError::Sqlite {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?
        .ok_or_else(|| DbError::Missing(path.to_path_buf()))?;
    let mut head = [0u8; 100];
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => {
                return Err(DbError::Sqlite {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })
            }
        }
    }
    if got == 0 {
        return Err(DbError::NotADatabase {
            path: path.to_path_buf(),
            detail: "empty file".into(),
        });
    }
    if got < 100 || &head[..16] != b"SQLite format 3\0" {
        return Err(DbError::NotADatabase {
            path: path.to_path_buf(),
            detail: "no SQLite header".into(),
        });
    }
    Ok(head[18] == 2 && head[19] == 2)
}

impl StateDb {
    /// Opens the database read-only and checks its schema. Never creates
    /// anything when the database is quiescent; a live one gets the `-shm`
    /// SQLite itself needs only if it is missing.
    pub fn open_read(path: &Path) -> Result<StateDb, DbError> {
        check_file(path)?;
        let wal = header_says_wal(path)?;
        let live = std::fs::symlink_metadata(sibling(path, "-wal")).is_ok();
        let mode = if wal && !live {
            ReadMode::Quiescent
        } else {
            ReadMode::Live
        };
        let query = match mode {
            ReadMode::Quiescent => "mode=ro&immutable=1",
            ReadMode::Live => "mode=ro",
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(uri(path, query), flags).map_err(|e| {
            if mode == ReadMode::Live && shm_unavailable(path) {
                DbError::NoShm {
                    path: path.to_path_buf(),
                }
            } else {
                DbError::from_sqlite(path, e)
            }
        })?;
        let db = StateDb::checked(path, conn, mode)?;
        Ok(db)
    }

    /// Opens the database for the DM write transaction: read-write, never
    /// created, and only on the schema this build knows.
    pub fn open_write(path: &Path) -> Result<StateDb, DbError> {
        check_file(path)?;
        header_says_wal(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(uri(path, ""), flags)
            .map_err(|e| DbError::from_sqlite(path, e))?;
        let db = StateDb::checked(path, conn, ReadMode::Live)?;
        if !db.schema.writable() {
            return Err(DbError::ReadOnlySchema {
                path: path.to_path_buf(),
                found: db.schema.user_version,
                known: KNOWN_USER_VERSION,
            });
        }
        Ok(db)
    }

    fn checked(path: &Path, conn: Connection, mode: ReadMode) -> Result<StateDb, DbError> {
        conn.busy_timeout(busy_timeout())
            .map_err(|e| DbError::from_sqlite(path, e))?;
        let schema = read_schema(path, &conn).map_err(|e| {
            // The open is lazy: a missing -shm SQLite cannot create shows up here.
            if mode == ReadMode::Live && shm_unavailable(path) {
                DbError::NoShm {
                    path: path.to_path_buf(),
                }
            } else {
                e
            }
        })?;
        Ok(StateDb {
            path: path.to_path_buf(),
            conn,
            schema,
            mode,
        })
    }

    /// Runs `f` inside one short read transaction (a consistent snapshot of
    /// several tables), ended at once.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, DbError> {
        let err = |e| DbError::from_sqlite(&self.path, e);
        self.conn.execute_batch("BEGIN DEFERRED").map_err(err)?;
        let r = f(&self.conn);
        // A read transaction is ended whatever happened.
        let end = self.conn.execute_batch("COMMIT");
        let v = r.map_err(err)?;
        end.map_err(err)?;
        Ok(v)
    }

    /// `PRAGMA data_version`: changes exactly when another connection committed.
    pub fn data_version(&self) -> Result<i64, DbError> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| DbError::from_sqlite(&self.path, e))
    }

    /// `PRAGMA quick_check` on the read-only connection: `["ok"]` when sound.
    pub fn quick_check(&self) -> Result<Vec<String>, DbError> {
        let mut st = self
            .conn
            .prepare("PRAGMA quick_check")
            .map_err(|e| DbError::from_sqlite(&self.path, e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| DbError::from_sqlite(&self.path, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| DbError::from_sqlite(&self.path, e))
    }
}

/// A live WAL database whose directory we cannot write and whose `-shm` is missing.
fn shm_unavailable(path: &Path) -> bool {
    let dir = crate::fsutil::parent_of(path);
    let shm = sibling(path, "-shm");
    std::fs::symlink_metadata(&shm).is_err() && !dir_writable(&dir)
}

fn dir_writable(dir: &Path) -> bool {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    match CString::new(dir.as_os_str().as_bytes()) {
        // SAFETY: a valid NUL-terminated path; access(2) only reads it.
        Ok(c) => unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 },
        Err(_) => false,
    }
}

/// `user_version`, `schema_meta` and the pairing tables' columns.
fn read_schema(path: &Path, conn: &Connection) -> Result<Schema, DbError> {
    let err = |e| DbError::from_sqlite(path, e);
    let user_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    let mut missing = Vec::new();
    let mut changed = Vec::new();
    for (table, want) in PAIRING_TABLES {
        let mut st = conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .map_err(err)?;
        let have: Vec<String> = st
            .query_map([table], |r| r.get(0))
            .map_err(err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(err)?;
        if have.is_empty() {
            missing.push(*table);
        } else if have.iter().map(String::as_str).ne(want.iter().copied()) {
            changed.push(*table);
        }
    }
    if !missing.is_empty() {
        return Err(DbError::NotADatabase {
            path: path.to_path_buf(),
            detail: format!(
                "user_version {user_version}, no table {}",
                missing.join(", ")
            ),
        });
    }
    if !changed.is_empty() {
        return Err(DbError::Incompatible {
            path: path.to_path_buf(),
            found: user_version,
            known: KNOWN_USER_VERSION,
            detail: format!("columns of {}", changed.join(", ")),
        });
    }
    let meta: Option<(i64, Option<String>)> = conn
        .query_row(
            "SELECT schema_version, app_version FROM schema_meta WHERE meta_key = 'primary'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok();
    Ok(Schema {
        user_version,
        meta_version: meta.as_ref().map(|m| m.0),
        app_version: meta.and_then(|m| m.1),
    })
}

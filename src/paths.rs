//! Where OpenClaw keeps its state (spec dm-pairing §1), resolved afresh from
//! the environment every time.
//!
//! Order for the state directory: `--state-dir`, `OPENCLAW_STATE_DIR`,
//! `CLAWDBOT_STATE_DIR`, `<home>/.openclaw` if it exists, the first existing of
//! `<home>/.clawdbot`, `.moldbot`, `.moltbot`, else `<home>/.openclaw`.
//! The credentials directory is `OPENCLAW_OAUTH_DIR` when set (OpenClaw honours
//! it whatever the state directory is, and so do we), else `<state>/credentials`.

use std::path::{Path, PathBuf};

/// Every location clawpair reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub state_dir: PathBuf,
    /// How the state directory was chosen, for `clawpair paths`.
    pub state_source: &'static str,
    pub credentials_dir: PathBuf,
    pub credentials_source: &'static str,
    pub devices_dir: PathBuf,
    pub identity_dir: PathBuf,
    pub config_file: PathBuf,
}

impl Paths {
    /// Resolve from the process environment; `explicit` is `--state-dir`.
    pub fn resolve(explicit: Option<&Path>) -> Paths {
        Self::resolve_with(explicit, &|k| std::env::var(k).ok())
    }

    /// Resolve with an injectable environment (tests).
    pub fn resolve_with(explicit: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Paths {
        let home = home_dir(env);
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let nonblank = |k: &str| {
            env(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let (state_dir, state_source) = if let Some(p) = explicit {
            (
                absolutize(&expand_tilde(&p.to_string_lossy(), &home), &cwd),
                "--state-dir",
            )
        } else if let Some(v) = nonblank("OPENCLAW_STATE_DIR") {
            (
                absolutize(&expand_tilde(&v, &home), &cwd),
                "OPENCLAW_STATE_DIR",
            )
        } else if let Some(v) = nonblank("CLAWDBOT_STATE_DIR") {
            (
                absolutize(&expand_tilde(&v, &home), &cwd),
                "CLAWDBOT_STATE_DIR",
            )
        } else {
            let primary = home.join(".openclaw");
            if primary.exists() {
                (primary, "default (~/.openclaw)")
            } else if let Some(legacy) = [".clawdbot", ".moldbot", ".moltbot"]
                .iter()
                .map(|n| home.join(n))
                .find(|p| p.exists())
            {
                (legacy, "legacy home directory")
            } else {
                (primary, "default (~/.openclaw)")
            }
        };
        let (credentials_dir, credentials_source) = match nonblank("OPENCLAW_OAUTH_DIR") {
            Some(v) => (
                absolutize(&expand_tilde(&v, &home), &cwd),
                "OPENCLAW_OAUTH_DIR",
            ),
            None => (state_dir.join("credentials"), "<state>/credentials"),
        };
        Paths {
            devices_dir: state_dir.join("devices"),
            identity_dir: state_dir.join("identity"),
            config_file: state_dir.join("openclaw.json"),
            state_dir,
            state_source,
            credentials_dir,
            credentials_source,
        }
    }

    /// True when the state dir was chosen explicitly (`--state-dir`,
    /// `$OPENCLAW_STATE_DIR`, `$CLAWDBOT_STATE_DIR`) rather than by default.
    pub fn explicit(&self) -> bool {
        EXPLICIT_SOURCES.contains(&self.state_source)
    }

    /// Why this state dir cannot be used, if it cannot: an explicitly chosen
    /// one that does not exist (a mistyped path, which no command creates:
    /// an approval written there would never reach OpenClaw) or that is not a
    /// directory. The default `~/.openclaw` may be missing: reads then find
    /// nothing and the first write creates it.
    pub fn unusable_state_dir(&self) -> Option<String> {
        let dir = self.state_dir.display();
        let source = self.state_source;
        match std::fs::metadata(&self.state_dir) {
            Ok(m) if m.is_dir() => None,
            Ok(_) => Some(format!(
                "state dir {dir} (from {source}) is not a directory"
            )),
            Err(_) if !self.explicit() => None,
            Err(_) => {
                let default = Paths::resolve_with(None, &|k| {
                    if STATE_DIR_VARS.contains(&k) {
                        None
                    } else {
                        std::env::var(k).ok()
                    }
                });
                Some(format!(
                    "state dir {dir} (from {source}) does not exist; OpenClaw keeps its state in \
                     ~/.openclaw (here {}) unless $OPENCLAW_STATE_DIR names another directory; \
                     pass --state-dir or set OPENCLAW_STATE_DIR to an existing directory \
                     (create it first to start a new one)",
                    default.state_dir.display()
                ))
            }
        }
    }

    pub fn pending_devices(&self) -> PathBuf {
        self.devices_dir.join("pending.json")
    }

    pub fn paired_devices(&self) -> PathBuf {
        self.devices_dir.join("paired.json")
    }
}

/// The environment variables that choose the state dir explicitly.
const STATE_DIR_VARS: [&str; 2] = ["OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR"];
/// The `state_source` of an explicitly chosen state dir.
const EXPLICIT_SOURCES: [&str; 3] = ["--state-dir", "OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR"];

fn os_home(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let nonblank = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    nonblank("HOME")
        .or_else(|| nonblank("USERPROFILE"))
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// clawpair's own config dir: `$XDG_CONFIG_HOME/clawpair` (absolute), else
/// `$HOME/.config/clawpair` (its operator identity, gateway pins, and the
/// decision history of state it keeps no file in).
pub fn clawpair_config_dir() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/"))
                .join(".config")
        })
        .join("clawpair")
}

/// OpenClaw 2026.7+'s database of a state dir (it may not exist).
pub fn sqlite_db(state_dir: &Path) -> PathBuf {
    state_dir.join("state").join("openclaw.sqlite")
}

/// Whether the state dir is of the SQLite generation (its database is
/// there, even as a link: then it is refused when opened, never ignored).
pub fn is_sqlite_state(state_dir: &Path) -> bool {
    std::fs::symlink_metadata(sqlite_db(state_dir)).is_ok()
}

/// `OPENCLAW_HOME` (with `~` expanded against the OS home) or the OS home.
pub fn home_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let base = os_home(env);
    match env("OPENCLAW_HOME")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        Some(v) => expand_tilde(&v, &base),
        None => base,
    }
}

fn expand_tilde(v: &str, home: &Path) -> PathBuf {
    if v == "~" {
        home.to_path_buf()
    } else if let Some(rest) = v.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(v)
    }
}

fn absolutize(p: &Path, cwd: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn precedence() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let e = env_of(&[("HOME", h)]);
        let p = Paths::resolve_with(None, &e);
        assert_eq!(p.state_dir, home.path().join(".openclaw"));
        assert_eq!(p.credentials_dir, home.path().join(".openclaw/credentials"));

        std::fs::create_dir(home.path().join(".moltbot")).unwrap();
        assert_eq!(
            Paths::resolve_with(None, &e).state_dir,
            home.path().join(".moltbot")
        );
        std::fs::create_dir(home.path().join(".clawdbot")).unwrap();
        assert_eq!(
            Paths::resolve_with(None, &e).state_dir,
            home.path().join(".clawdbot")
        );
        std::fs::create_dir(home.path().join(".openclaw")).unwrap();
        assert_eq!(
            Paths::resolve_with(None, &e).state_dir,
            home.path().join(".openclaw")
        );

        let e = env_of(&[
            ("HOME", h),
            ("CLAWDBOT_STATE_DIR", "~/legacy"),
            ("OPENCLAW_OAUTH_DIR", "/oauth"),
        ]);
        let p = Paths::resolve_with(None, &e);
        assert_eq!(p.state_dir, home.path().join("legacy"));
        assert_eq!(p.credentials_dir, PathBuf::from("/oauth"));

        let e = env_of(&[
            ("HOME", h),
            ("OPENCLAW_STATE_DIR", " /s "),
            ("CLAWDBOT_STATE_DIR", "/l"),
        ]);
        assert_eq!(Paths::resolve_with(None, &e).state_dir, PathBuf::from("/s"));
        assert_eq!(
            Paths::resolve_with(Some(Path::new("/x")), &e).state_dir,
            PathBuf::from("/x")
        );
        assert_eq!(
            Paths::resolve_with(Some(Path::new("/x")), &e).devices_dir,
            PathBuf::from("/x/devices")
        );

        let missing = home.path().join("typo");
        let p = Paths::resolve_with(Some(&missing), &e);
        assert!(p.explicit());
        let msg = p.unusable_state_dir().unwrap();
        assert!(
            msg.contains("typo (from --state-dir) does not exist"),
            "{msg}"
        );
        assert!(msg.contains("~/.openclaw"), "{msg}");
        let p = Paths::resolve_with(
            None,
            &env_of(&[("OPENCLAW_STATE_DIR", missing.to_str().unwrap())]),
        );
        assert!(p.explicit() && p.unusable_state_dir().is_some());
        let p = Paths::resolve_with(None, &env_of(&[("HOME", missing.to_str().unwrap())]));
        assert!(!p.explicit());
        assert_eq!(
            p.unusable_state_dir(),
            None,
            "a missing default is just empty"
        );
        std::fs::write(&missing, "").unwrap();
        let p = Paths::resolve_with(Some(&missing), &e);
        assert!(p
            .unusable_state_dir()
            .unwrap()
            .contains("is not a directory"));

        let e = env_of(&[("HOME", h), ("OPENCLAW_HOME", "~/oh")]);
        assert_eq!(
            Paths::resolve_with(None, &e).state_dir,
            home.path().join("oh/.openclaw")
        );
    }
}

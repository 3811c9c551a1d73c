//! The shared gateway token: `--gateway-token`, else `$OPENCLAW_GATEWAY_TOKEN`,
//! else `gateway.auth.token` in `<state>/openclaw.json` (JSON5), else a token
//! clawpair generates once and keeps (0600) in the state directory: when a
//! gateway starts, or when `clawpair gateway token --generate` asks for it.

use std::path::PathBuf;

use crate::error::Result;
use crate::fsutil;
use crate::openclaw_config::OpenClawConfig;
use crate::paths::Paths;

/// Environment variable OpenClaw reads the shared token from.
pub const TOKEN_ENV: &str = "OPENCLAW_GATEWAY_TOKEN";
/// File name of the generated token inside the state directory.
pub const GENERATED_TOKEN_FILE: &str = "clawpair-gateway-token";

/// Where the token came from (never the token itself; for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Flag,
    Env,
    Config(PathBuf),
    Generated(PathBuf),
}

/// Resolves the shared token; see the module docs for the order.
pub fn resolve_token(flag: Option<&str>, paths: &Paths) -> Result<String> {
    resolve_token_with_source(flag, paths, &|k| std::env::var(k).ok()).map(|(t, _)| t)
}

/// [`resolve_token`] with an injectable environment, also naming the source.
/// Generates the token file when there is no token yet.
pub fn resolve_token_with_source(
    flag: Option<&str>,
    paths: &Paths,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, TokenSource)> {
    if let Some(found) = find_token_with_source(flag, paths, env)? {
        return Ok(found);
    }
    let file = paths.state_dir.join(GENERATED_TOKEN_FILE);
    let t = super::crypto::new_token();
    fsutil::write_atomic(&file, format!("{t}\n").as_bytes())?;
    Ok((t, TokenSource::Generated(file)))
}

/// The token in the same order as [`resolve_token_with_source`], as a pure
/// read: `None` when none is configured and none was generated yet.
pub fn find_token_with_source(
    flag: Option<&str>,
    paths: &Paths,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, TokenSource)>> {
    let nonblank = |s: Option<String>| s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if let Some(t) = nonblank(flag.map(str::to_string)) {
        return Ok(Some((t, TokenSource::Flag)));
    }
    if let Some(t) = nonblank(env(TOKEN_ENV)) {
        return Ok(Some((t, TokenSource::Env)));
    }
    if let Some(t) = config_token(paths)? {
        return Ok(Some((t, TokenSource::Config(paths.config_file.clone()))));
    }
    let file = paths.state_dir.join(GENERATED_TOKEN_FILE);
    if let Some(bytes) = fsutil::read_optional(&file)? {
        let t = String::from_utf8_lossy(&bytes).trim().to_string();
        if !t.is_empty() {
            return Ok(Some((t, TokenSource::Generated(file))));
        }
    }
    Ok(None)
}

/// `gateway.auth.token` from `openclaw.json`, if set to a non-empty string.
/// An unreadable config is an error: starting with a different token than
/// the one the owner configured would lock every client out.
pub fn config_token(paths: &Paths) -> Result<Option<String>> {
    Ok(OpenClawConfig::try_load(&paths.config_file)?.get_str("gateway.auth.token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(dir.path()));
        let none = |_: &str| None;
        let env = |k: &str| (k == TOKEN_ENV).then(|| "from-env".to_string());
        assert_eq!(find_token_with_source(None, &paths, &none).unwrap(), None);
        assert!(
            !dir.path().join(GENERATED_TOKEN_FILE).exists(),
            "a look creates nothing"
        );
        assert_eq!(
            resolve_token_with_source(Some("flag"), &paths, &env)
                .unwrap()
                .0,
            "flag"
        );
        assert_eq!(
            resolve_token_with_source(None, &paths, &env).unwrap().0,
            "from-env"
        );
        let (g, src) = resolve_token_with_source(None, &paths, &none).unwrap();
        assert!(matches!(src, TokenSource::Generated(_)));
        assert_eq!(g.len(), 43);
        let f = dir.path().join(GENERATED_TOKEN_FILE);
        assert_eq!(fsutil::mode_of(&f), Some(0o600));
        assert_eq!(resolve_token_with_source(None, &paths, &none).unwrap().0, g);
        assert_eq!(
            find_token_with_source(None, &paths, &none)
                .unwrap()
                .unwrap()
                .0,
            g
        );
        std::fs::write(
            &paths.config_file,
            "// json5\n{gateway: {auth: {mode: 'token', token: 'cfg-token',},},}",
        )
        .unwrap();
        assert_eq!(
            resolve_token_with_source(None, &paths, &none).unwrap().0,
            "cfg-token"
        );
    }
}

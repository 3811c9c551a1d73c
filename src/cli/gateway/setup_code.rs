//! `clawpair setup-code`: a redeemable setup code from this state dir's
//! listening gateway.

use super::*;

/// `clawpair setup-code …`.
#[derive(Debug, Args)]
pub struct SetupCodeArgs {
    /// Gateway URL to put in the code (default: the listening gateway's own
    /// address: its LAN address when it binds to one, else loopback).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Lifetime of the one-time token (e.g. 10m, 90s, 1h).
    #[arg(long, default_value = setup::DEFAULT_TTL_ARG)]
    pub ttl: String,
    /// Print JSON: {setupCode, gatewayUrl, auth, urlSource, expiresAtMs, …}.
    #[arg(long)]
    pub json: bool,
    /// Issue a 2026.2.26 code ({url, token}) for older nodes instead of a
    /// 2026.9 one ({url, bootstrapToken, expiresAtMs}).
    #[arg(long)]
    pub legacy: bool,
    /// Print the code as an `oc-pair://` URL.
    #[arg(long)]
    pub oc_pair: bool,
    /// The port the gateway must be listening on (checked; default: whatever
    /// the state dir's gateway listens on).
    #[arg(long)]
    pub port: Option<u16>,
    /// Ignored: the address comes from the listening gateway.
    #[arg(long, value_name = "ADDR", hide = true)]
    pub bind: Option<String>,
}

/// A setup code that can be redeemed: only while this state dir's gateway
/// listens, with its own address, port and certificate.
pub fn run_setup_code(ctx: &Ctx, a: SetupCodeArgs) -> CliResult {
    let ttl = crate::cli::validate::setup_ttl(&a.ttl)?;
    if let Some(u) = &a.url {
        crate::cli::validate::gateway_url(u)?;
    }
    if a.legacy && a.oc_pair {
        return Err(Failure::usage(
            "--oc-pair is a 2026.9 form; --legacy codes have none",
        ));
    }
    let Some(gw) = advert::read_live(&ctx.paths) else {
        return Err(Failure::error(format!(
            "no clawpair gateway is listening for {} (start `clawpair gateway`, or the console \
             without --no-gateway), so a setup code could not be redeemed; for another gateway \
             (a real OpenClaw), issue the code there (`openclaw qr`)",
            ctx.paths.state_dir.display()
        )));
    };
    if let Some(p) = a.port.filter(|p| *p != gw.port) {
        return Err(Failure::error(format!(
            "this state dir's gateway listens on port {}, not {p}",
            gw.port
        )));
    }
    let tls = gw.tls_fingerprint.is_some();
    let chosen = setup::choose_url(a.url.as_deref(), &gw.bind, gw.port, tls, !a.legacy)
        .map_err(Failure::usage)?;
    if let Some(w) = &chosen.warning {
        eprintln!("{w}");
    }
    let fingerprint = gw
        .tls_fingerprint
        .clone()
        .filter(|_| chosen.own_address && chosen.url.starts_with("wss://"));
    let now = clock::now_ms();
    let t = setup::create(&ctx.paths, ttl, now)?;
    let code = if a.legacy {
        setup::encode(&chosen.url, &t.token)
    } else {
        setup::encode_v4(
            &chosen.url,
            &t.token,
            t.expires_at_ms,
            fingerprint.as_deref(),
        )
    };
    let shown = if a.oc_pair {
        format!("{}{code}", setup::OC_PAIR_PREFIX)
    } else {
        code.clone()
    };
    crate::cli::record(
        ctx,
        crate::audit::Action::SetupCodeIssued,
        crate::audit::Subject::SetupCode {
            url: Some(chosen.url.clone()),
            expires: Some(clock::format_iso_ms(t.expires_at_ms)),
            device_id: None,
        },
    );
    if a.json {
        let mut v = serde_json::Map::new();
        v.insert("setupCode".into(), json!(shown));
        v.insert("gatewayUrl".into(), json!(chosen.url));
        v.insert("auth".into(), json!("token"));
        v.insert("urlSource".into(), json!(chosen.source));
        v.insert("expiresAtMs".into(), json!(t.expires_at_ms));
        v.insert(
            "format".into(),
            json!(if a.legacy { "2026.2.26" } else { "2026.9" }),
        );
        if let Some(fp) = &fingerprint {
            v.insert("tlsFingerprint".into(), json!(fp));
        }
        print!(
            "{}",
            crate::jsonfmt::to_pretty_nl(&serde_json::Value::Object(v))
        );
        return Ok(());
    }
    println!("Setup code: {shown}");
    println!("Gateway: {}", chosen.url);
    if let Some(fp) = &fingerprint {
        println!("TLS certificate SHA-256: {fp}");
    }
    println!(
        "Auth: one-time token, bound to the first device that uses it, expires {}",
        clock::format_iso_ms(t.expires_at_ms)
    );
    println!("Source: {}", chosen.source);
    println!();
    println!("On the new machine:");
    println!("  clawpair join {shown}");
    if !a.legacy {
        println!("  or: openclaw node run --pair {shown}");
    }
    println!("Approve after it connects with:");
    println!("  clawpair devices list");
    println!("  clawpair devices approve <requestId>");
    Ok(())
}

pub(super) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

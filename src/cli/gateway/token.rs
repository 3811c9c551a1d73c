//! `clawpair gateway token [--generate]`.

use super::*;

/// `clawpair gateway token [--generate]`: the token a gateway started with
/// the same flags would use. Without `--generate` it only reads: when there is
/// none yet it says how one is made instead of creating a file.
pub(super) fn print_token(args: &GatewayArgs, ctx: &Ctx, generate: bool) -> CliResult {
    let env = |k: &str| std::env::var(k).ok();
    let flag = args.gateway_token.as_deref();
    let token = if generate {
        resolve_token_with_source(flag, &ctx.paths, &env)?.0
    } else {
        match find_token_with_source(flag, &ctx.paths, &env)? {
            Some((t, _)) => t,
            None => {
                return Err(Failure::error(format!(
                    "no gateway token yet: none in --gateway-token, ${} or gateway.auth.token in \
                     {}, and {} does not exist; `clawpair gateway token --generate` creates one \
                     (so does the first start of `clawpair gateway` or the console)",
                    crate::gateway::token::TOKEN_ENV,
                    ctx.paths.config_file.display(),
                    ctx.paths
                        .state_dir
                        .join(crate::gateway::token::GENERATED_TOKEN_FILE)
                        .display()
                )))
            }
        }
    };
    println!("{token}");
    Ok(())
}

//! `clawpair completions bash|zsh|fish` and `clawpair man`, generated from
//! the same clap definitions the parser uses (clap_complete, clap_mangen).

use clap::CommandFactory;

use super::{CliResult, Failure};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let mut cmd = super::Cli::command();
    let mut out = Vec::new();
    let sh = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(sh, &mut cmd, "clawpair", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub fn print(shell: Shell) -> CliResult {
    super::write_stdout(&script(shell))
}

/// The man page, roff.
pub fn page() -> Result<String, Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(super::Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::error(format!("cannot render the man page: {e}")))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

pub fn man() -> CliResult {
    super::write_stdout(&page()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_and_the_man_page_render() {
        for sh in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let s = script(sh);
            assert!(s.contains("clawpair"), "{sh:?}");
            assert!(s.contains("history"), "{sh:?} knows the subcommands");
        }
        let man = page().unwrap();
        assert!(man.starts_with(".ie") || man.contains(".TH"), "{man}");
        assert!(man.contains("clawpair"));
    }
}

//! `kiln config`: show the settings in effect.

use std::io::Write;

use clap::Subcommand;
use kiln_session::{Config, Support};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the settings that are set (`name = value`), or the value of one (its default
    /// when unset)
    Show {
        /// Print only this setting's value
        name: Option<String>,
        /// Print every setting Kiln knows, with its default when unset, and those Kiln only
        /// accepts marked `# accepted, no effect`
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
}

pub fn run(cmd: ConfigCommand, config: &Config) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    match cmd {
        ConfigCommand::Show {
            name: Some(name), ..
        } => match config.text(&name) {
            Some(value) => writeln!(out, "{value}")?,
            None => anyhow::bail!("setting '{name}' is not set"),
        },
        ConfigCommand::Show { name: None, all } => {
            let settings = config.settings();
            // (name, value, whether Kiln only accepts it)
            let mut lines: Vec<(&str, &str, bool)> = Vec::new();
            if all {
                for s in kiln_session::settings::SETTINGS {
                    let value = settings.get(s.name).unwrap_or(s.default);
                    lines.push((s.name, value, s.support == Support::Accepted));
                }
            }
            // Names outside the table are kept as they were set.
            for (name, value) in settings.iter() {
                if !all || kiln_session::settings::lookup(name).is_none() {
                    lines.push((name, value, false));
                }
            }
            lines.sort_by_key(|line| line.0);
            for (name, value, accepted) in lines {
                match accepted {
                    true => writeln!(out, "{name} = {value} # accepted, no effect")?,
                    false => writeln!(out, "{name} = {value}")?,
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

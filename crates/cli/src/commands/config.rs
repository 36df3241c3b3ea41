//! `kiln config`: show the settings in effect.

use std::io::Write;

use clap::Subcommand;
use kiln_formats::config::Settings;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the settings in effect (`name = value`), or the value of one
    Show {
        /// Print only this setting's value
        name: Option<String>,
    },
}

pub fn run(cmd: ConfigCommand, settings: &Settings) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    match cmd {
        ConfigCommand::Show { name: Some(name) } => match settings.get(&name) {
            Some(value) => writeln!(out, "{value}")?,
            None => anyhow::bail!("setting '{name}' is not set"),
        },
        ConfigCommand::Show { name: None } => {
            for (name, value) in settings.iter() {
                writeln!(out, "{name} = {value}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

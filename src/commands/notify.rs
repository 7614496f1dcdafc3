//! `usersync notify --test`: posts a sample notification to the config's `[notify]` webhook, so
//! that whoever sets up the cron job sees the message arrive (or why not) before a night needs
//! it.

use crate::cli::{GlobalArgs, NotifyArgs};
use crate::config::{self, webhook_origin, ConfigError};
use crate::exit::Exit;
use crate::signals::{self, notify};

/// Runs `notify`.
pub fn run(global: &GlobalArgs, args: &NotifyArgs) -> anyhow::Result<Exit> {
    let config = config::load(&global.config)?;
    let target = config.target(args.target.target.as_deref())?;
    let notify = config.notify.as_ref().ok_or_else(|| {
        ConfigError::invalid(
            &config.path,
            "notify",
            "the config has no [notify] table: add one with `url` or `url_env`",
        )
    })?;
    let url = notify.url()?;
    let events: Vec<_> = notify.events.iter().copied().collect();
    let message = notify::sample(&target.name, target.provider.name(), &events);
    let origin = webhook_origin(&url);
    let status = signals::block_on(notify::send(&url, &message, notify.timeout))??;
    if !global.quiet {
        println!("sent a test notification to {origin}: it answered {status}");
    }
    Ok(Exit::Ok)
}

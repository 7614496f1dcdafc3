//! `usersync mock-server`: serves the built-in mock of one provider until Ctrl-C, for operators
//! rehearsing a config and for demos. The server itself is `crate::mock`, its flags
//! `crate::cli::MockServerArgs`; this file only turns the flags into [`MockOptions`].

use std::time::Duration;

use anyhow::Context as _;
use secrecy::ExposeSecret;

pub use crate::cli::{CredentialArg, MockServerArgs};
use crate::mock::{self, FaultConfig, MockOptions};
use crate::provider::{self, Credentials};

impl MockServerArgs {
    /// The server options these flags ask for.
    pub fn options(&self) -> anyhow::Result<MockOptions> {
        let mut credentials = Credentials::new();
        for c in &self.credentials {
            credentials.insert(c.name.clone(), c.value.expose_secret().to_string());
        }
        let faults = FaultConfig {
            seed: self.seed,
            fail_rate: self.fail_rate,
            throttle_rate: self.throttle_rate,
            drop_rate: self.drop_rate,
            hang_rate: self.hang_rate,
            rate_limit: self.rate_limit,
            rate_limit_burst: None,
            rate_limit_headers: self.rate_limit_headers,
            retry_after_secs: self.retry_after,
            latency: self.latency_ms,
            capacity: self.capacity,
            include_auth: self.faults_on_auth,
            fail_users: self.fail_users.clone(),
            reject_users: self.reject_users.clone(),
        };
        let opts = MockOptions {
            listen: Some(self.listen),
            credentials,
            signing: self.signing,
            token_ttl: Duration::from_secs(self.token_ttl),
            faults,
            null_clears: self.null_clears,
            meetinglawyers_patch_without_status: self.meetinglawyers_patch_without_status,
            faveo_required: self
                .faveo_required
                .iter()
                .map(|name| name.trim().to_string())
                .filter(|name| !name.is_empty())
                .collect(),
            abitmedia_status_only_update: self.abitmedia_status_only_update,
            scim_replace_adds: self.scim_replace_adds,
            scim_bulk_max_operations: self.scim_bulk_max_operations,
            scim_concurrent_edit: self.scim_concurrent_edit,
        };
        opts.check()
            .map_err(|message| anyhow::anyhow!("{message}"))?;
        Ok(opts)
    }
}

/// Serves the mock until Ctrl-C, printing the URL it listens on.
pub async fn run(args: MockServerArgs) -> anyhow::Result<()> {
    let provider = provider::by_name(&args.provider).with_context(|| {
        format!(
            "--provider: unknown provider {:?} (known: {})",
            args.provider,
            provider::names().join(", ")
        )
    })?;
    let opts = args.options()?;
    let given: Vec<String> = opts.credentials.names().map(str::to_string).collect();
    let handle = mock::start(provider, opts).await?;
    println!(
        "usersync mock-server: {} listening on {}",
        provider.name(),
        handle.url
    );
    if given.is_empty() {
        println!("accepting the documented demo credentials");
    } else {
        println!(
            "accepting the given credentials ({}), demo defaults for the rest",
            given.join(", ")
        );
    }
    println!(
        "users: {}__mock/users  stats: {}__mock/stats",
        handle.url, handle.url
    );
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    handle.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::Latency;
    use crate::provider::gnoss::oauth::SigningStyle;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: MockServerArgs,
    }

    #[test]
    fn flags_become_options() {
        let cli = Cli::try_parse_from([
            "mock",
            "--provider",
            "gnoss",
            "--listen",
            "127.0.0.1:0",
            "--credential",
            "consumer_key=ck",
            "--credential",
            "consumer_secret=s3cr3t=x",
            "--seed",
            "7",
            "--fail-rate",
            "0.1",
            "--latency-ms",
            "5..10",
            "--signing",
            "rfc5849",
        ])
        .unwrap();
        let opts = cli.args.options().unwrap();
        assert_eq!(opts.signing, SigningStyle::Rfc5849);
        assert_eq!(opts.faults.seed, Some(7));
        assert_eq!(opts.faults.fail_rate, 0.1);
        assert_eq!(
            opts.faults.latency,
            Latency::Range(Duration::from_millis(5), Duration::from_millis(10))
        );
        assert_eq!(
            opts.credentials
                .get("consumer_secret")
                .unwrap()
                .expose_secret(),
            "s3cr3t=x"
        );
        assert!(!format!("{:?}", cli.args).contains("s3cr3t"));
        assert!(!opts.null_clears && !opts.abitmedia_status_only_update);
        assert!(!opts.scim_replace_adds);
        assert_eq!(opts.faveo_required, ["email", "user_name"]);
    }

    #[test]
    fn lenient_readings_are_flags() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["mock", "--provider", "faveo"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).unwrap().args.options()
        };
        let opts = parse(&[
            "--null-clears",
            "--meetinglawyers-patch-without-status",
            "--abitmedia-status-only-update",
            "--scim-replace-adds",
            "--faveo-required",
            "email,mobile",
        ])
        .unwrap();
        assert!(opts.null_clears);
        assert!(opts.meetinglawyers_patch_without_status);
        assert!(opts.abitmedia_status_only_update);
        assert!(opts.scim_replace_adds);
        assert_eq!(opts.faveo_required, ["email", "mobile"]);
        let none = parse(&["--faveo-required", ""]).unwrap();
        assert!(none.faveo_required.is_empty());
        let error = parse(&["--faveo-required", "email,password"]).unwrap_err();
        assert!(error.to_string().contains("\"password\""), "{error}");
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(
            Cli::try_parse_from(["mock", "--provider", "x", "--credential", "secret"]).is_err()
        );
        let cli = Cli::try_parse_from([
            "mock",
            "--provider",
            "meetinglawyers",
            "--fail-rate",
            "0.8",
            "--drop-rate",
            "0.5",
        ])
        .unwrap();
        assert!(cli.args.options().is_err());
    }
}

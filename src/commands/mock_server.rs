//! `usersync mock-server`: serves the built-in mock of one provider until Ctrl-C, for operators
//! rehearsing a config and for demos. The server itself is `crate::mock`; this file only turns
//! flags into [`MockOptions`].

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};

use crate::mock::{self, FaultConfig, Latency, MockOptions};
use crate::provider::gnoss::oauth::SigningStyle;
use crate::provider::{self, Credentials};

/// One `--credential NAME=VALUE`. The value is a secret: `Debug` never shows it.
#[derive(Clone)]
pub struct CredentialArg {
    pub name: String,
    pub value: SecretString,
}

impl fmt::Debug for CredentialArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=[redacted]", self.name)
    }
}

impl FromStr for CredentialArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => Ok(CredentialArg {
                name: name.trim().to_string(),
                value: SecretString::from(value.to_string()),
            }),
            // Never echo the argument: it may be a secret given without its name.
            _ => Err("expected NAME=VALUE (e.g. api_key=...)".to_string()),
        }
    }
}

/// The flags of `usersync mock-server`.
#[derive(Debug, Clone, clap::Args)]
pub struct MockServerArgs {
    /// The provider to mock: meetinglawyers, gnoss, faveo or abitmedia.
    #[arg(long, value_name = "NAME")]
    pub provider: String,

    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// A credential the mock accepts, named as in a target's `credentials` table
    /// (repeatable). Credentials not given take the provider's documented demo defaults.
    #[arg(long = "credential", value_name = "NAME=VALUE")]
    pub credentials: Vec<CredentialArg>,

    /// Seeds every random fault, for a reproducible run.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Fraction of requests answered 500 or 503.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub fail_rate: f64,

    /// Fraction of requests answered 429 with Retry-After.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub throttle_rate: f64,

    /// At most N requests per second; past it, 429 with Retry-After.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<f64>,

    /// Send RateLimit-Limit / -Remaining / -Reset / -Policy headers (with --rate-limit).
    #[arg(long)]
    pub rate_limit_headers: bool,

    /// Fraction of requests whose change is applied, then the connection dropped unanswered.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub drop_rate: f64,

    /// Fraction of requests accepted and never answered.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub hang_rate: f64,

    /// Latency of every request in milliseconds: N, or MIN..MAX (random per request).
    #[arg(long, value_name = "MS", default_value = "0")]
    pub latency_ms: Latency,

    /// At most N requests served at once; the others wait (latency grows under load).
    #[arg(long, value_name = "N")]
    pub capacity: Option<usize>,

    /// The Retry-After seconds of an injected 429.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub retry_after: u64,

    /// Whether login and token routes get faults too.
    #[arg(long)]
    pub faults_on_auth: bool,

    /// Requests about this user (its key or remote id in the path, query or JSON body)
    /// always answer 503 (repeatable).
    #[arg(long = "fail-user", value_name = "KEY")]
    pub fail_users: Vec<String>,

    /// Requests about this user are refused as invalid data (400 with a field error), store
    /// untouched: a row the provider rejects, to rehearse `retry --include-rejected`
    /// (repeatable).
    #[arg(long = "reject-user", value_name = "KEY")]
    pub reject_users: Vec<String>,

    /// Lifetime of Faveo and Abitmedia tokens, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub token_ttl: u64,

    /// How GNOSS OAuth signatures are checked: gnoss or rfc5849.
    #[arg(long, value_name = "STYLE", default_value = "gnoss")]
    pub signing: SigningStyle,

    /// Accept JSON null as "clear this field" where the provider's page shows no null
    /// (by default such a null is refused).
    #[arg(long)]
    pub null_clears: bool,

    /// MeetingLawyers: accept a PATCH without status (its update table marks status required).
    #[arg(long)]
    pub meetinglawyers_patch_without_status: bool,

    /// Faveo: the "configurable" fields (user_name, phone_number, email, mobile) a create or
    /// update must carry, comma-separated; an empty value for none.
    #[arg(
        long,
        value_name = "FIELDS",
        value_delimiter = ',',
        default_value = "email,user_name"
    )]
    pub faveo_required: Vec<String>,

    /// Abitmedia: accept an update of status alone (by default an update must carry every
    /// required field but the password).
    #[arg(long)]
    pub abitmedia_status_only_update: bool,
}

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
            "--faveo-required",
            "email,mobile",
        ])
        .unwrap();
        assert!(opts.null_clears);
        assert!(opts.meetinglawyers_patch_without_status);
        assert!(opts.abitmedia_status_only_update);
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
            "x",
            "--fail-rate",
            "0.8",
            "--drop-rate",
            "0.5",
        ])
        .unwrap();
        assert!(cli.args.options().is_err());
    }
}

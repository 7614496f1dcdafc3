//! The flags of `usersync mock-server`: clap types only, turned into the server's options by
//! `crate::commands::mock_server`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use secrecy::SecretString;

use crate::mock::Latency;
use crate::provider::gnoss::oauth::SigningStyle;

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
    /// The provider to mock.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(crate::provider::names()))]
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

    /// SCIM: a PATCH replace whose valuePath filter matches no value adds the value (by
    /// default refused with 400 noTarget, as RFC 7644 section 3.5.2.3 says).
    #[arg(long)]
    pub scim_replace_adds: bool,

    /// SCIM: the most operations one bulk request may hold (its maxOperations); 0 to say bulk
    /// is not supported.
    #[arg(long, value_name = "N", default_value_t = crate::mock::SCIM_BULK_MAX_OPERATIONS)]
    pub scim_bulk_max_operations: usize,

    /// SCIM: another client changes each user once, just before the first write conditional on
    /// the user's version (If-Match), which is then answered 412.
    #[arg(long)]
    pub scim_concurrent_edit: bool,
}

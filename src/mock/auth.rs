//! What the mock remembers to check credentials the way the providers do: the bearer tokens it
//! issued (Faveo, Abitmedia) with their expiry, and the OAuth nonces it has seen (GNOSS).
//!
//! Tokens are random and unrelated to the credentials; they are never logged.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use rand::distributions::Alphanumeric;
use rand::Rng;

/// GNOSS rejects a timestamp older than this, and a nonce seen within it.
pub const OAUTH_WINDOW: Duration = Duration::from_secs(600);

/// A fresh access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access: String,
    pub refresh: String,
    pub expires_in: Duration,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Missing,
    Unknown,
    Expired,
}

fn random_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

/// The bearer tokens one mock server issued.
#[derive(Default)]
pub struct TokenBook {
    access: HashMap<String, Instant>,
    refresh: HashSet<String>,
}

impl TokenBook {
    /// Issues an access token valid for `ttl`, and a refresh token.
    pub fn issue(&mut self, ttl: Duration) -> IssuedTokens {
        let access = random_token();
        let refresh = random_token();
        self.access.insert(access.clone(), Instant::now() + ttl);
        self.refresh.insert(refresh.clone());
        IssuedTokens {
            access,
            refresh,
            expires_in: ttl,
        }
    }

    /// Trades a refresh token for new tokens (the old refresh token stops working).
    pub fn refresh(&mut self, refresh: &str, ttl: Duration) -> Option<IssuedTokens> {
        if self.refresh.remove(refresh) {
            Some(self.issue(ttl))
        } else {
            None
        }
    }

    /// Checks an access token.
    pub fn check(&self, token: Option<&str>) -> Result<(), TokenProblem> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(TokenProblem::Missing)?;
        match self.access.get(token) {
            None => Err(TokenProblem::Unknown),
            Some(expiry) if Instant::now() >= *expiry => Err(TokenProblem::Expired),
            Some(_) => Ok(()),
        }
    }

    /// Every access token issued so far and every refresh token not yet used: secrets a test
    /// searches usersync's output and ledger for.
    pub fn issued(&self) -> Vec<String> {
        self.access.keys().chain(&self.refresh).cloned().collect()
    }

    /// Makes every access token issued so far expire now (refresh tokens keep working).
    pub fn expire_all(&mut self) {
        let now = Instant::now();
        for expiry in self.access.values_mut() {
            *expiry = now;
        }
    }
}

/// Why an OAuth request was refused for freshness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceProblem {
    /// The timestamp is more than the window away from now.
    Stale,
    /// The nonce was seen within the window.
    Replayed,
}

/// The OAuth nonces seen in the last [`OAUTH_WINDOW`].
#[derive(Default)]
pub struct NonceBook {
    seen: HashSet<String>,
    order: VecDeque<(u64, String)>,
}

impl NonceBook {
    /// Accepts `nonce` with `timestamp` (Unix seconds) at `now` (Unix seconds), once.
    pub fn accept(&mut self, nonce: &str, timestamp: u64, now: u64) -> Result<(), NonceProblem> {
        let window = OAUTH_WINDOW.as_secs();
        if timestamp.abs_diff(now) > window {
            return Err(NonceProblem::Stale);
        }
        while let Some((seen_at, _)) = self.order.front() {
            if now.saturating_sub(*seen_at) <= window {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        if !self.seen.insert(nonce.to_string()) {
            return Err(NonceProblem::Replayed);
        }
        self.order.push_back((now, nonce.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_and_refresh() {
        let mut book = TokenBook::default();
        let t = book.issue(Duration::from_secs(60));
        assert_eq!(book.check(Some(&t.access)), Ok(()));
        assert_eq!(book.check(None), Err(TokenProblem::Missing));
        assert_eq!(book.check(Some("nope")), Err(TokenProblem::Unknown));
        book.expire_all();
        assert_eq!(book.check(Some(&t.access)), Err(TokenProblem::Expired));
        let renewed = book.refresh(&t.refresh, Duration::from_secs(60)).unwrap();
        assert_eq!(book.check(Some(&renewed.access)), Ok(()));
        assert!(book.refresh(&t.refresh, Duration::from_secs(60)).is_none());
        let zero = book.issue(Duration::ZERO);
        assert_eq!(book.check(Some(&zero.access)), Err(TokenProblem::Expired));
    }

    #[test]
    fn nonces_are_single_use_within_the_window() {
        let mut book = NonceBook::default();
        assert_eq!(book.accept("a", 1000, 1000), Ok(()));
        assert_eq!(book.accept("a", 1001, 1001), Err(NonceProblem::Replayed));
        assert_eq!(book.accept("b", 1000 - 601, 1000), Err(NonceProblem::Stale));
        assert_eq!(book.accept("c", 1000 + 601, 1000), Err(NonceProblem::Stale));
        // Past the window, an old nonce is forgotten (its timestamp would be stale anyway).
        assert_eq!(book.accept("a", 2000, 2000), Ok(()));
    }
}

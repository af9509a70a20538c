//! [`EtcdConfig`]: where the etcd cluster is, how to reach it, and which prefix to
//! mirror.

use std::fmt;
use std::time::Duration;

use etcd_client::ConnectOptions;

/// How an [`EtcdSource`](super::EtcdSource) reaches etcd and what it reads.
///
/// Everything but `prefix` is passed through to `etcd-client`'s `ConnectOptions`,
/// which this source also sets to require a leader (as kube-apiserver does): on a
/// member cut off from its cluster, requests fail and watches end, so the reflector
/// retries (on another endpoint) rather than wait on a member that hears nothing.
///
/// ```
/// use std::time::Duration;
/// use reflector::sources::etcd::EtcdConfig;
///
/// let config = EtcdConfig::new(
///     ["http://127.0.0.1:2379", "http://127.0.0.1:22379"],
///     "/registry/pods/",
/// )
/// .with_user(Some(("reader".into(), "secret".into())))
/// .with_request_timeout(Some(Duration::from_secs(10)));
/// assert_eq!(config.connect_timeout, Duration::from_secs(5));
/// // The password is not printed.
/// assert!(!format!("{config:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EtcdConfig {
    /// The cluster's client URLs (`http://host:port`, or `https://` with the
    /// `etcd-tls` feature); requests are balanced over them. Default:
    /// `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// The key prefix whose values are the objects: the etcd key of an object is
    /// this prefix followed by its key's `Display`. Usually ends with `/`. An empty
    /// prefix is the whole key space.
    pub prefix: String,
    /// User name and password, when the cluster has authentication on.
    pub user: Option<(String, String)>,
    /// TLS settings for `https://` endpoints (feature `etcd-tls`).
    #[cfg(feature = "etcd-tls")]
    pub tls: Option<EtcdTls>,
    /// How long to wait for a TCP (and TLS) connection to an endpoint. Default 5 s.
    pub connect_timeout: Duration,
    /// How long one request may wait for its answer: a list page, a write, and a
    /// watch's creation (an open watch has no limit). `None` waits forever; default
    /// 30 s.
    pub request_timeout: Option<Duration>,
    /// HTTP/2 keep-alive pings as (interval, timeout), sent while a request or watch
    /// is open, so that a half-open connection (a partition, a host that vanished)
    /// ends the watch instead of leaving it silent forever. `None` sends none.
    /// Default 30 s and 10 s; keep the interval above the server's
    /// `--grpc-keepalive-min-time` (5 s by default) or etcd closes the connection.
    pub keep_alive: Option<(Duration, Duration)>,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            prefix: String::new(),
            user: None,
            #[cfg(feature = "etcd-tls")]
            tls: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Some(Duration::from_secs(30)),
            keep_alive: Some((Duration::from_secs(30), Duration::from_secs(10))),
        }
    }
}

impl EtcdConfig {
    /// The default settings for `endpoints` and `prefix`.
    ///
    /// ```
    /// use reflector::sources::etcd::EtcdConfig;
    ///
    /// let config = EtcdConfig::new(["http://127.0.0.1:2379"], "/registry/leases/");
    /// assert_eq!(config.prefix, "/registry/leases/");
    /// assert!(config.user.is_none());
    /// ```
    pub fn new<E: Into<String>>(
        endpoints: impl IntoIterator<Item = E>,
        prefix: impl Into<String>,
    ) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            prefix: prefix.into(),
            ..EtcdConfig::default()
        }
    }

    /// Sets [`endpoints`](EtcdConfig::endpoints): the cluster's client URLs.
    #[must_use]
    pub fn with_endpoints<E: Into<String>>(
        mut self,
        endpoints: impl IntoIterator<Item = E>,
    ) -> Self {
        self.endpoints = endpoints.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`prefix`](EtcdConfig::prefix): the key prefix whose values are the
    /// objects.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets [`user`](EtcdConfig::user): the user name and password, `None` for no
    /// authentication.
    #[must_use]
    pub fn with_user(mut self, user: Option<(String, String)>) -> Self {
        self.user = user;
        self
    }

    /// Sets [`tls`](EtcdConfig::tls): the TLS settings for `https://` endpoints
    /// (feature `etcd-tls`).
    #[cfg(feature = "etcd-tls")]
    #[must_use]
    pub fn with_tls(mut self, tls: Option<EtcdTls>) -> Self {
        self.tls = tls;
        self
    }

    /// Sets [`connect_timeout`](EtcdConfig::connect_timeout): how long to wait for a
    /// connection to an endpoint.
    #[must_use]
    pub fn with_connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// Sets [`request_timeout`](EtcdConfig::request_timeout): how long one request
    /// may wait for its answer, `None` for ever.
    #[must_use]
    pub fn with_request_timeout(mut self, request_timeout: Option<Duration>) -> Self {
        self.request_timeout = request_timeout;
        self
    }

    /// Sets [`keep_alive`](EtcdConfig::keep_alive): the HTTP/2 keep-alive pings as
    /// (interval, timeout), `None` for none.
    #[must_use]
    pub fn with_keep_alive(mut self, keep_alive: Option<(Duration, Duration)>) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// `etcd-client`'s options for these settings.
    pub(crate) fn connect_options(&self) -> ConnectOptions {
        // Requests (watches included) fail on a member that has lost its leader,
        // rather than hang or serve stale data there, as kube-apiserver asks too: a
        // watch then ends with ServiceUnavailable and the reflector watches again.
        let mut options = ConnectOptions::new()
            .with_connect_timeout(self.connect_timeout)
            .with_require_leader(true);
        if let Some(timeout) = self.request_timeout {
            options = options.with_timeout(timeout);
        }
        if let Some((interval, timeout)) = self.keep_alive {
            // Only while a request or watch is open: etcd counts pings on an idle
            // connection as abuse and closes it after a few.
            options = options
                .with_keep_alive(interval, timeout)
                .with_keep_alive_while_idle(false);
        }
        if let Some((name, password)) = &self.user {
            options = options.with_user(name.clone(), password.clone());
        }
        #[cfg(feature = "etcd-tls")]
        if let Some(tls) = &self.tls {
            options = options.with_tls(tls.options());
        }
        options
    }
}

impl fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("EtcdConfig");
        debug
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.prefix)
            .field("user", &self.user.as_ref().map(|(name, _)| name));
        #[cfg(feature = "etcd-tls")]
        debug.field("tls", &self.tls);
        debug
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}

/// TLS settings for `https://` endpoints, as PEM (feature `etcd-tls`; rustls).
///
/// ```
/// use reflector::sources::etcd::EtcdTls;
///
/// let tls = EtcdTls {
///     ca_pem: Some(b"-----BEGIN CERTIFICATE-----\n...".to_vec()),
///     domain: Some("etcd.example.internal".into()),
///     ..EtcdTls::default()
/// };
/// assert!(tls.identity_pem.is_none());
/// ```
#[cfg(feature = "etcd-tls")]
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EtcdTls {
    /// The certificate authority that signed the servers' certificates; `None`
    /// trusts no one but what `domain` and the platform give (rustls needs one).
    pub ca_pem: Option<Vec<u8>>,
    /// A client certificate and its private key, for clusters that authenticate
    /// clients by certificate (`--client-cert-auth`).
    pub identity_pem: Option<(Vec<u8>, Vec<u8>)>,
    /// The name to check the servers' certificates against, when it is not the
    /// endpoint's host.
    pub domain: Option<String>,
}

#[cfg(feature = "etcd-tls")]
impl EtcdTls {
    /// `etcd-client`'s (tonic's) TLS settings.
    fn options(&self) -> etcd_client::TlsOptions {
        let mut options = etcd_client::TlsOptions::new();
        if let Some(ca) = &self.ca_pem {
            options = options.ca_certificate(etcd_client::Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = &self.identity_pem {
            options = options.identity(etcd_client::Identity::from_pem(cert, key));
        }
        if let Some(domain) = &self.domain {
            options = options.domain_name(domain.clone());
        }
        options
    }
}

#[cfg(feature = "etcd-tls")]
impl fmt::Debug for EtcdTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdTls")
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("identity_pem", &self.identity_pem.is_some())
            .field("domain", &self.domain)
            .finish()
    }
}

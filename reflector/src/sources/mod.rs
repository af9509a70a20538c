//! The sources a [`Reflector`](crate::Reflector) lists and watches, each a
//! [`ListerWatcher`](crate::ListerWatcher):
//!
//! - [`memory`]: [`MemoryServer`](memory::MemoryServer), the embedded versioned
//!   source — the default, for the quickstart and for tests (fault injection).
//! - `etcd` (feature `etcd`): `EtcdSource`, the JSON values under a key prefix of a
//!   real etcd.
//! - `kube` (feature `kube`): `KubeSource`, the Kubernetes API through kube-client.

#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(feature = "kube")]
pub mod kube;
pub mod memory;

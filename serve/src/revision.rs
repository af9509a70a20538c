//! [`Revision`]: a numeric resource version, and the one place one is parsed and
//! written out.

use std::fmt;
use std::str::FromStr;

use store_core::{ResourceVersion, Status};
use thiserror::Error;

/// A resource version that is a number: the count of writes of a server that numbers
/// its versions (the embedded `MemoryServer`, etcd's revisions, a watch cache fed by
/// either, kube-apiserver's). Numbers grow with every write, so a server can order
/// events and answer "everything after N".
///
/// Clients must still treat resource versions as opaque strings; a `Revision` is the
/// server's view. It reads exactly what kube-apiserver reads (decimal digits only: no
/// sign, no spaces, no empty string, fitting a `u64`) and writes the plain decimal
/// form, in one allocation.
///
/// ```
/// use serve::Revision;
///
/// let rv: Revision = "42".parse()?;
/// assert_eq!(rv.get(), 42);
/// assert_eq!(rv.to_string(), "42");
/// assert_eq!(rv.resource_version().as_str(), "42");
/// assert!("-1".parse::<Revision>().is_err());
/// assert!(" 7".parse::<Revision>().is_err());
/// // a request's version: "" and "0" mean "any", not a number
/// assert_eq!(Revision::requested(""), Ok(None));
/// assert_eq!(Revision::requested("0"), Ok(None));
/// assert_eq!(Revision::requested("9"), Ok(Some(Revision::new(9))));
/// # Ok::<(), serve::RevisionError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(u64);

/// A resource version that is not a [`Revision`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid resource version {text:?}: {reason}")]
pub struct RevisionError {
    /// The text given.
    pub text: String,
    /// Why it is not a revision.
    pub reason: &'static str,
}

impl Revision {
    /// The revision before any write.
    pub const ZERO: Revision = Revision(0);

    /// Revision `n`.
    pub const fn new(n: u64) -> Self {
        Revision(n)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The revision after this one; saturates at `u64::MAX` (never reached in
    /// practice: a server writing a billion times a second takes 584 years).
    pub const fn next(self) -> Revision {
        Revision(self.0.saturating_add(1))
    }

    /// Reads `text` as kube-apiserver reads a resource version.
    ///
    /// # Errors
    ///
    /// [`RevisionError`] for an empty string, any character but a decimal digit, or
    /// a number past `u64::MAX`.
    pub fn parse(text: &str) -> Result<Revision, RevisionError> {
        let invalid = |reason| RevisionError {
            text: text.to_owned(),
            reason,
        };
        if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(invalid("not a decimal number"));
        }
        text.parse()
            .map(Revision)
            .map_err(|_| invalid("out of range"))
    }

    /// Reads the resource version of a request: `None` for `""` and `"0"` ("any" or
    /// "the newest", as kube-apiserver reads them), the revision otherwise.
    ///
    /// # Errors
    ///
    /// As [`Revision::parse`].
    pub fn requested(text: &str) -> Result<Option<Revision>, RevisionError> {
        match text {
            "" | "0" => Ok(None),
            text => Revision::parse(text).map(Some),
        }
    }

    /// This revision as an opaque resource version, written out in one allocation
    /// (`u64::to_string` then `Arc<str>` would make two: this runs on every write).
    pub fn resource_version(self) -> ResourceVersion {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut n = self.0;
        loop {
            start -= 1;
            // `n % 10` is below 10, so the cast keeps it whole.
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        // Only ASCII digits were written: always valid UTF-8.
        let text = std::str::from_utf8(&digits[start..]).unwrap_or("0");
        ResourceVersion::from(text)
    }

    /// A resource version as a metric's value (client-go publishes
    /// `store_resource_version` as a gauge): its 15 least significant digits, which an
    /// `f64` holds exactly; `None` for a version that is not a number.
    pub fn gauge_value(text: &str) -> Option<f64> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let tail = &text[text.len().saturating_sub(15)..];
        tail.parse::<u64>().ok().map(|value| value as f64)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Revision {
    type Err = RevisionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Revision::parse(text)
    }
}

impl From<u64> for Revision {
    fn from(n: u64) -> Self {
        Revision(n)
    }
}

impl From<Revision> for ResourceVersion {
    fn from(revision: Revision) -> Self {
        revision.resource_version()
    }
}

impl TryFrom<&ResourceVersion> for Revision {
    type Error = RevisionError;

    fn try_from(rv: &ResourceVersion) -> Result<Self, Self::Error> {
        Revision::parse(rv.as_str())
    }
}

/// A request's bad version is the client's error: 400 `BadRequest`, with the text.
impl From<RevisionError> for Status {
    fn from(error: RevisionError) -> Self {
        Status::bad_request(error.to_string())
    }
}

/// As for [`Status`], boxed, as sources and servers answer errors.
impl From<RevisionError> for Box<Status> {
    fn from(error: RevisionError) -> Self {
        Box::new(Status::from(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_decimal_numbers_are_revisions() {
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "0x10",
            "18446744073709551616",
        ] {
            assert!(Revision::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            Revision::parse("18446744073709551615"),
            Ok(Revision(u64::MAX))
        );
        assert_eq!(Revision::parse("007"), Ok(Revision(7)));
    }

    #[test]
    fn written_out_revisions_read_back() {
        for n in [0, 1, 9, 10, 12_345, u64::MAX] {
            let rv = Revision(n).resource_version();
            assert_eq!(rv.as_str(), n.to_string());
            assert_eq!(Revision::try_from(&rv), Ok(Revision(n)));
        }
    }

    #[test]
    fn a_bad_request_version_is_a_400_naming_it() {
        let status = Status::from(Revision::requested("abc").unwrap_err());
        assert_eq!(status.code, 400);
        assert!(status.message.contains("\"abc\""), "{}", status.message);
    }

    #[test]
    fn gauge_values_keep_the_low_digits() {
        assert_eq!(Revision::gauge_value("42"), Some(42.0));
        assert_eq!(
            Revision::gauge_value("1234567890123456789"),
            Some(567_890_123_456_789.0)
        );
        assert_eq!(Revision::gauge_value("abc"), None);
        assert_eq!(Revision::gauge_value(""), None);
    }
}

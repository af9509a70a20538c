//! Label and field selectors, parsed as kube-apiserver parses them, and the
//! `Filter` of one request: a namespace and both selectors.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::resource::ServedResource;

/// A label selector: requirements that must all hold (`app=web,tier!=db,env in
/// (a,b),!legacy`).
///
/// Operators: `=`, `==`, `!=`, `in (…)`, `notin (…)`, a bare key (exists) and `!key`
/// (does not exist). `!=` and `notin` also match objects without the label, as in
/// Kubernetes.
///
/// ```
/// use std::collections::BTreeMap;
/// use watch_server::LabelSelector;
///
/// let selector: LabelSelector = "app=web, env in (prod,staging),!legacy".parse()?;
/// let labels = BTreeMap::from([("app".to_owned(), "web".to_owned()), ("env".to_owned(), "prod".to_owned())]);
/// assert!(selector.matches(Some(&labels)));
/// assert!(!selector.matches(None));
/// assert!("app in (web".parse::<LabelSelector>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    operator: Operator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operator {
    Equals(String),
    NotEquals(String),
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    DoesNotExist,
}

impl LabelSelector {
    /// Whether it selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.requirements.iter().all(|requirement| {
            let value = labels.and_then(|labels| labels.get(&requirement.key));
            match (&requirement.operator, value) {
                (Operator::Equals(wanted), Some(value)) => wanted == value,
                (Operator::Equals(_), None) => false,
                (Operator::NotEquals(unwanted), value) => value != Some(unwanted),
                (Operator::In(set), Some(value)) => set.contains(value),
                (Operator::In(_), None) => false,
                (Operator::NotIn(set), value) => value.is_none_or(|value| !set.contains(value)),
                (Operator::Exists, value) => value.is_some(),
                (Operator::DoesNotExist, value) => value.is_none(),
            }
        })
    }
}

impl std::str::FromStr for LabelSelector {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text)? {
            let part = part.trim();
            if part.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(format!(
                    "invalid label selector {text:?}: empty requirement"
                ));
            }
            requirements.push(
                parse_requirement(part)
                    .map_err(|why| format!("invalid label selector {text:?}: {why}"))?,
            );
        }
        Ok(LabelSelector { requirements })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("invalid label selector {text:?}: unbalanced ')'"))?;
            }
            ',' if depth == 0 => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("invalid label selector {text:?}: unclosed '('"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        let key = valid_key(key.trim())?;
        return Ok(Requirement {
            key,
            operator: Operator::DoesNotExist,
        });
    }
    for (symbol, make) in [
        ("!=", Operator::NotEquals as fn(String) -> Operator),
        ("==", Operator::Equals),
        ("=", Operator::Equals),
    ] {
        if let Some((key, value)) = part.split_once(symbol) {
            return Ok(Requirement {
                key: valid_key(key.trim())?,
                operator: make(valid_value(value.trim())?),
            });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words[..] {
        let rest = rest.trim_start();
        let (negated, set) = if let Some(set) = rest.strip_prefix("notin") {
            (true, set)
        } else if let Some(set) = rest.strip_prefix("in") {
            (false, set)
        } else {
            return Err(format!("unknown operator in {part:?}"));
        };
        let set = set.trim();
        let Some(inner) = set.strip_prefix('(').and_then(|set| set.strip_suffix(')')) else {
            return Err(format!(
                "expected a parenthesised set of values in {part:?}"
            ));
        };
        let values = inner
            .split(',')
            .map(|value| valid_value(value.trim()))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let key = valid_key(key)?;
        let operator = if negated {
            Operator::NotIn(values)
        } else {
            Operator::In(values)
        };
        return Ok(Requirement { key, operator });
    }
    Ok(Requirement {
        key: valid_key(part)?,
        operator: Operator::Exists,
    })
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most
/// 63 characters of `[A-Za-z0-9._-]` starting and ending alphanumeric.
fn valid_key(key: &str) -> Result<String, String> {
    let name = match key.rsplit_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty()
                || prefix.len() > 253
                || !prefix
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            {
                return Err(format!("invalid label key prefix in {key:?}"));
            }
            name
        }
        None => key,
    };
    if name.is_empty() || !is_label_value(name) {
        return Err(format!("invalid label key {key:?}"));
    }
    Ok(key.to_owned())
}

/// A label value: empty, or at most 63 characters of `[A-Za-z0-9._-]` starting and
/// ending alphanumeric.
fn valid_value(value: &str) -> Result<String, String> {
    if value.is_empty() || is_label_value(value) {
        Ok(value.to_owned())
    } else {
        Err(format!("invalid label value {value:?}"))
    }
}

fn is_label_value(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, requirement) in self.requirements.iter().enumerate() {
            if at > 0 {
                f.write_str(",")?;
            }
            let key = &requirement.key;
            match &requirement.operator {
                Operator::Equals(value) => write!(f, "{key}={value}")?,
                Operator::NotEquals(value) => write!(f, "{key}!={value}")?,
                Operator::In(set) | Operator::NotIn(set) => {
                    let word = if matches!(requirement.operator, Operator::In(_)) {
                        "in"
                    } else {
                        "notin"
                    };
                    let values: Vec<&str> = set.iter().map(String::as_str).collect();
                    write!(f, "{key} {word} ({})", values.join(","))?;
                }
                Operator::Exists => write!(f, "{key}")?,
                Operator::DoesNotExist => write!(f, "!{key}")?,
            }
        }
        Ok(())
    }
}

/// A field selector over the fields every object has: `metadata.name` and
/// `metadata.namespace`, with `=`, `==` and `!=` (as kube-apiserver allows for most
/// types). Any other field is refused.
///
/// ```
/// use watch_server::FieldSelector;
///
/// let selector: FieldSelector = "metadata.namespace=default,metadata.name!=skip".parse()?;
/// assert!(selector.matches("keep", Some("default")));
/// assert!(!selector.matches("skip", Some("default")));
/// assert!("spec.nodeName=n1".parse::<FieldSelector>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<(Field, bool, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Namespace,
}

impl FieldSelector {
    /// Whether it selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object with this name and namespace is selected.
    pub fn matches(&self, name: &str, namespace: Option<&str>) -> bool {
        self.requirements.iter().all(|(field, equal, value)| {
            let actual = match field {
                Field::Name => name,
                Field::Namespace => namespace.unwrap_or(""),
            };
            (actual == value) == *equal
        })
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(format!(
                    "invalid field selector {text:?}: empty requirement"
                ));
            }
            let (field, equal, value) = if let Some((field, value)) = part.split_once("!=") {
                (field, false, value)
            } else if let Some((field, value)) = part.split_once("==") {
                (field, true, value)
            } else if let Some((field, value)) = part.split_once('=') {
                (field, true, value)
            } else {
                return Err(format!(
                    "invalid field selector {text:?}: {part:?} has no operator (=, ==, !=)"
                ));
            };
            let field = match field.trim() {
                "metadata.name" => Field::Name,
                "metadata.namespace" => Field::Namespace,
                other => {
                    return Err(format!(
                    "field label not supported: {other} (metadata.name and metadata.namespace are)"
                ))
                }
            };
            requirements.push((field, equal, value.trim().to_owned()));
        }
        Ok(FieldSelector { requirements })
    }
}

/// Which objects a request is about: a namespace (or all), a label and a field
/// selector. Lists, gets and watches share it; the watch cache uses it to pick the
/// objects of a list and to decide how a watcher sees an event.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    /// The namespace of a namespaced request (`/namespaces/{ns}/…`); `None` is all.
    pub(crate) namespace: Option<String>,
    /// `labelSelector`.
    pub(crate) labels: LabelSelector,
    /// `fieldSelector`.
    pub(crate) fields: FieldSelector,
}

impl Filter {
    /// Whether it selects every object (no namespace, no selector).
    pub(crate) fn is_everything(&self) -> bool {
        self.namespace.is_none() && self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether `object` is selected (an empty namespace is no namespace).
    pub(crate) fn matches<T: ServedResource>(&self, object: &T) -> bool {
        let namespace = object.namespace().filter(|ns| !ns.is_empty());
        self.namespace
            .as_deref()
            .is_none_or(|wanted| namespace == Some(wanted))
            && self.labels.matches(object.labels())
            && self.fields.matches(object.name(), namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_operator_matches_as_in_kubernetes() {
        let web = labels(&[("app", "web"), ("tier", "front")]);
        let db = labels(&[("app", "db")]);
        let cases = [
            ("", true, true),
            ("app=web", true, false),
            ("app==web", true, false),
            ("app!=web", false, true),
            ("tier!=back", true, true),
            ("app in (web, api)", true, false),
            ("app notin (web)", false, true),
            ("tier", true, false),
            ("!tier", false, true),
            ("app=web,tier=front", true, false),
            ("example.com/owner!=x", true, true),
        ];
        for (text, on_web, on_db) in cases {
            let selector: LabelSelector = text.parse().unwrap();
            assert_eq!(selector.matches(Some(&web)), on_web, "{text} on web");
            assert_eq!(selector.matches(Some(&db)), on_db, "{text} on db");
        }
    }

    #[test]
    fn malformed_selectors_are_refused() {
        for text in [
            "app in (web",
            "app in web",
            "app=web,",
            "=web",
            "app=we b",
            "app===web",
            "a)b",
            "-app",
            "app ~ web",
            "Example.com/app=x",
        ] {
            assert!(text.parse::<LabelSelector>().is_err(), "{text}");
        }
        for text in [
            "spec.nodeName=n1",
            "metadata.name",
            "metadata.name=a,",
            "status.phase!=x",
        ] {
            assert!(text.parse::<FieldSelector>().is_err(), "{text}");
        }
    }

    #[test]
    fn selectors_print_in_their_canonical_form() {
        let selector: LabelSelector = "a=1, b notin (y,x) ,!c,d".parse().unwrap();
        assert_eq!(selector.to_string(), "a=1,b notin (x,y),!c,d");
    }

    #[test]
    fn field_selectors_treat_cluster_scope_as_empty_namespace() {
        let selector: FieldSelector = "metadata.namespace=".parse().unwrap();
        assert!(selector.matches("node-1", None));
        assert!(!selector.matches("cm", Some("default")));
        let selector: FieldSelector = "metadata.name==a".parse().unwrap();
        assert!(selector.matches("a", Some("x")));
    }

    #[test]
    fn a_filter_needs_the_namespace_and_both_selectors_to_match() {
        use crate::configmap::ConfigMap;

        let web = ConfigMap::new("a", "x").with_label("tier", "web");
        assert!(Filter::default().is_everything() && Filter::default().matches(&web));
        let filter = Filter {
            namespace: Some("a".into()),
            labels: "tier=web".parse().unwrap(),
            fields: "metadata.name=x".parse().unwrap(),
        };
        assert!(!filter.is_everything());
        assert!(filter.matches(&web));
        assert!(!filter.matches(&ConfigMap::new("b", "x").with_label("tier", "web")));
        assert!(!filter.matches(&ConfigMap::new("a", "x").with_label("tier", "db")));
        assert!(!filter.matches(&ConfigMap::new("a", "y").with_label("tier", "web")));
        // an empty namespace is cluster scope: no namespace filter selects it
        let cluster_scoped = ConfigMap::new("", "x");
        let in_a = Filter {
            namespace: Some("a".into()),
            ..Filter::default()
        };
        assert!(!in_a.matches(&cluster_scoped));
    }
}

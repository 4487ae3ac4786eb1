//! Name patterns for destinations, header names and baggage keys: `*` stands for any run of
//! characters (none included), everything else for itself. No crate: `globset` compiles to
//! regexes, far more than names of a few dozen bytes need.

use std::fmt;

/// A name pattern: `orders.*`, `x-tenant-*`, `*.external`, or a plain name.
///
/// ```
/// use tracewire::messaging::Glob;
///
/// assert!(Glob::new("x-tenant-*").matches("x-tenant-id"));
/// assert!(Glob::new("*.dlq").matches("orders.dlq"));
/// assert!(!Glob::new("orders").matches("orders.dlq"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Box<str>,
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.pattern)
    }
}

impl Glob {
    /// A pattern; `*` is the only special character.
    pub fn new(pattern: impl Into<String>) -> Self {
        Glob {
            pattern: pattern.into().into_boxed_str(),
        }
    }

    /// Whether `name` matches, byte for byte.
    pub fn matches(&self, name: &str) -> bool {
        wildcard(self.pattern.as_bytes(), name.as_bytes(), |a, b| a == b)
    }

    /// Whether `name` matches without regard to ASCII case (header names).
    pub fn matches_ignore_case(&self, name: &str) -> bool {
        wildcard(self.pattern.as_bytes(), name.as_bytes(), |a, b| {
            a.eq_ignore_ascii_case(&b)
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

impl From<&str> for Glob {
    fn from(pattern: &str) -> Self {
        Glob::new(pattern)
    }
}

/// The classic one-star-backtrack match: linear in practice, `O(pattern × name)` at worst, no
/// recursion (names come from strangers).
fn wildcard(pattern: &[u8], name: &[u8], eq: impl Fn(u8, u8) -> bool) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && eq(pattern[p], name[n]) {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run_and_the_rest_is_literal() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("a*", "a", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("*b*", "abc", true),
            ("x-tenant-*", "x-tenant-", true),
            ("x-tenant-*", "x-tenan", false),
            ("a**b", "ab", true),
            ("orders", "orders", true),
            ("orders", "Orders", false),
            ("a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(name),
                expected,
                "{pattern} ~ {name}"
            );
        }
        assert!(Glob::new("X-Tenant-*").matches_ignore_case("x-tenant-id"));
    }
}

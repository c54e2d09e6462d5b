//! Key layouts of the logical trees. Each is a keyspace of the store's one sled tree:
//! the key in sled is the tree's prefix byte (`p`, `o`, `d`, `q`, `m`, in table order)
//! followed by the key below.
//!
//! | tree             | key                                   | value                                   |
//! |------------------|---------------------------------------|-----------------------------------------|
//! | `profiles`       | `p\0<account>\0<principal>`, `a\0<account>` | version byte + postcard profile, DEFLATEd when shorter |
//! | `objects`        | first 16 bytes of SHA-256 of `<bucket>\0<key>\0<etag>` | v1, processed-at event ms, event count |
//! | `dedup`          | ordered minute start ms (8 bytes BE)  | v1, sorted 64-bit event-id hashes (BE)  |
//! | `outbox`         | `<sink>\0` + sequence (8 bytes BE)    | v1, attempts, enqueued ms, finding bytes|
//! | `meta`           | `s\0<name>` (store) / `u\0<name>` (callers) | raw bytes                         |
//!
//! NUL separates components, so components may not contain NUL; constructors check it.

use std::fmt;

use crate::codec::display_key;
use crate::error::StoreError;

/// Rejects empty components and components containing NUL.
pub(crate) fn check_part(what: &'static str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() || value.contains('\0') {
        return Err(StoreError::InvalidKeyPart {
            what,
            value: value.escape_default().to_string(),
        });
    }
    Ok(())
}

/// The scope a profile describes, parsed back from its key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProfileScope<'a> {
    /// One principal of one account.
    Principal {
        account: &'a str,
        principal: &'a str,
    },
    /// A whole account.
    Account { account: &'a str },
}

/// The key of one profile in the `profiles` tree.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProfileKey(Vec<u8>);

impl AsRef<[u8]> for ProfileKey {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl ProfileKey {
    /// Key of a principal's profile: `p\0<account>\0<principal>`.
    pub fn principal(account: &str, principal: &str) -> Result<Self, StoreError> {
        check_part("account", account)?;
        check_part("principal", principal)?;
        let mut key = Vec::with_capacity(3 + account.len() + principal.len());
        key.extend_from_slice(b"p\0");
        key.extend_from_slice(account.as_bytes());
        key.push(0);
        key.extend_from_slice(principal.as_bytes());
        Ok(Self(key))
    }

    /// Key of an account's profile: `a\0<account>`.
    pub fn account(account: &str) -> Result<Self, StoreError> {
        check_part("account", account)?;
        let mut key = Vec::with_capacity(2 + account.len());
        key.extend_from_slice(b"a\0");
        key.extend_from_slice(account.as_bytes());
        Ok(Self(key))
    }

    /// Prefix of all principal profiles of `account`, for [`crate::Store::profiles_iter`].
    pub fn principals_prefix(account: &str) -> Result<Vec<u8>, StoreError> {
        check_part("account", account)?;
        let mut key = b"p\0".to_vec();
        key.extend_from_slice(account.as_bytes());
        key.push(0);
        Ok(key)
    }

    /// Wraps raw key bytes read back from the tree.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Parses the scope back out of the key; `None` for a key of another layout.
    pub fn scope(&self) -> Option<ProfileScope<'_>> {
        let text = std::str::from_utf8(&self.0).ok()?;
        if let Some(rest) = text.strip_prefix("p\0") {
            let (account, principal) = rest.split_once('\0')?;
            Some(ProfileScope::Principal { account, principal })
        } else {
            let account = text.strip_prefix("a\0")?;
            (!account.contains('\0')).then_some(ProfileScope::Account { account })
        }
    }
}

impl fmt::Debug for ProfileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProfileKey({})", display_key(&self.0))
    }
}

impl fmt::Display for ProfileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope() {
            Some(ProfileScope::Principal { account, principal }) => {
                write!(f, "principal {account} {principal}")
            }
            Some(ProfileScope::Account { account }) => write!(f, "account {account}"),
            None => f.write_str(&display_key(&self.0)),
        }
    }
}

/// Identity of one CloudTrail log object: the unit of work and of commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectId<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    /// The S3 ETag; use `"-"` for sources without one (local files).
    pub etag: &'a str,
}

impl<'a> ObjectId<'a> {
    pub fn new(bucket: &'a str, key: &'a str, etag: &'a str) -> Self {
        Self { bucket, key, etag }
    }

    /// The 16 bytes the store marks the object processed under (SHA-256 of
    /// `<bucket>\0<key>\0<etag>`): two objects share them only on a 128-bit collision.
    pub fn mark(self) -> Result<[u8; 16], StoreError> {
        Ok(crate::store::mark_key(&self.to_key()?))
    }

    /// `<bucket>\0<key>\0<etag>`, after checking every component.
    pub(crate) fn to_key(self) -> Result<Vec<u8>, StoreError> {
        check_part("bucket", self.bucket)?;
        check_part("object key", self.key)?;
        check_part("etag", self.etag)?;
        let mut key = Vec::with_capacity(self.bucket.len() + self.key.len() + self.etag.len() + 2);
        key.extend_from_slice(self.bucket.as_bytes());
        key.push(0);
        key.extend_from_slice(self.key.as_bytes());
        key.push(0);
        key.extend_from_slice(self.etag.as_bytes());
        Ok(key)
    }
}

impl fmt::Display for ObjectId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{} (etag {})", self.bucket, self.key, self.etag)
    }
}

/// `<sink>\0<seq BE>`.
pub(crate) fn outbox_key(sink: &str, seq: u64) -> Vec<u8> {
    let mut key = outbox_prefix(sink);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// `<sink>\0`.
pub(crate) fn outbox_prefix(sink: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(sink.len() + 9);
    key.extend_from_slice(sink.as_bytes());
    key.push(0);
    key
}

/// Key of a caller's meta entry.
pub(crate) fn user_meta_key(name: &str) -> Vec<u8> {
    let mut key = b"u\0".to_vec();
    key.extend_from_slice(name.as_bytes());
    key
}

/// Store-internal meta keys.
pub(crate) const META_SCHEMA_VERSION: &[u8] = b"s\0schema_version";
pub(crate) const META_OUTBOX_SEQ: &[u8] = b"s\0outbox_seq";
pub(crate) const META_NEWEST_EVENT: &[u8] = b"s\0newest_event_ms";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_keys_round_trip_their_scope() {
        let key =
            ProfileKey::principal("123456789012", "arn:aws:iam::123456789012:user/a").unwrap();
        assert_eq!(
            key.as_bytes(),
            b"p\x00123456789012\x00arn:aws:iam::123456789012:user/a"
        );
        assert_eq!(
            key.scope(),
            Some(ProfileScope::Principal {
                account: "123456789012",
                principal: "arn:aws:iam::123456789012:user/a"
            })
        );
        let acct = ProfileKey::account("123456789012").unwrap();
        assert_eq!(
            acct.scope(),
            Some(ProfileScope::Account {
                account: "123456789012"
            })
        );
        assert_eq!(acct.to_string(), "account 123456789012");
        assert!(
            key.as_bytes()
                .starts_with(&ProfileKey::principals_prefix("123456789012").unwrap())
        );
    }

    #[test]
    fn nul_and_empty_components_are_rejected() {
        assert!(ProfileKey::principal("1\x002", "x").is_err());
        assert!(ProfileKey::account("").is_err());
        assert!(ObjectId::new("b", "k\0", "e").to_key().is_err());
        assert_eq!(ObjectId::new("b", "k", "e").to_key().unwrap(), b"b\0k\0e");
    }

    #[test]
    fn outbox_keys_sort_by_sequence() {
        assert!(outbox_key("hec", 2) < outbox_key("hec", 256));
        assert!(outbox_key("hec", u64::MAX).starts_with(&outbox_prefix("hec")));
        assert!(!outbox_key("hec2", 1).starts_with(&outbox_prefix("hec")));
    }
}

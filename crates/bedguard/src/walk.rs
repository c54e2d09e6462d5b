//! Finding the log files `replay` reads: files or directories walked recursively,
//! ordered by CloudTrail delivery time taken from each key, so a replay sees files in
//! the order the daemon would have.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use cloudtrail::log::{KeyKind, classify_key};

/// One file to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalObject {
    /// The directory it was found under (shared by every file found there), or the
    /// file's own directory when it was named directly.
    root: Arc<Path>,
    /// Its key as `replay` reports it: the path relative to `root`.
    pub key: String,
    /// Delivery time from the key (`None`: not a CloudTrail log key; ordered last, by name).
    pub delivered_ms: Option<i64>,
}

/// Walks `roots` (files or directories) and returns every regular file, ordered by
/// delivery time from its key, then by key. Errors name the path that failed.
pub fn collect(roots: &[PathBuf]) -> Result<Vec<LocalObject>> {
    let mut out = Vec::new();
    for root in roots {
        let meta =
            std::fs::metadata(root).with_context(|| format!("cannot read {}", root.display()))?;
        if meta.is_dir() {
            walk_dir(&Arc::from(root.as_path()), root, &mut out)?;
        } else {
            let key = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let dir = root.parent().unwrap_or(Path::new(""));
            out.push(object(Arc::from(dir), key));
        }
    }
    out.sort_by(|a, b| {
        (a.delivered_ms.is_none(), a.delivered_ms, &a.key).cmp(&(
            b.delivered_ms.is_none(),
            b.delivered_ms,
            &b.key,
        ))
    });
    out.shrink_to_fit();
    Ok(out)
}

fn walk_dir(root: &Arc<Path>, dir: &Path, out: &mut Vec<LocalObject>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let ft = entry
            .file_type()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if ft.is_dir() {
            walk_dir(root, &path, out)?;
        } else if ft.is_file() || (ft.is_symlink() && path.is_file()) {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let key = rel
                .to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/");
            out.push(object(Arc::clone(root), key));
        }
    }
    Ok(())
}

impl LocalObject {
    /// Where it is.
    pub fn path(&self) -> PathBuf {
        self.root.join(&self.key)
    }
}

fn object(root: Arc<Path>, mut key: String) -> LocalObject {
    // A replay can list hundreds of thousands of files: no spare capacity per entry,
    // and the root once, not in every entry.
    key.shrink_to_fit();
    let delivered_ms = match classify_key(&key) {
        KeyKind::Log(k) => Some(k.delivered_ms),
        _ => None,
    };
    LocalObject {
        root,
        key,
        delivered_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_delivery_time_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir
            .path()
            .join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02");
        std::fs::create_dir_all(&sub).unwrap();
        // Named so that lexical order and delivery order disagree across regions.
        let late = "111122223333_CloudTrail_us-east-1_20240102T1005Z_aaaa.json.gz";
        let early = "111122223333_CloudTrail_us-east-1_20240102T0955Z_zzzz.json.gz";
        std::fs::write(sub.join(late), b"x").unwrap();
        std::fs::write(sub.join(early), b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let got = collect(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|o| o.key.rsplit('/').next().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            vec![early.to_string(), late.to_string(), "notes.txt".to_string()]
        );
    }

    #[test]
    fn missing_root_is_an_error_naming_it() {
        let err = collect(&[PathBuf::from("/nonexistent/bedguard")]).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/bedguard"));
    }
}

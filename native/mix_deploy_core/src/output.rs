//! Writing generated files: compare first, then write each changed file atomically
//! (a temp file in the same directory, given its final mode, then renamed), so a
//! reader never sees a half-written script and an unchanged file is not touched.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// A file to produce, fully rendered.
#[derive(Debug, Clone)]
pub struct Planned {
    pub path: PathBuf,
    /// The path as shown to the user (relative to the project when inside it).
    pub shown: String,
    pub contents: String,
    pub mode: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Remove,
    /// Kept because it exists and --force was not given (init tasks).
    Skip,
}

impl Action {
    pub fn word(self) -> &'static str {
        match self {
            Action::Create => "creating",
            Action::Update => "updating",
            Action::Unchanged => "unchanged",
            Action::Remove => "removing",
            Action::Skip => "skipping",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    pub path: String,
}

/// What writing `file` would do, without doing it.
pub fn action_for(file: &Planned) -> Action {
    match fs::read(&file.path) {
        Err(_) => Action::Create,
        Ok(existing) => {
            let mode = fs::metadata(&file.path)
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or(0);
            if existing == file.contents.as_bytes() && mode == file.mode {
                Action::Unchanged
            } else {
                Action::Update
            }
        }
    }
}

/// Writes `contents` to `path` with `mode` via a temp file and rename.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io)?;
    tmp.write_all(contents).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Applies a plan: every file compared, then changed ones written (unless `check`),
/// then stale ones removed. Returns what happened (or would happen) to each path.
pub fn apply(
    files: &[Planned],
    removals: &[(PathBuf, String)],
    check: bool,
) -> Result<Vec<Change>, Error> {
    let mut changes = Vec::new();
    for file in files {
        let action = action_for(file);
        if action != Action::Unchanged && !check {
            write_atomic(&file.path, file.contents.as_bytes(), file.mode)?;
        }
        changes.push(Change {
            action,
            path: file.shown.clone(),
        });
    }
    for (path, shown) in removals {
        if !check {
            fs::remove_file(path).map_err(|e| Error::Io {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        }
        changes.push(Change {
            action: Action::Remove,
            path: shown.clone(),
        });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_then_reports_unchanged_then_updates() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = Planned {
            path: dir.path().join("bin/deploy-start"),
            shown: "bin/deploy-start".into(),
            contents: "#!/bin/sh\n".into(),
            mode: 0o755,
        };
        let first = apply(std::slice::from_ref(&file), &[], false).unwrap();
        assert_eq!(first[0].action, Action::Create);
        let mode = fs::metadata(&file.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert_eq!(
            apply(std::slice::from_ref(&file), &[], false).unwrap()[0].action,
            Action::Unchanged
        );
        file.contents.push_str("echo\n");
        assert_eq!(
            apply(std::slice::from_ref(&file), &[], true).unwrap()[0].action,
            Action::Update
        );
        assert_eq!(
            fs::read_to_string(&file.path).unwrap(),
            "#!/bin/sh\n",
            "check mode writes nothing"
        );
        apply(std::slice::from_ref(&file), &[], false).unwrap();
        assert_eq!(fs::read_to_string(&file.path).unwrap(), "#!/bin/sh\necho\n");
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("bin")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
    }
}

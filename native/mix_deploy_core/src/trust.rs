//! Whose ground a path is: the one home of "which account besides root can write
//! or redirect this", read by the unit side (which env files the setup unit copies
//! and as whom it reads them) and by grants.rs (which root-run commands hand root
//! to a lower account).
//!
//! `deploy_dir` and the configuration dir belong to the deploy user (create-dirs
//! makes them its own); the runtime, state, cache, logs and tmp dirs to the app.
//! An account that owns a directory can rename anything in it and put a link in
//! its place, so a path below one of them is that account's to redirect, whoever
//! owns the file there now. An account named root is no lower account: its dirs
//! are root's. A path elsewhere is taken as root's (docs/security.md: keep such
//! files and every directory above them root-owned).

use crate::spec::Common;

/// The account a directory of the config belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Deploy,
    App,
}

/// A directory of the config and the account it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Ground<'a> {
    pub dir: &'a str,
    pub owner: Owner,
    /// The account's name (`deploy_user` or `app_user`).
    pub user: &'a str,
}

impl Ground<'_> {
    /// Whether an account other than root owns it.
    pub fn is_lower(&self) -> bool {
        self.user != "root"
    }

    /// For messages: `the deploy user deploy`, `the app user app`.
    pub fn describe(&self) -> String {
        match self.owner {
            Owner::Deploy => format!("the deploy user {}", self.user),
            Owner::App => format!("the app user {}", self.user),
        }
    }
}

/// Every directory the config gives to the deploy user or the app, the most
/// specific first (a dir inside another is the inner one's ground).
pub fn grounds(cfg: &Common) -> Vec<Ground<'_>> {
    let mut dirs = vec![Ground {
        dir: &cfg.deploy_dir,
        owner: Owner::Deploy,
        user: &cfg.deploy_user,
    }];
    for d in cfg.dir_settings() {
        let (owner, user) = if d.dir.name == "configuration" {
            (Owner::Deploy, &cfg.deploy_user)
        } else {
            (Owner::App, &cfg.app_user)
        };
        dirs.push(Ground {
            dir: d.path,
            owner,
            user,
        });
    }
    dirs.retain(|g| {
        let dir = g.dir.trim_end_matches('/');
        !dir.is_empty()
    });
    dirs.sort_by_key(|g| std::cmp::Reverse(g.dir.trim_end_matches('/').len()));
    dirs
}

/// The ground `path` lies in (strictly below its directory), if any.
pub fn ground_of<'a>(cfg: &'a Common, path: &str) -> Option<Ground<'a>> {
    grounds(cfg).into_iter().find(|g| inside(path, g.dir))
}

/// The lower account's ground `path` lies in: an account other than root can
/// write or redirect it.
pub fn lower_ground_of<'a>(cfg: &'a Common, path: &str) -> Option<Ground<'a>> {
    ground_of(cfg, path).filter(Ground::is_lower)
}

/// `path` lies below `dir` (not a longer name that starts the same).
pub fn inside(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_means_below_not_a_longer_name() {
        assert!(inside("/srv/app/bin/x", "/srv/app"));
        assert!(inside("/srv/app/bin/x", "/srv/app/"));
        assert!(!inside("/srv/application/x", "/srv/app"));
        assert!(!inside("/srv/app", "/srv/app"));
    }
}

//! The current OS user and primary group names, read with getpwuid_r/getgrgid_r:
//! no `id` subprocess and no parsing of its output (which breaks on SELinux
//! `context=` fields and on names with digits or dashes).

use std::ffi::CStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub group: String,
}

/// The effective user and its primary group; falls back to the numeric ids when
/// the names are unknown (a container without the passwd entry, say).
pub fn current() -> Account {
    // SAFETY: geteuid/getegid never fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    Account {
        user: user_name(uid).unwrap_or_else(|| uid.to_string()),
        group: group_name(gid).unwrap_or_else(|| gid.to_string()),
    }
}

fn user_name(uid: libc::uid_t) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: passwd is plain data; buf outlives the call and its result.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points into buf, NUL-terminated.
        return Some(
            unsafe { CStr::from_ptr(pwd.pw_name) }
                .to_string_lossy()
                .into_owned(),
        );
    }
}

fn group_name(gid: libc::gid_t) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: as in user_name.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe {
            libc::getgrgid_r(
                gid,
                &mut grp,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        // SAFETY: on success gr_name points into buf, NUL-terminated.
        return Some(
            unsafe { CStr::from_ptr(grp.gr_name) }
                .to_string_lossy()
                .into_owned(),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn current_account_matches_the_environment() {
        let account = super::current();
        assert!(!account.user.is_empty());
        assert!(!account.group.is_empty());
        if let Ok(name) = std::env::var("USER") {
            if unsafe { libc::geteuid() } == unsafe { libc::getuid() } {
                assert_eq!(account.user, name);
            }
        }
    }
}

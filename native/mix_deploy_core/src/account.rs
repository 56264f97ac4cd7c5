//! The current OS user and primary group names, read with getpwuid_r/getgrgid_r:
//! no `id` subprocess and no parsing of its output (which breaks on SELinux
//! `context=` fields and on names with digits or dashes).

use std::ffi::{CStr, CString};
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub group: String,
}

/// The effective user and its primary group; falls back to the numeric ids when
/// the names are unknown (a container without the passwd entry, say). Looked up
/// once per pair of ids in a process (every task of a VM asks).
pub fn current() -> Account {
    static LAST: Mutex<Option<((libc::uid_t, libc::gid_t), Account)>> = Mutex::new(None);
    // SAFETY: geteuid/getegid never fail.
    let ids = unsafe { (libc::geteuid(), libc::getegid()) };
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match &*last {
        Some((seen, account)) if *seen == ids => account.clone(),
        _ => {
            let (uid, gid) = ids;
            let account = Account {
                user: user_name(uid).unwrap_or_else(|| uid.to_string()),
                group: group_name(gid).unwrap_or_else(|| gid.to_string()),
            };
            *last = Some((ids, account.clone()));
            account
        }
    }
}

fn user_name(uid: libc::uid_t) -> Option<String> {
    // SAFETY: getpwuid_r fills `entry` with pointers into `buf`, as lookup expects;
    // on success pw_name points into buf, NUL-terminated.
    lookup(
        |entry: &mut libc::passwd, buf, result| unsafe {
            libc::getpwuid_r(uid, entry, buf.as_mut_ptr().cast(), buf.len(), result)
        },
        |entry| unsafe { c_name(entry.pw_name) },
    )
}

fn group_name(gid: libc::gid_t) -> Option<String> {
    // SAFETY: as in user_name, for getgrgid_r and gr_name.
    lookup(
        |entry: &mut libc::group, buf, result| unsafe {
            libc::getgrgid_r(gid, entry, buf.as_mut_ptr().cast(), buf.len(), result)
        },
        |entry| unsafe { c_name(entry.gr_name) },
    )
}

/// A user's uid by name, or the number itself (as chown accepts).
pub fn user_id(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: getpwnam_r fills `entry` with pointers into `buf`, as lookup expects.
    lookup(
        |entry: &mut libc::passwd, buf, result| unsafe {
            libc::getpwnam_r(
                c.as_ptr(),
                entry,
                buf.as_mut_ptr().cast(),
                buf.len(),
                result,
            )
        },
        |entry| entry.pw_uid,
    )
    .or_else(|| name.parse().ok())
}

/// A group's gid by name, or the number itself.
pub fn group_id(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: as in user_id, for getgrnam_r.
    lookup(
        |entry: &mut libc::group, buf, result| unsafe {
            libc::getgrnam_r(
                c.as_ptr(),
                entry,
                buf.as_mut_ptr().cast(),
                buf.len(),
                result,
            )
        },
        |entry| entry.gr_gid,
    )
    .or_else(|| name.parse().ok())
}

/// # Safety
/// `p` points to a NUL-terminated string.
unsafe fn c_name(p: *const libc::c_char) -> String {
    CStr::from_ptr(p).to_string_lossy().into_owned()
}

/// Runs a reentrant passwd/group lookup, growing the buffer on ERANGE, and
/// extracts what the caller wants from the entry found.
fn lookup<T, R>(
    call: impl Fn(&mut T, &mut [u8], &mut *mut T) -> libc::c_int,
    extract: impl Fn(&T) -> R,
) -> Option<R> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: T is a plain C struct (passwd or group); all-zero is a valid value.
        let mut entry: T = unsafe { std::mem::zeroed() };
        let mut result: *mut T = std::ptr::null_mut();
        let rc = call(&mut entry, &mut buf, &mut result);
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        return Some(extract(&entry));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_come_from_the_system_databases() {
        assert_eq!(super::user_name(0).as_deref(), Some("root"));
        assert_eq!(super::group_name(0).as_deref(), Some("root"));
        assert_eq!(super::user_name(4_000_000_000), None);
        assert_eq!(super::user_id("root"), Some(0));
        assert_eq!(super::group_id("root"), Some(0));
        assert_eq!(
            super::user_id("1234"),
            Some(1234),
            "numbers pass, as for chown"
        );
        assert_eq!(super::group_id("no-such-group-here"), None);
    }

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

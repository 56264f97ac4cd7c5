//! Local deploys for `mix deploy.local` and `mix deploy.local.rollback`. They do
//! what the deploy-release and deploy-rollback scripts do (see
//! priv/templates/deploy/release.hbs and rollback.hbs), with the same layout,
//! lock, pruning and messages, so a server deployed by one can be rolled back by
//! the other:
//!
//! - `releases_dir/<UTC YYYYmmddHHMMSS>`, or `-01`, `-02`, ... after the newest
//!   release when that name is taken: names sort in deploy order;
//! - extraction into a hidden `releases_dir/.tmp-*` directory, checked, then
//!   renamed into place;
//! - `current` is a relative symlink, replaced by renaming a new link over it;
//! - an exclusive `flock` on `deploy_dir/.deploy.lock` with a bounded wait;
//! - after a switch, releases beyond `keep_releases` are deleted, never the one
//!   `current` points to nor the one a rollback would pick.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{lchown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::account;
use crate::error::{Error, Errors};
use crate::generate::project_root;
use crate::input::Input;
use crate::resolve::{resolve, Resolved};
use crate::spec::Side;

/// What the local tasks take besides the config: command line options, or the
/// environment variables the scripts read (the task reads them), else defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LocalOptions {
    /// Rollback target, a directory name in releases_dir (`--release`, `RELEASE`).
    pub release: Option<String>,
    /// `--release-vsn`, `RELEASE_VSN`: which version's tar to deploy.
    pub release_vsn: Option<String>,
    /// `RELEASE_NAME`: overrides the release_name config.
    pub release_name: Option<String>,
    /// `RELEASE_TAR`: the tar to deploy, relative to the project or absolute.
    pub release_tar: Option<String>,
    /// `DESTDIR`: prefixes every target path.
    pub destdir: Option<String>,
    /// `LOCK_TIMEOUT`: seconds to wait for another deploy (default 60).
    pub lock_timeout: Option<String>,
    /// `KEEP_RELEASES`: overrides the keep_releases config, as for the scripts.
    pub keep_releases: Option<String>,
}

/// Progress lines, or the lines printed before the error and the error.
pub type Outcome = Result<Vec<String>, (Vec<String>, Errors)>;

/// A deploy operation on a parsed input: logs progress, returns the release name.
pub type Operation = fn(&Input, &LocalOptions, &mut dyn FnMut(String)) -> Result<String, Errors>;

/// Runs `op` on the task's JSON document, collecting its progress lines.
pub fn run_json(json: &str, op: Operation) -> Outcome {
    let mut lines = Vec::new();
    let parsed =
        Input::parse(json).and_then(|input| parse_options(json).map(|options| (input, options)));
    let result = match parsed {
        Ok((input, options)) => op(&input, &options, &mut |line| lines.push(line)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => Ok(lines),
        Err(e) => Err((lines, e)),
    }
}

fn parse_options(json: &str) -> Result<LocalOptions, Error> {
    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        options: LocalOptions,
    }
    serde_json::from_str::<Doc>(json)
        .map(|d| d.options)
        .map_err(|e| Error::Input(e.to_string()))
}

/// Where and as whom a deploy happens, from the resolved config and the options.
#[derive(Debug, Clone)]
pub struct Target {
    /// releases_dir, DESTDIR-prefixed.
    pub releases: PathBuf,
    /// current_dir, DESTDIR-prefixed.
    pub current: PathBuf,
    /// deploy_dir, DESTDIR-prefixed.
    pub deploy_dir: PathBuf,
    pub lock_file: PathBuf,
    /// releases_dir and current_dir as on the target (no DESTDIR), for the link.
    releases_dir: String,
    current_dir: String,
    pub release_name: String,
    user: String,
    group: String,
    keep: usize,
    lock_timeout: Duration,
}

fn nonempty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

fn trim_slash(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    }
}

impl Target {
    pub fn new(r: &Resolved, o: &LocalOptions) -> Result<Target, Error> {
        let destdir = o.destdir.clone().unwrap_or_default();
        let releases_dir = trim_slash(r.view.releases_dir.as_str()).to_string();
        let current_dir = trim_slash(r.view.current_dir.as_str()).to_string();
        let deploy_dir = trim_slash(r.view.deploy_dir.as_str()).to_string();
        let lock_timeout = match nonempty(&o.lock_timeout) {
            None => 60,
            Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().unwrap_or(u64::MAX),
            Some(s) => {
                return Err(Error::Deploy(format!(
                    "LOCK_TIMEOUT must be a number of seconds, got '{s}'"
                )))
            }
        };
        let keep = match nonempty(&o.keep_releases) {
            None => usize::try_from(keep_releases(r).max(1)).unwrap_or(1),
            Some(s) => match s.parse::<usize>() {
                Ok(n) if n > 0 && s.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(Error::Deploy(format!(
                        "KEEP_RELEASES must be a positive number, got '{s}'"
                    )))
                }
            },
        };
        Ok(Target {
            releases: PathBuf::from(format!("{destdir}{releases_dir}")),
            current: PathBuf::from(format!("{destdir}{current_dir}")),
            deploy_dir: PathBuf::from(format!("{destdir}{deploy_dir}")),
            lock_file: PathBuf::from(format!("{destdir}{deploy_dir}/.deploy.lock")),
            releases_dir,
            current_dir,
            release_name: nonempty(&o.release_name)
                .unwrap_or(r.view.release_name.as_str())
                .to_string(),
            user: r.view.deploy_user.as_str().to_string(),
            group: r.view.app_group.as_str().to_string(),
            keep,
            lock_timeout: Duration::from_secs(lock_timeout),
        })
    }

    fn release_path(&self, name: &str) -> PathBuf {
        self.releases.join(name)
    }

    /// `current`'s name for temporary links beside it: `.current.tmp-<pid>`.
    fn tmp_link_prefix(&self) -> String {
        let name = self
            .current
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!(".{name}.tmp-")
    }

    fn current_parent(&self) -> PathBuf {
        match self.current.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

fn io_error(path: &Path, e: io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A release directory name: 14 digits (UTC YYYYmmddHHMMSS), optionally `-NN`.
pub fn is_release_name(name: &str) -> bool {
    let b = name.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b.len() {
        14 => digits(b),
        17 => digits(&b[..14]) && b[14] == b'-' && digits(&b[15..]),
        _ => false,
    }
}

/// Release directory names in `releases`, oldest first.
pub fn list_releases(releases: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(releases) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_release_name(n))
        .filter(|n| releases.join(n).is_dir())
        .collect();
    names.sort();
    names
}

/// The name for a new release: `now`, or after `newest` when that is not older
/// than `now` (same second, or a clock behind it), so names sort in deploy order.
pub fn next_name(newest: Option<&str>, now: &str) -> Result<String, Error> {
    let Some(newest) = newest.filter(|n| is_release_name(n)) else {
        return Ok(now.to_string());
    };
    let base = &newest[..14];
    if base < now {
        return Ok(now.to_string());
    }
    let suffix = newest
        .get(15..)
        .map_or(0, |s| s.parse::<u32>().unwrap_or(0))
        + 1;
    if suffix > 99 {
        return Err(Error::Deploy(format!(
            "no release name left after {newest} (the clock says {now}); remove or rename it"
        )));
    }
    Ok(format!("{base}-{suffix:02}"))
}

/// The newest release older than `name` (the one a rollback picks).
pub fn previous<'a>(releases: &'a [String], name: &str) -> Option<&'a str> {
    releases
        .iter()
        .take_while(|r| r.as_str() < name)
        .last()
        .map(String::as_str)
}

/// Releases to delete: the oldest beyond `keep`, except `current` and `previous`.
pub fn prune_plan<'a>(
    releases: &'a [String],
    keep: usize,
    current: &str,
    previous: Option<&str>,
) -> Vec<&'a str> {
    let excess = releases.len().saturating_sub(keep);
    releases[..excess]
        .iter()
        .map(String::as_str)
        .filter(|r| *r != current && Some(*r) != previous)
        .collect()
}

/// What `current` links to for release `name`: relative when releases_dir is
/// beside or below current, so the link survives DESTDIR and copying the tree.
pub fn link_target(releases_dir: &str, current_dir: &str, name: &str) -> String {
    let parent = match current_dir.rfind('/') {
        Some(i) => &current_dir[..=i],
        None => "",
    };
    let releases = format!("{releases_dir}/");
    match releases.strip_prefix(parent) {
        Some(rest) if !parent.is_empty() => format!("{rest}{name}"),
        _ => format!("{releases}{name}"),
    }
}

/// The name of the release `current` points to, if it is a symlink.
pub fn current_release(current: &Path) -> Option<String> {
    let target = fs::read_link(current).ok()?;
    let target = target.to_string_lossy();
    let target = target.trim_end_matches('/');
    let name = target.rsplit('/').next().unwrap_or(target);
    Some(name.to_string()).filter(|n| !n.is_empty())
}

/// The current UTC time as YYYYmmddHHMMSS.
pub fn utc_stamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let t = libc::time_t::try_from(secs).unwrap_or(libc::time_t::MAX);
    // SAFETY: tm is plain data; gmtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::gmtime_r(&t, &mut tm) };
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// The deploy lock, held until dropped (closing the file releases the flock).
pub struct Lock(#[allow(dead_code)] File);

fn try_flock(file: &File) -> io::Result<bool> {
    // SAFETY: the descriptor is open for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => Ok(false),
        _ => Err(e),
    }
}

/// Takes the deploy lock shared with the scripts, waiting at most the timeout.
pub fn take_lock(t: &Target, log: &mut dyn FnMut(String)) -> Result<Lock, Error> {
    let path = &t.lock_file;
    if !path.exists() {
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| {
                Error::Deploy(format!(
                    "cannot create the lock file {}: {e}",
                    path.display()
                ))
            })?;
    }
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    if try_flock(&file).map_err(|e| io_error(path, e))? {
        return Ok(Lock(file));
    }
    let secs = t.lock_timeout.as_secs();
    log(format!(
        "==> Waiting up to {secs}s for another deploy to finish (lock {})",
        path.display()
    ));
    // An absurdly long timeout (no representable deadline) waits for ever.
    let deadline = Instant::now().checked_add(t.lock_timeout);
    let step = Duration::from_millis(100);
    loop {
        let now = Instant::now();
        let wait = match deadline {
            Some(d) if now >= d => {
                return Err(Error::Deploy(format!(
                    "another deploy or rollback still holds {} after {secs}s; nothing was changed (set LOCK_TIMEOUT to wait longer)",
                    path.display()
                )))
            }
            Some(d) => (d - now).min(step),
            None => step,
        };
        sleep(wait);
        if try_flock(&file).map_err(|e| io_error(path, e))? {
            return Ok(Lock(file));
        }
    }
}

/// The owner's ids, or the error the scripts give when chown fails.
fn owner_ids(t: &Target) -> Result<(u32, u32), Error> {
    let fail = |why: String| {
        Error::Deploy(format!(
            "cannot set owner {u}:{g}: {why}",
            u = t.user,
            g = t.group
        ))
    };
    let uid = account::user_id(&t.user).ok_or_else(|| fail(format!("no user {}", t.user)))?;
    let gid = account::group_id(&t.group).ok_or_else(|| fail(format!("no group {}", t.group)))?;
    Ok((uid, gid))
}

fn chown_error(t: &Target, e: &io::Error) -> Error {
    Error::Deploy(format!(
        "cannot set owner {u}:{g} (run as root, or as {u} in group {g}): {e}",
        u = t.user,
        g = t.group
    ))
}

/// `chown -R` (symlinks themselves, never their targets) plus `chmod g+x` on
/// regular files with any execute bit, as the scripts do.
fn set_owner_and_modes(t: &Target, dir: &Path, uid: u32, gid: u32) -> Result<(), Error> {
    let meta = fs::symlink_metadata(dir).map_err(|e| io_error(dir, e))?;
    lchown(dir, Some(uid), Some(gid)).map_err(|e| chown_error(t, &e))?;
    if meta.is_dir() {
        for entry in fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
            let path = entry.map_err(|e| io_error(dir, e))?.path();
            set_owner_and_modes(t, &path, uid, gid)?;
        }
    } else if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
        let mode = meta.permissions().mode() | 0o010;
        fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(|e| io_error(dir, e))?;
    }
    Ok(())
}

fn is_executable_file(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Refuses a `current` that exists and is not a symlink (it cannot be replaced).
fn check_current(t: &Target) -> Result<(), Error> {
    match fs::symlink_metadata(&t.current) {
        Ok(m) if !m.file_type().is_symlink() => Err(Error::Deploy(format!(
            "{} is not a symlink; move it out of the way (releases are switched by replacing the symlink)",
            t.current.display()
        ))),
        _ => Ok(()),
    }
}

/// Points `current` at release `name` atomically: a new link under a temporary
/// name beside it, renamed over it.
fn switch_current(
    t: &Target,
    name: &str,
    owner: (u32, u32),
    log: &mut dyn FnMut(String),
) -> Result<(), Error> {
    let from = current_release(&t.current);
    log(format!(
        "==> Switching current from {} to {name}",
        from.as_deref().unwrap_or("(none)")
    ));
    let tmp_link =
        t.current_parent()
            .join(format!("{}{}", t.tmp_link_prefix(), std::process::id()));
    let _ = fs::remove_file(&tmp_link);
    symlink(
        link_target(&t.releases_dir, &t.current_dir, name),
        &tmp_link,
    )
    .map_err(|e| io_error(&tmp_link, e))?;
    let result = lchown(&tmp_link, Some(owner.0), Some(owner.1))
        .map_err(|e| chown_error(t, &e))
        .and_then(|_| fs::rename(&tmp_link, &t.current).map_err(|e| io_error(&t.current, e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp_link);
    }
    result
}

/// Deletes releases beyond keep_releases and leftovers of interrupted deploys.
fn prune(t: &Target, log: &mut dyn FnMut(String)) -> Result<(), Error> {
    let current = current_release(&t.current).unwrap_or_default();
    let all = list_releases(&t.releases);
    let keep_previous = previous(&all, &current);
    for name in prune_plan(&all, t.keep, &current, keep_previous) {
        log(format!("==> Removing old release {name}"));
        let path = t.release_path(name);
        fs::remove_dir_all(&path).map_err(|e| io_error(&path, e))?;
    }
    let link_prefix = t.tmp_link_prefix();
    for (dir, prefix) in [
        (t.releases.clone(), ".tmp-"),
        (t.current_parent(), link_prefix.as_str()),
    ] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                let path = entry.path();
                let removed = match entry.file_type() {
                    Ok(ft) if ft.is_dir() => fs::remove_dir_all(&path),
                    _ => fs::remove_file(&path),
                };
                removed.map_err(|e| io_error(&path, e))?;
            }
        }
    }
    Ok(())
}

/// The release tar (as shown, as a path) from the options or the config: the
/// version is RELEASE_VSN, else that of the release last built (its
/// start_erl.data), else the config's version, exactly as the script decides.
fn release_tar(
    r: &Resolved,
    o: &LocalOptions,
    root: &Path,
    release_name: &str,
) -> (String, PathBuf) {
    if let Some(tar) = nonempty(&o.release_tar) {
        return (tar.to_string(), root.join(tar));
    }
    let build_path = r.view.build_path.as_str();
    let vsn = match nonempty(&o.release_vsn) {
        Some(v) => v.to_string(),
        None => {
            let start_erl = root.join(format!(
                "{build_path}/rel/{release_name}/releases/start_erl.data"
            ));
            fs::read_to_string(start_erl)
                .ok()
                .and_then(|text| {
                    text.lines()
                        .next()
                        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
                })
                .unwrap_or_else(|| r.view.version.clone())
        }
    };
    let shown = if r.view.release_system.as_str() == "distillery" {
        format!("{build_path}/rel/{release_name}/releases/{vsn}/{release_name}.tar.gz")
    } else {
        format!("{build_path}/{release_name}-{vsn}.tar.gz")
    };
    let path = root.join(&shown);
    (shown, path)
}

/// Extracts `tar` into `dir` with the system's tar, as the scripts do; Err holds
/// tar's messages. The exit status comes back through `sh` on the pipe: inside
/// the Erlang VM SIGCHLD is ignored, so the kernel reaps children at once and
/// waitpid cannot report their status.
fn extract(tar: &Path, dir: &Path) -> Result<(), String> {
    const MARK: &str = "tar exit status: ";
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            r#"tar -xzf "$1" --no-same-owner -C "$2" 2>&1; echo "{MARK}$?""#
        ))
        .arg("sh")
        .arg(tar)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let mut output = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut output);
    }
    // Reaps it where SIGCHLD is not ignored; inside the VM this fails harmlessly.
    let _ = child.wait();
    let (messages, status) = output
        .trim_end()
        .rsplit_once(MARK)
        .map_or((output.trim(), ""), |(m, s)| (m.trim(), s));
    if status == "0" {
        Ok(())
    } else if messages.is_empty() {
        Err(format!("tar failed (status {status:?})"))
    } else {
        Err(messages.to_string())
    }
}

/// keep_releases of the deploy side (the only side a local deploy resolves).
fn keep_releases(r: &Resolved) -> i64 {
    match &r.view.sided {
        crate::view::Sided::Deploy(d) => d.keep_releases,
        crate::view::Sided::Systemd(_) => unreachable!("release.rs resolves the deploy side"),
    }
}

fn missing_tar(r: &Resolved, shown: &str) -> Error {
    let hint = if r.view.release_system.as_str() == "distillery" {
        "  Build it with 'mix distillery.release', or set RELEASE_VSN or RELEASE_TAR."
    } else {
        "  Build it with 'mix release'; the release in mix.exs needs steps: [:assemble, :tar]\n  to write the tar. Or set RELEASE_VSN or RELEASE_TAR."
    };
    Error::Deploy(format!("release tar not found: {shown}\n{hint}"))
}

/// `mix deploy.local`: deploys the project's release tar; returns the new
/// release's directory name.
pub fn deploy(
    input: &Input,
    o: &LocalOptions,
    log: &mut dyn FnMut(String),
) -> Result<String, Errors> {
    let r = resolve(input, Side::Deploy)?;
    let t = Target::new(&r, o)?;
    let (shown, tar) = release_tar(&r, o, &project_root(input), &t.release_name);
    if !tar.is_file() {
        return Err(missing_tar(&r, &shown).into());
    }
    check_current(&t)?;
    let owner = owner_ids(&t)?;
    for dir in [&t.releases, &t.deploy_dir] {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    let _lock = take_lock(&t, log)?;

    let name = next_name(
        list_releases(&t.releases).last().map(String::as_str),
        &utc_stamp(),
    )?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .rand_bytes(8)
        .tempdir_in(&t.releases)
        .map_err(|e| io_error(&t.releases, e))?;
    let dest = t.release_path(&name);
    log(format!("==> Extracting {shown} to {}", dest.display()));
    if let Err(message) = extract(&tar, tmp.path()) {
        return Err(Error::Deploy(format!(
            "cannot extract {shown} (truncated or not a tar.gz?); current is unchanged\n{message}"
        ))
        .into());
    }
    let exe = tmp.path().join("bin").join(&t.release_name);
    if !is_executable_file(&exe) {
        return Err(Error::Deploy(format!(
            "{shown} has no executable bin/{} (is RELEASE_NAME right?); current is unchanged",
            t.release_name
        ))
        .into());
    }

    log(format!(
        "==> Setting owner {}:{}, release executables group-executable",
        t.user, t.group
    ));
    set_owner_and_modes(&t, tmp.path(), owner.0, owner.1)?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o750))
        .map_err(|e| io_error(tmp.path(), e))?;

    if fs::symlink_metadata(&dest).is_ok() {
        return Err(Error::Deploy(format!("{} already exists", dest.display())).into());
    }
    fs::rename(tmp.path(), &dest).map_err(|e| io_error(&dest, e))?;
    // Renamed away: nothing left for the guard to delete.
    let _ = tmp.keep();

    switch_current(&t, &name, owner, log)?;
    prune(&t, log)?;
    log(format!(
        "==> Deployed {name}; restart the service to run it"
    ));
    Ok(name)
}

/// `mix deploy.local.rollback`: points current at the previous release, or at
/// `release`; returns the release switched to.
pub fn rollback(
    input: &Input,
    o: &LocalOptions,
    log: &mut dyn FnMut(String),
) -> Result<String, Errors> {
    let r = resolve(input, Side::Deploy)?;
    let t = Target::new(&r, o)?;
    check_current(&t)?;
    if !t.deploy_dir.is_dir() {
        return Err(Error::Deploy(format!(
            "{} does not exist: nothing is deployed",
            t.deploy_dir.display()
        ))
        .into());
    }
    let _lock = take_lock(&t, log)?;

    let Some(from) = current_release(&t.current) else {
        return Err(Error::Deploy(format!(
            "{} does not point to a release: nothing to roll back",
            t.current.display()
        ))
        .into());
    };
    let all = list_releases(&t.releases);
    let to = match nonempty(&o.release) {
        Some(name) => {
            if name.contains('/') || name.starts_with('.') {
                return Err(Error::Deploy(format!(
                    "RELEASE must be the name of a directory in {}, got '{name}'",
                    t.releases.display()
                ))
                .into());
            }
            if !t.release_path(name).is_dir() {
                return Err(Error::Deploy(format!(
                    "no release {name} in {} (releases: {})",
                    t.releases.display(),
                    all.join(" ")
                ))
                .into());
            }
            name.to_string()
        }
        None => match previous(&all, &from) {
            Some(name) => name.to_string(),
            None => {
                return Err(Error::Deploy(format!(
                    "no release older than {from} in {}; current is unchanged",
                    t.releases.display()
                ))
                .into())
            }
        },
    };
    if to == from {
        log(format!("==> current already points to {to}"));
        return Ok(to);
    }
    if !is_executable_file(&t.release_path(&to).join("bin").join(&t.release_name)) {
        return Err(Error::Deploy(format!(
            "release {to} has no executable bin/{}; current is unchanged",
            t.release_name
        ))
        .into());
    }
    let owner = owner_ids(&t)?;
    switch_current(&t, &to, owner, log)?;
    log(format!(
        "==> Rolled back to {to}; restart the service to run it"
    ));
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn release_names_are_timestamps_with_an_optional_suffix() {
        assert!(is_release_name("20261126201501"));
        assert!(is_release_name("20261126201501-01"));
        assert!(!is_release_name("2026112620150"));
        assert!(!is_release_name("20261126201501-1"));
        assert!(!is_release_name("20181114T072116"));
        assert!(!is_release_name(".tmp-abcdefgh"));
    }

    #[test]
    fn next_name_orders_same_second_and_clock_behind() {
        let now = "20261126201501";
        assert_eq!(next_name(None, now).unwrap(), now);
        assert_eq!(next_name(Some("20261126201500"), now).unwrap(), now);
        assert_eq!(next_name(Some(now), now).unwrap(), "20261126201501-01");
        assert_eq!(
            next_name(Some("20261126201501-09"), now).unwrap(),
            "20261126201501-10"
        );
        // A clock behind the newest release still gives a later name.
        assert_eq!(
            next_name(Some("29991231235959"), now).unwrap(),
            "29991231235959-01"
        );
        assert!(next_name(Some("20261126201501-99"), now).is_err());
        let mut seq = vec![now.to_string()];
        for _ in 0..20 {
            let next = next_name(seq.last().map(String::as_str), now).unwrap();
            assert!(next > *seq.last().unwrap(), "{next} sorts after {seq:?}");
            seq.push(next);
        }
    }

    #[test]
    fn previous_is_the_newest_older_release() {
        let all = names(&["20260101000000", "20260101000000-01", "20260102000000"]);
        assert_eq!(previous(&all, "20260102000000"), Some("20260101000000-01"));
        assert_eq!(previous(&all, "20260101000000-01"), Some("20260101000000"));
        assert_eq!(previous(&all, "20260101000000"), None);
        assert_eq!(previous(&all, ""), None);
    }

    #[test]
    fn prune_keeps_current_and_the_rollback_target() {
        let all = names(&["1", "2", "3", "4", "5", "6"]);
        assert_eq!(prune_plan(&all, 3, "6", Some("5")), vec!["1", "2", "3"]);
        assert_eq!(prune_plan(&all, 3, "2", Some("1")), vec!["3"]);
        assert_eq!(
            prune_plan(&all, 1, "6", Some("5")),
            vec!["1", "2", "3", "4"]
        );
        assert!(prune_plan(&all, 10, "6", Some("5")).is_empty());
    }

    #[test]
    fn link_target_is_relative_when_it_can_be() {
        assert_eq!(
            link_target("/srv/foo/releases", "/srv/foo/current", "x"),
            "releases/x"
        );
        assert_eq!(
            link_target("/srv/foo/r/all", "/srv/foo/current", "x"),
            "r/all/x"
        );
        assert_eq!(
            link_target("/data/releases", "/srv/foo/current", "x"),
            "/data/releases/x"
        );
    }

    #[test]
    fn utc_stamp_is_a_release_name() {
        assert!(is_release_name(&utc_stamp()));
    }
}

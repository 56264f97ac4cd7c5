//! Local deploys and rollbacks (mix deploy.local, mix deploy.local.rollback)
//! against a real directory tree, with small fake release tars built by `tar`.

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use mix_deploy_core::account;
use mix_deploy_core::api;
use serde_json::{json, Value};

/// A project dir with release tars, and a deploy_dir under the same temp dir.
struct Site {
    _tmp: tempfile::TempDir,
    project: PathBuf,
    deploy_dir: PathBuf,
    extra: Vec<(String, Value)>,
}

impl Site {
    fn new() -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("project");
        let deploy_dir = tmp.path().join("srv/foo");
        fs::create_dir_all(&project).unwrap();
        Site {
            _tmp: tmp,
            project,
            deploy_dir,
            extra: Vec::new(),
        }
    }

    fn with(mut self, key: &str, value: Value) -> Site {
        self.extra.push((key.into(), value));
        self
    }

    /// `_build/prod/foo_bar-<vsn>.tar.gz` with `bin/foo_bar` printing the version.
    fn build(&self, vsn: &str) -> PathBuf {
        let src = self.project.join(format!("src-{vsn}"));
        fs::create_dir_all(src.join("bin")).unwrap();
        fs::create_dir_all(src.join("lib")).unwrap();
        let exe = src.join("bin/foo_bar");
        fs::write(&exe, format!("#!/bin/sh\necho version={vsn}\n")).unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(src.join("lib/data"), "data").unwrap();
        let tar = self
            .project
            .join(format!("_build/prod/foo_bar-{vsn}.tar.gz"));
        fs::create_dir_all(tar.parent().unwrap()).unwrap();
        let ok = Command::new("tar")
            .arg("-czf")
            .arg(&tar)
            .arg("-C")
            .arg(&src)
            .arg(".")
            .status()
            .unwrap()
            .success();
        assert!(ok);
        tar
    }

    fn doc(&self, options: Value) -> String {
        let me = account::current();
        let mut config =
            vec![json!({"tuple": [{"atom": "deploy_dir"}, self.deploy_dir.to_str().unwrap()]})];
        for (k, v) in &self.extra {
            config.push(json!({"tuple": [{"atom": k}, v]}));
        }
        json!({
            "project": {"app": "foo_bar", "version": "0.1.0", "mix_env": "prod",
                        "build_path": "_build/prod", "project_dir": self.project.to_str().unwrap()},
            "account": {"user": me.user, "group": me.group},
            "config": config,
            "options": options,
        })
        .to_string()
    }

    fn deploy(&self, vsn: &str) -> Result<Vec<String>, String> {
        self.deploy_with(json!({"release_vsn": vsn}))
    }

    fn deploy_with(&self, options: Value) -> Result<Vec<String>, String> {
        api::deploy_local(&self.doc(options)).map_err(|(_, e)| e.to_string())
    }

    fn rollback(&self, release: Option<&str>) -> Result<Vec<String>, String> {
        api::rollback_local(&self.doc(json!({"release": release}))).map_err(|(_, e)| e.to_string())
    }

    fn releases(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.deploy_dir.join("releases"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn current_link(&self) -> Option<String> {
        fs::read_link(self.deploy_dir.join("current"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }

    /// What `current/bin/foo_bar` prints.
    fn run_current(&self) -> String {
        run(&self.deploy_dir.join("current/bin/foo_bar"))
    }

    fn version_of(&self, release: &str) -> String {
        run(&self
            .deploy_dir
            .join("releases")
            .join(release)
            .join("bin/foo_bar"))
    }
}

fn run(exe: &Path) -> String {
    let out = Command::new(exe).output().unwrap();
    assert!(out.status.success(), "{} failed", exe.display());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn deploy_extracts_checks_and_links_relatively() {
    let site = Site::new();
    site.build("0.1.0");
    let lines = site.deploy("0.1.0").unwrap();
    let releases = site.releases();
    assert_eq!(releases.len(), 1, "{releases:?}");
    let name = &releases[0];
    assert!(mix_deploy_core::release::is_release_name(name), "{name}");
    assert_eq!(site.current_link().unwrap(), format!("releases/{name}"));
    assert_eq!(site.run_current(), "version=0.1.0");
    assert!(
        lines.contains(&format!("==> Switching current from (none) to {name}")),
        "{lines:?}"
    );

    let dir = site.deploy_dir.join("releases").join(name);
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o750
    );
    // Group-executable, as the app user runs it through app_group.
    let exe = fs::metadata(dir.join("bin/foo_bar"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(exe & 0o010, 0o010, "{exe:o}");
    let data = fs::metadata(dir.join("lib/data"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(data & 0o111, 0, "plain files stay non-executable: {data:o}");
}

#[test]
fn back_to_back_deploys_get_distinct_ordered_directories() {
    let site = Site::new().with("keep_releases", json!(10));
    for i in 1..=6 {
        site.build(&format!("0.{i}.0"));
        site.deploy(&format!("0.{i}.0")).unwrap();
    }
    let releases = site.releases();
    assert_eq!(releases.len(), 6, "{releases:?}");
    let versions: Vec<String> = releases.iter().map(|r| site.version_of(r)).collect();
    let expected: Vec<String> = (1..=6).map(|i| format!("version=0.{i}.0")).collect();
    assert_eq!(versions, expected, "name order is deploy order");
}

#[test]
fn a_taken_name_or_a_clock_behind_gets_a_suffix() {
    let site = Site::new();
    fs::create_dir_all(site.deploy_dir.join("releases/29991231235959")).unwrap();
    site.build("0.1.0");
    site.deploy("0.1.0").unwrap();
    site.deploy("0.1.0").unwrap();
    assert_eq!(
        site.releases(),
        vec!["29991231235959", "29991231235959-01", "29991231235959-02"]
    );
    assert_eq!(site.current_link().unwrap(), "releases/29991231235959-02");
}

#[test]
fn missing_tar_fails_naming_path_and_tar_step() {
    let site = Site::new();
    let err = site.deploy("9.9.9").unwrap_err();
    assert!(err.contains("_build/prod/foo_bar-9.9.9.tar.gz"), "{err}");
    assert!(err.contains("steps: [:assemble, :tar]"), "{err}");
    assert!(!site.deploy_dir.exists(), "nothing created");
}

#[test]
fn truncated_tar_fails_and_changes_nothing() {
    let site = Site::new();
    site.build("0.1.0");
    site.deploy("0.1.0").unwrap();
    let before = site.releases();
    let tar = site.build("0.2.0");
    let bytes = fs::read(&tar).unwrap();
    fs::write(&tar, &bytes[..bytes.len() / 2]).unwrap();
    let err = site.deploy("0.2.0").unwrap_err();
    assert!(err.contains("cannot extract"), "{err}");
    assert_eq!(site.releases(), before, "no new directory, no leftovers");
    assert_eq!(site.run_current(), "version=0.1.0");
}

#[test]
fn a_tar_without_the_release_executable_is_refused() {
    let site = Site::new();
    site.build("0.1.0");
    let err = site
        .deploy_with(json!({"release_vsn": "0.1.0", "release_name": "other"}))
        .unwrap_err();
    assert!(err.contains("_build/prod/other-0.1.0.tar.gz"), "{err}");
    let tar = site.project.join("_build/prod/foo_bar-0.1.0.tar.gz");
    let err = site
        .deploy_with(json!({"release_tar": tar.to_str().unwrap(), "release_name": "other"}))
        .unwrap_err();
    assert!(err.contains("no executable bin/other"), "{err}");
    assert!(site.releases().is_empty());
    assert!(site.current_link().is_none());
}

#[test]
fn version_defaults_to_the_release_last_built() {
    let site = Site::new();
    site.build("0.3.0");
    let start_erl = site
        .project
        .join("_build/prod/rel/foo_bar/releases/start_erl.data");
    fs::create_dir_all(start_erl.parent().unwrap()).unwrap();
    fs::write(&start_erl, "14.2 0.3.0\n").unwrap();
    site.deploy_with(json!({})).unwrap();
    assert_eq!(site.run_current(), "version=0.3.0");
}

#[test]
fn rollback_chain_named_release_and_the_oldest() {
    let site = Site::new();
    for v in ["0.1.0", "0.2.0", "0.3.0"] {
        site.build(v);
        site.deploy(v).unwrap();
    }
    let r = site.releases();
    let lines = site.rollback(None).unwrap();
    assert!(
        lines.contains(&format!("==> Switching current from {} to {}", r[2], r[1])),
        "{lines:?}"
    );
    assert_eq!(site.run_current(), "version=0.2.0");
    site.rollback(None).unwrap();
    assert_eq!(site.run_current(), "version=0.1.0");
    let err = site.rollback(None).unwrap_err();
    assert!(err.contains("no release older than"), "{err}");
    assert_eq!(site.current_link().unwrap(), format!("releases/{}", r[0]));

    site.rollback(Some(&r[2])).unwrap();
    assert_eq!(site.run_current(), "version=0.3.0");
    let err = site.rollback(Some("20000101000000")).unwrap_err();
    assert!(err.contains("no release 20000101000000"), "{err}");
    let err = site.rollback(Some("../x")).unwrap_err();
    assert!(err.contains("RELEASE must be the name"), "{err}");
    assert_eq!(site.run_current(), "version=0.3.0");
}

#[test]
fn rollback_with_nothing_deployed_fails() {
    let site = Site::new();
    assert!(site
        .rollback(None)
        .unwrap_err()
        .contains("nothing is deployed"));
    fs::create_dir_all(&site.deploy_dir).unwrap();
    assert!(site
        .rollback(None)
        .unwrap_err()
        .contains("nothing to roll back"));
}

#[test]
fn pruning_keeps_n_plus_never_current_or_rollback_target() {
    let site = Site::new().with("keep_releases", json!(3));
    for i in 1..=5 {
        site.build(&format!("0.{i}.0"));
        site.deploy(&format!("0.{i}.0")).unwrap();
    }
    assert_eq!(site.releases().len(), 3);
    let kept: Vec<String> = site.releases().iter().map(|r| site.version_of(r)).collect();
    assert_eq!(kept, ["version=0.3.0", "version=0.4.0", "version=0.5.0"]);

    // With keep_releases 1 the rollback target survives too.
    let site = Site::new().with("keep_releases", json!(1));
    for i in 1..=3 {
        site.build(&format!("0.{i}.0"));
        site.deploy(&format!("0.{i}.0")).unwrap();
    }
    let r = site.releases();
    assert_eq!(r.len(), 2, "{r:?}");
    site.rollback(None).unwrap();
    assert_eq!(site.run_current(), "version=0.2.0");
}

#[test]
fn leftovers_of_an_interrupted_deploy_are_removed_and_never_picked() {
    let site = Site::new();
    site.build("0.1.0");
    site.deploy("0.1.0").unwrap();
    let stale = site.deploy_dir.join("releases/.tmp-interrupted");
    fs::create_dir_all(stale.join("bin")).unwrap();
    assert!(site
        .rollback(None)
        .unwrap_err()
        .contains("no release older"));
    site.deploy("0.1.0").unwrap();
    assert!(!stale.exists());
}

#[test]
fn destdir_prefixes_every_target_path() {
    let site = Site::new();
    site.build("0.1.0");
    let stage = site.project.join("stage");
    site.deploy_with(json!({"release_vsn": "0.1.0", "destdir": stage.to_str().unwrap()}))
        .unwrap();
    assert!(!site.deploy_dir.exists());
    let staged = PathBuf::from(format!("{}{}", stage.display(), site.deploy_dir.display()));
    let link = fs::read_link(staged.join("current")).unwrap();
    assert!(link.starts_with("releases"), "{}", link.display());
    assert_eq!(run(&staged.join("current/bin/foo_bar")), "version=0.1.0");
}

#[test]
fn a_held_lock_makes_the_deploy_give_up_after_the_timeout() {
    let site = Site::new();
    site.build("0.1.0");
    fs::create_dir_all(&site.deploy_dir).unwrap();
    let lock = fs::File::create(site.deploy_dir.join(".deploy.lock")).unwrap();
    // SAFETY: the descriptor is open while the test holds `lock`.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let err = site
        .deploy_with(json!({"release_vsn": "0.1.0", "lock_timeout": "0"}))
        .unwrap_err();
    assert!(err.contains("still holds"), "{err}");
    assert!(site.releases().is_empty());
    drop(lock);
    site.deploy("0.1.0").unwrap();
}

#[test]
fn concurrent_deploys_both_land_whole() {
    let site = Site::new().with("keep_releases", json!(10));
    site.build("0.1.0");
    site.build("0.2.0");
    std::thread::scope(|s| {
        let a = s.spawn(|| site.deploy("0.1.0"));
        let b = s.spawn(|| site.deploy("0.2.0"));
        a.join().unwrap().unwrap();
        b.join().unwrap().unwrap();
    });
    let r = site.releases();
    assert_eq!(r.len(), 2, "{r:?}");
    let mut versions: Vec<String> = r.iter().map(|n| site.version_of(n)).collect();
    versions.sort();
    assert_eq!(versions, ["version=0.1.0", "version=0.2.0"]);
    assert_eq!(site.current_link().unwrap(), format!("releases/{}", r[1]));
}

#[test]
fn a_directory_in_place_of_current_is_refused() {
    let site = Site::new();
    site.build("0.1.0");
    fs::create_dir_all(site.deploy_dir.join("current")).unwrap();
    let err = site.deploy("0.1.0").unwrap_err();
    assert!(err.contains("is not a symlink"), "{err}");
    assert!(site.releases().is_empty());
}

#[test]
fn bad_lock_timeout_is_an_error() {
    let site = Site::new();
    site.build("0.1.0");
    let err = site
        .deploy_with(json!({"release_vsn": "0.1.0", "lock_timeout": "soon"}))
        .unwrap_err();
    assert!(err.contains("LOCK_TIMEOUT"), "{err}");
}

#[test]
fn a_huge_lock_timeout_waits_instead_of_overflowing() {
    let site = Site::new();
    site.build("0.1.0");
    fs::create_dir_all(&site.deploy_dir).unwrap();
    let lock = fs::File::create(site.deploy_dir.join(".deploy.lock")).unwrap();
    // SAFETY: the descriptor is open while the test holds `lock`.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    std::thread::scope(|s| {
        let deploy = s.spawn(|| {
            api::deploy_local(
                &site.doc(json!({"release_vsn": "0.1.0", "lock_timeout": "99999999999999999999"})),
            )
        });
        // Whenever the lock is released, the waiting deploy goes ahead.
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(lock);
        let lines = deploy
            .join()
            .unwrap()
            .map_err(|(_, e)| e.to_string())
            .unwrap();
        assert!(
            lines.iter().any(|l| l.starts_with("==> Deployed")),
            "{lines:?}"
        );
    });
}

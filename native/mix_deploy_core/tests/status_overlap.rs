//! deploy-status under restart_method :overlap shows the live instance: the one
//! the socket's drop-in names (the overlap fixture's generated script, run with
//! DESTDIR and a fake systemctl that says which unit it was asked about).

use std::fs;
use std::process::Command;

fn status(dropin: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    if let Some(instance) = dropin {
        let d = root.join("etc/systemd/system/ovl-app.socket.d");
        fs::create_dir_all(&d).unwrap();
        // The drop-in's name is the plan's live_dropin; any *.conf there would do for
        // systemd, the script reads the one name.
        let script = fs::read_to_string("tests/golden/overlap/bin/deploy-status").unwrap();
        let name = script
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    "overlap_dropin=\"${DESTDIR:-}/etc/systemd/system/${SERVICE_NAME}.socket.d/",
                )
            })
            .and_then(|rest| rest.strip_suffix('"'))
            .expect("overlap_dropin line")
            .to_string();
        fs::write(
            d.join(name),
            format!("[Socket]\nService=ovl-app@{instance}.service\n"),
        )
        .unwrap();
    }
    let fake = root.join("systemctl");
    fs::write(
        &fake,
        "#!/bin/sh\nprintf 'ActiveState=active\\nSubState=running\\nMainPID=0\\nX=%s\\n' \"$2\"\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&fake)
        .status()
        .unwrap();
    let out = Command::new("bash")
        .arg("tests/golden/overlap/bin/deploy-status")
        .env("DESTDIR", root)
        .env("SYSTEMCTL", &fake)
        .env("STATUS_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn deploy_status_shows_the_live_instance() {
    let json = status(Some("b"));
    assert!(
        json.contains(r#""unit":"ovl-app@b","instance":"b""#),
        "{json}"
    );
    // Without the drop-in the socket's own instance is live.
    let json = status(None);
    assert!(
        json.contains(r#""unit":"ovl-app@a","instance":"a""#),
        "{json}"
    );
}

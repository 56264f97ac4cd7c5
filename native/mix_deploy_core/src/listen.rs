//! The addresses of `listen_stream`: which `ListenStream=` forms are accepted and
//! what is wrong with one that is not. systemd reads a bad address only when the
//! socket unit loads, and then refuses the whole unit; checking here turns that
//! into an error at generation that names the entry.

use std::net::{Ipv4Addr, Ipv6Addr};

/// What a valid entry looks like, for error messages.
pub const EXPECTED: &str = "a ListenStream= address: a port (\"8080\"), IPv4 and port (\"127.0.0.1:8080\"), IPv6 in brackets and port (\"[::]:443\"), either with an interface after % (\"[fe80::1]:80%eth0\"), an absolute socket path (\"/run/foo/http.sock\"), \"@abstract-name\" or \"vsock:CID:PORT\"";

/// The longest path of an AF_UNIX socket (sun_path holds 108 bytes with the NUL).
const MAX_UNIX_PATH: usize = 107;

/// Why `entry` is not an address `ListenStream=` accepts; None when it is fine.
pub fn problem(entry: &str) -> Option<String> {
    if entry.contains(['\n', '\r']) {
        return Some("a newline would start a new unit directive".into());
    }
    if entry.chars().any(char::is_control) {
        return Some("control characters have no place in an address".into());
    }
    if entry.is_empty() {
        return Some("the address is empty".into());
    }
    if entry.chars().any(char::is_whitespace) {
        return Some(
            "white space separates nothing in one address; give a list of entries instead".into(),
        );
    }
    if entry.contains("://") {
        return Some("a URL is not an address: give ADDRESS:PORT, e.g. \"127.0.0.1:8080\"".into());
    }
    if entry.starts_with('/') {
        return unix_path(entry);
    }
    if let Some(name) = entry.strip_prefix('@') {
        return (name.is_empty() || name.len() > MAX_UNIX_PATH - 1).then(|| {
            format!(
                "an abstract socket name of 1 to {} bytes",
                MAX_UNIX_PATH - 1
            )
        });
    }
    if let Some(rest) = entry.strip_prefix("vsock:") {
        return vsock(rest);
    }
    // "[x]:y%dev" and "v.w.x.y:z%dev" bind to one network interface.
    let (address, device) = match entry.rsplit_once('%') {
        Some((a, d)) => (a, Some(d)),
        None => (entry, None),
    };
    if let Some(device) = device {
        if device.contains(']') {
            return Some("an interface goes after the port: \"[ADDRESS]:PORT%DEVICE\"".into());
        }
        let ok = !device.is_empty()
            && device.len() <= 15
            && device
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Some(format!(
                "{device:?} after % is not a network interface name"
            ));
        }
    }
    if let Some(rest) = address.strip_prefix('[') {
        let Some((host, port_part)) = rest.split_once("]:") else {
            return Some(if rest.contains(']') {
                "no port after the IPv6 address: write [ADDRESS]:PORT".into()
            } else {
                "an IPv6 address needs its closing ] and a port: [ADDRESS]:PORT".into()
            });
        };
        if host.parse::<Ipv6Addr>().is_err() {
            return Some(format!("{host:?} is not an IPv6 address"));
        }
        return port(port_part);
    }
    match address.rsplit_once(':') {
        Some((host, port_part)) if host.contains(':') => Some(format!(
            "an IPv6 address goes in brackets: \"[{host}]:{port_part}\""
        )),
        Some((host, port_part)) => {
            if host.parse::<Ipv4Addr>().is_err() {
                return Some(format!(
                    "{host:?} is not an IPv4 address (host names are not resolved; ListenStream= takes addresses)"
                ));
            }
            port(port_part)
        }
        None if device.is_none() && address.chars().all(|c| c.is_ascii_digit()) => port(address),
        None if address.parse::<Ipv4Addr>().is_ok() || address.parse::<Ipv6Addr>().is_ok() => {
            Some("no port: add one, e.g. \"127.0.0.1:8080\"".into())
        }
        None => Some("not a port, an address with a port or an absolute path".into()),
    }
}

fn port(text: &str) -> Option<String> {
    if text.is_empty() {
        return Some("no port after the address".into());
    }
    if !text.chars().all(|c| c.is_ascii_digit()) {
        return Some(format!("{text:?} is not a port number"));
    }
    match text.parse::<u32>() {
        Ok(1..=65535) => None,
        _ => Some(format!("port {text} is out of range (1 to 65535)")),
    }
}

fn unix_path(path: &str) -> Option<String> {
    if path.len() > MAX_UNIX_PATH {
        return Some(format!(
            "a socket path of at most {MAX_UNIX_PATH} bytes (it has {})",
            path.len()
        ));
    }
    if path.split('/').any(|part| part == "..") {
        return Some("a socket path without .. components".into());
    }
    None
}

fn vsock(rest: &str) -> Option<String> {
    let Some((cid, port_part)) = rest.split_once(':') else {
        return Some("a vsock address is vsock:CID:PORT".into());
    };
    if cid.is_empty() || !cid.chars().all(|c| c.is_ascii_digit()) || cid.parse::<u32>().is_err() {
        return Some(format!("{cid:?} is not a vsock CID (a number)"));
    }
    port(port_part)
}

/// The entry as written in the unit: `%` doubled, since systemd expands specifiers
/// in ListenStream= (the interface in `[::1]:80%eth0` would otherwise be one).
pub fn unit_address(entry: &str) -> String {
    entry.replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_systemd_documents_is_accepted() {
        for ok in [
            "8080",
            "0.0.0.0:4000",
            "127.0.0.1:8080",
            "[::]:443",
            "[::1]:8080",
            "[fe80::1]:80%eth0",
            "0.0.0.0:80%lo",
            "/run/foo/http.sock",
            "@foo-http",
            "vsock:2:1234",
            "65535",
        ] {
            assert_eq!(problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        for (bad, says) in [
            ("127.0.0.1", "no port"),
            ("127.0.0.1:", "no port"),
            ("0", "out of range"),
            ("70000", "out of range"),
            ("127.0.0.1:99999", "out of range"),
            ("[::1]:0", "out of range"),
            ("::1:8080", "in brackets"),
            ("[::1]8080", "no port"),
            ("[::1:8080", "closing ]"),
            ("localhost:8080", "not an IPv4 address"),
            ("300.0.0.1:80", "not an IPv4 address"),
            ("[::g]:80", "not an IPv6 address"),
            ("[fe80::1]:80%", "interface"),
            ("[fe80::1%eth0]:80", "after the port"),
            ("127.0.0.1:http", "not a port number"),
            ("8080\nExecStart=/bin/sh", "newline"),
            ("", "empty"),
            ("a b", "white space"),
            ("tcp://x", "URL"),
            ("x:y", "not an IPv4"),
            ("/run/../etc/x", ".."),
            ("vsock:x:1", "CID"),
            ("@", "abstract"),
        ] {
            let p = problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(p.contains(says), "{bad:?}: {p}");
        }
        assert!(problem(&format!("/{}", "a".repeat(120)))
            .unwrap()
            .contains("107"));
    }

    #[test]
    fn specifiers_are_escaped() {
        assert_eq!(unit_address("[fe80::1]:80%eth0"), "[fe80::1]:80%%eth0");
    }
}

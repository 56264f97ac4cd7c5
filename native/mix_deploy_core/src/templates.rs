//! The built-in templates and partials, embedded at compile time from `priv/templates/`.

include!(concat!(env!("OUT_DIR"), "/builtin_templates.rs"));

/// The built-in deploy template of that name.
pub fn deploy(name: &str) -> Option<&'static str> {
    DEPLOY.iter().find(|(n, _)| *n == name).map(|(_, src)| *src)
}

/// The built-in systemd template of that name.
pub fn systemd(name: &str) -> Option<&'static str> {
    SYSTEMD
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| *src)
}

//! Quoting: every configured value reaches a shell, systemd or a YAML reader as a
//! literal through one of these functions. A leaf: it depends on nothing else here.
//!
//! systemd reads unit values with its own rules: `%` starts a specifier almost
//! everywhere, Exec lines are split into words at white space and honour quotes and
//! C escapes, and `$` expands variables in Exec arguments (not in the executable's
//! path).

/// The instance specifier `%i` in a value built for a template unit
/// (restart_method :overlap): a control character no config value can hold, so the
/// quoting functions below leave it alone and `instance` then writes it as `%i`,
/// unescaped, after everything around it was escaped.
pub const INSTANCE: char = '\u{0}';

/// A quoted or escaped value with `INSTANCE` written as the specifier `%i`.
pub fn instance(quoted: &str) -> String {
    quoted.replace(INSTANCE, "%i")
}

/// Leading Exec-line prefix characters (`-`, `@`, `:`, `+`, `!`) and the rest.
pub fn split_prefixes(line: &str) -> (&str, &str) {
    let end = line
        .char_indices()
        .find(|(_, c)| !"-@:+!".contains(*c))
        .map(|(i, _)| i)
        .unwrap_or(line.len());
    line.split_at(end)
}

/// A POSIX shell single-quoted word: the value, literal whatever it contains.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A systemd double-quoted value for Environment= and similar: `%` specifiers,
/// quotes and backslashes escaped so the value stays one literal assignment.
pub fn systemd_env_quote(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', r"\\")
            .replace('"', "\\\"")
            .replace('%', "%%")
    )
}

/// A systemd command line argument: as above, plus `$` (variable expansion in Exec*=).
pub fn systemd_arg_quote(s: &str) -> String {
    systemd_env_quote(s).replace('$', "$$")
}

/// What systemd needs to read a value literally in a word of an Exec line.
pub fn needs_quoting(word: &str) -> bool {
    word.is_empty()
        || word
            .chars()
            .any(|c| c.is_whitespace() || "\"'\\%$;".contains(c))
}

/// A value for a directive that takes the rest of the line (WorkingDirectory=,
/// PIDFile=, EnvironmentFile=, Description=): only `%` specifiers need escaping.
pub fn unit_value(s: &str) -> String {
    s.replace('%', "%%")
}

/// The executable of an Exec line: quoted when needed; `%` and `\` escaped, `$` left
/// alone (systemd does not expand variables in the executable's path).
pub fn exe_word(s: &str) -> String {
    if needs_quoting(s) {
        systemd_env_quote(s)
    } else {
        s.to_string()
    }
}

/// An argument of an Exec line: as `exe_word`, plus `$` doubled so it is not expanded.
pub fn arg_word(s: &str) -> String {
    if s == ";" {
        return r"\;".to_string();
    }
    if needs_quoting(s) {
        systemd_arg_quote(s)
    } else {
        s.to_string()
    }
}

/// An item of a space-separated path list (ReadWritePaths=, BindPaths=): quoted
/// when it has white space or quotes; `%` escaped. An optional `-` stays outside.
pub fn list_word(s: &str) -> String {
    let (dash, path) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s),
    };
    let escaped = path.replace('%', "%%");
    if path
        .chars()
        .any(|c| c.is_whitespace() || "\"'\\".contains(c))
    {
        format!(
            "{dash}\"{}\"",
            escaped.replace('\\', r"\\").replace('"', "\\\"")
        )
    } else {
        format!("{dash}{escaped}")
    }
}

/// A mode as systemd and install(1) print it: `750` -> `0750`.
pub fn octal_mode(mode: &str) -> String {
    if mode.len() == 3 {
        format!("0{mode}")
    } else {
        mode.to_string()
    }
}

/// A YAML scalar that reads back as exactly `s`: plain when it is a simple word or
/// path that no YAML 1.1 or 1.2 reader takes for a number, boolean or null; else
/// single-quoted, or double-quoted with JSON escapes when it holds control characters.
pub fn yaml_quote(s: &str) -> String {
    let simple = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./@+-".contains(c));
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    );
    if simple && !reserved {
        s.to_string()
    } else if s.chars().any(char::is_control) {
        serde_json::Value::String(s.to_string()).to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_quoting() {
        assert_eq!(
            systemd_env_quote(r#"a "b" 100% \n"#),
            r#""a \"b\" 100%% \\n""#
        );
        assert_eq!(systemd_arg_quote("$HOME"), "\"$$HOME\"");
    }

    #[test]
    fn words_are_quoted_only_when_systemd_would_misread_them() {
        assert_eq!(exe_word("/srv/foo/bin/foo"), "/srv/foo/bin/foo");
        assert_eq!(exe_word("/srv/my app/bin/x"), "\"/srv/my app/bin/x\"");
        assert_eq!(exe_word("/srv/a$b%c"), "\"/srv/a$b%%c\"");
        assert_eq!(arg_word("/srv/a$b%c"), "\"/srv/a$$b%%c\"");
        assert_eq!(arg_word("say \"hi\"\\"), r#""say \"hi\"\\""#);
        assert_eq!(arg_word(";"), r"\;");
        assert_eq!(arg_word(""), "\"\"");
    }

    #[test]
    fn the_instance_specifier_survives_the_quoting_around_it() {
        let path = format!("/srv/my app%/current-{INSTANCE}/bin/x");
        assert_eq!(
            instance(&exe_word(&path)),
            "\"/srv/my app%%/current-%i/bin/x\""
        );
        assert_eq!(
            instance(&systemd_env_quote(&format!(
                "RUNTIME_DIR=/run/a$b/{INSTANCE}"
            ))),
            "\"RUNTIME_DIR=/run/a$b/%i\""
        );
        assert_eq!(
            instance(&unit_value(&format!("/srv/100%-{INSTANCE}"))),
            "/srv/100%%-%i"
        );
    }

    #[test]
    fn list_words_keep_the_dash_outside_the_quotes() {
        assert_eq!(list_word("-/var/my dir"), "-\"/var/my dir\"");
        assert_eq!(list_word("/var/100%"), "/var/100%%");
    }

    #[test]
    fn modes_get_their_leading_zero() {
        assert_eq!(octal_mode("750"), "0750");
        assert_eq!(octal_mode("0027"), "0027");
    }

    #[test]
    fn yaml_scalars_read_back_as_the_same_string() {
        for (value, quoted) in [
            ("/srv/foo/bin", "/srv/foo/bin"),
            ("bin/deploy-stop", "bin/deploy-stop"),
            ("app", "app"),
            ("no", "'no'"),
            ("On", "'On'"),
            ("0.0", "'0.0'"),
            ("1234", "'1234'"),
            ("", "''"),
            ("-x", "'-x'"),
            ("/srv/a b: #c", "'/srv/a b: #c'"),
            ("it's", "'it''s'"),
            (r"a\nb", r"'a\nb'"),
            ("a\nb\t", "\"a\\nb\\t\""),
        ] {
            assert_eq!(yaml_quote(value), quoted, "{value:?}");
        }
    }
}

//! Validators of what one key means beyond its kind: Ansible host patterns and
//! batch sizes, ListenStream= addresses, copy_files entries, template, directory
//! and variable names. Pure functions of already expanded values.

use crate::error::suggest;
use crate::kinds::{check_path, is_account, is_mode, Problem};
use crate::spec;
use crate::term::Term;
use crate::values::{BatchSize, CopyFile, ACCOUNT_VARS};

/// An Ansible host pattern: it lands in a playbook's `hosts:`, so one word
/// without white space, quotes or template braces.
pub fn host_pattern(term: &Term) -> Result<String, Problem> {
    match term {
        Term::Str(s) | Term::Atom(s)
            if !s.is_empty()
                && !s.contains(|c: char| {
                    c.is_whitespace() || c.is_control() || "'\"{}#".contains(c)
                }) =>
        {
            Ok(s.clone())
        }
        _ => Err(Problem::new(
            "an inventory group or host pattern such as \"all\" or \"web:&prod\" (no spaces, quotes or braces)",
        )),
    }
}

/// An Ansible batch size: an integer of at least 1, or a percentage "N%" (1 to 100).
pub fn batch_size(term: &Term) -> Result<BatchSize, Problem> {
    match term {
        Term::Int(i) if *i >= 1 => return Ok(BatchSize::Count(*i)),
        Term::Str(s) => {
            if let Some(n) = s.strip_suffix('%') {
                if !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && n.parse::<u32>().is_ok_and(|n| (1..=100).contains(&n))
                {
                    return Ok(BatchSize::Percent(s.clone()));
                }
            }
        }
        _ => {}
    }
    let problem = Problem::new(
        "a batch size: an integer of at least 1, or a percentage such as \"30%\" (1% to 100%)",
    );
    Err(match crate::kinds::unquote_positive_hint(term) {
        Some(h) => problem.hint(h),
        None => problem,
    })
}

/// One `listen_stream` address as `ListenStream=` reads it.
pub fn listen_address(text: &str) -> Result<(), Problem> {
    match crate::listen::problem(text) {
        None => Ok(()),
        Some(why) => Err(Problem::new(crate::listen::EXPECTED).hint(why)),
    }
}

/// A listen_stream item that is not even an address's shape (a bare atom, a map).
pub fn listen_item_shape(term: &Term) -> Problem {
    let problem = Problem::new(crate::listen::EXPECTED);
    match term {
        Term::Atom(_) => problem.hint(
            "to build one address from references, nest it: [[:runtime_dir, \"/http.sock\"]]",
        ),
        _ => problem,
    }
}

/// The fields a copy_files entry may have.
pub const COPY_FILE_FIELDS: [&str; 5] = ["src", "dst", "user", "group", "mode"];

/// A field name of a copy_files entry.
pub fn copy_file_field(field: &str) -> Result<(), Problem> {
    if COPY_FILE_FIELDS.contains(&field) {
        return Ok(());
    }
    let problem = Problem::new("entries with only src, dst, user, group, mode");
    Err(match suggest(field, COPY_FILE_FIELDS) {
        Some(s) => problem.hint(format!("did you mean {s}?")),
        None => problem,
    })
}

/// A copy_files entry from its expanded fields (each field once, names checked):
/// src and dst required; mode defaults to 640, user to `$DEPLOY_USER`, group to
/// `$APP_GROUP`. Every problem is returned, in field order.
pub fn copy_file(fields: &[(String, String)]) -> Result<CopyFile, Vec<Problem>> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, v)| v.clone())
    };
    let mut problems = Vec::new();
    let (src, dst) = (get("src"), get("dst"));
    for (name, value) in [("src", &src), ("dst", &dst)] {
        if value.is_none() {
            problems.push(Problem::new(format!("an entry with {name}")));
            return Err(problems);
        }
    }
    let mode = get("mode").unwrap_or_else(|| "640".into());
    if !is_mode(&mode) {
        problems.push(Problem::new(
            "mode as 3 or 4 octal digits in a string, e.g. \"640\"",
        ));
    }
    let dst = dst.unwrap_or_default();
    if let Err(p) = check_path(&dst) {
        problems.push(Problem {
            expected: format!("dst to be {}", p.expected),
            hint: p.hint,
        });
    }
    let user = get("user").unwrap_or_else(|| "$DEPLOY_USER".into());
    let group = get("group").unwrap_or_else(|| "$APP_GROUP".into());
    if !is_owner(&user) || !is_owner(&group) {
        problems.push(Problem::new(
            "user and group as account names or one of $DEPLOY_USER, $DEPLOY_GROUP, $APP_USER, $APP_GROUP",
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(CopyFile {
        src: src.unwrap_or_default(),
        dst,
        mode,
        user,
        group,
    })
}

/// A copy_files owner: an account name or one of the scripts' account variables.
fn is_owner(value: &str) -> bool {
    ACCOUNT_VARS.contains(&value) || is_account(value)
}

/// A template name: no path, no leading dot.
pub fn template_name(name: &str) -> Result<(), Problem> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            "a template name: letters, digits, -, _ and ., no path",
        ))
    }
}

/// An entry of `dirs`: one of the standard directories.
pub fn dir_name(name: &str) -> Result<(), Problem> {
    if spec::dir_names().any(|d| d == name) {
        return Ok(());
    }
    let names: Vec<String> = spec::dir_names().map(|d| format!(":{d}")).collect();
    let problem = Problem::new(format!("a list of {}", names.join(", ")));
    Err(match suggest(name, spec::dir_names()) {
        Some(s) => problem.hint(format!("did you mean :{s}?")),
        None => problem,
    })
}

/// An env_vars entry: `NAME=value` with a valid variable name.
pub fn env_assignment(item: &str) -> Result<(), Problem> {
    match item.split_once('=') {
        Some((name, _)) if is_env_name(name) => Ok(()),
        _ => Err(Problem::new(
            "\"NAME=value\" where NAME is letters, digits and _ and does not start with a digit",
        )),
    }
}

pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

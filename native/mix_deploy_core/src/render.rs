//! Handlebars set up for shell scripts and unit files: strict mode (a missing
//! variable is an error), no HTML escaping, and quoting helpers so every config
//! value lands as a literal. The helper registry is built once per process and each
//! built-in template is compiled the first time it is used, so a task pays only for
//! the templates it renders; a user's override is rendered against the same helpers.

use std::borrow::Cow;
use std::sync::OnceLock;

use handlebars::{
    handlebars_helper, Context, Handlebars, Helper, HelperResult, Output, RenderContext,
    RenderError, RenderErrorReason, Renderable, StringOutput, Template, TemplateError,
};
use serde_json::Value;

use crate::error::{suggest, Error};
use crate::quote::{
    octal_mode, shell_quote, systemd_arg_quote, systemd_env_quote, unit_value, yaml_quote,
};
use crate::templates;

/// Where a template comes from.
pub enum Source<'a> {
    /// A built-in, as `deploy/<name>` or `systemd/<name>`; `inlined`: in the form
    /// with the built-in partials written in (for a project without partials of
    /// its own, see build.rs).
    Builtin { key: String, inlined: bool },
    /// A user's override or own template, rendered from its text.
    User(&'a str),
}

/// Renders one template with the context (one `Context` serves every template of a
/// task: building it copies the whole config) and the registry from `registry_for`.
pub fn render(
    hb: &Handlebars,
    name: &str,
    source: &Source,
    ctx: &mut Context,
) -> Result<String, Error> {
    let error = |message: String| Error::Template {
        name: name.to_string(),
        message,
    };
    let compiled;
    let template = match source {
        Source::Builtin { key, inlined } => builtin(key, *inlined)
            .ok_or_else(|| error(format!("no built-in template {key}")))?
            .as_ref()
            .map_err(|e| error(e.clone()))?,
        Source::User(text) => {
            compiled = Template::compile(text).map_err(|e| error(compile_error(e)))?;
            &compiled
        }
    };
    let mut out = StringOutput::new();
    template
        .render(hb, ctx, &mut RenderContext::new(None), &mut out)
        .map_err(|e| error(render_error(&e, ctx)))?;
    out.into_string()
        .map(tidy)
        .map_err(|e| error(e.to_string()))
}

/// "line 3, column 6: unexpected token"
fn compile_error(e: TemplateError) -> String {
    let at = e
        .pos()
        .map(|(l, c)| format!("line {l}, column {c}: "))
        .unwrap_or_default();
    format!("{at}{}", e.reason())
}

/// The built-in `deploy/<name>` or `systemd/<name>` in its compact form, with its
/// partials inlined or not (see build.rs), compiled on first use.
fn builtin(key: &str, inlined: bool) -> Option<&'static Result<Template, String>> {
    type Slot = (
        String,
        bool,
        &'static str,
        OnceLock<Result<Template, String>>,
    );
    static SLOTS: OnceLock<Vec<Slot>> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        [
            ("deploy", false, templates::DEPLOY_COMPACT),
            ("systemd", false, templates::SYSTEMD_COMPACT),
            ("deploy", true, templates::DEPLOY_INLINED_COMPACT),
            ("systemd", true, templates::SYSTEMD_INLINED_COMPACT),
        ]
        .iter()
        .flat_map(|(group, inlined, list)| {
            list.iter().map(move |(name, src)| {
                (format!("{group}/{name}"), *inlined, *src, OnceLock::new())
            })
        })
        .collect()
    });
    let (_, _, src, slot) = slots
        .iter()
        .find(|(k, i, _, _)| k == key && *i == inlined)?;
    Some(slot.get_or_init(|| Template::compile(src).map_err(|e| e.to_string())))
}

/// A registry with the built-in partials (from `list`), each registered as
/// `partials/<name>` (a template includes it as `{{> partials/<name>}}`).
fn with_partials(list: &[(&str, &str)]) -> Handlebars<'static> {
    let mut hb = new_registry();
    for (name, src) in list {
        // A built-in that does not compile is reported when it is used.
        if let Ok(t) = Template::compile(src) {
            hb.register_template(&format!("partials/{name}"), t);
        }
    }
    hb
}

/// The process-wide registry: settings, helpers and the built-in partials, with
/// the partials they include written in (a project without partials of its own).
pub fn registry() -> &'static Handlebars<'static> {
    static REGISTRY: OnceLock<Handlebars<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| with_partials(templates::DEPLOY_PARTIALS_INLINED_COMPACT))
}

/// The built-in partials as they are, each including the others by name, so a
/// project's partial replaces one wherever it is included.
fn plain_registry() -> &'static Handlebars<'static> {
    static REGISTRY: OnceLock<Handlebars<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| with_partials(templates::DEPLOY_PARTIALS_COMPACT))
}

/// The registry for a project: the process-wide one, or, when the project has its
/// own partials (`(name, text)`, e.g. from rel/templates/deploy/partials/), a copy
/// with those registered over the built-ins. Render built-in templates inlined
/// (`Source::Builtin`) only with the first.
pub fn registry_for(
    partials: &[(String, String)],
) -> Result<Cow<'static, Handlebars<'static>>, Error> {
    if partials.is_empty() {
        return Ok(Cow::Borrowed(registry()));
    }
    let mut hb = plain_registry().clone();
    for (name, text) in partials {
        let key = format!("partials/{name}");
        let t = Template::compile(text).map_err(|e| Error::Template {
            name: key.clone(),
            message: compile_error(e),
        })?;
        hb.register_template(&key, t);
    }
    Ok(Cow::Owned(hb))
}

/// "line 3, column 6: unknown variable deploy_dri (did you mean deploy_dir?)"
fn render_error(e: &RenderError, ctx: &Context) -> String {
    let at = match (e.line_no, e.column_no) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: "),
        _ => String::new(),
    };
    let what = match e.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => {
            let keys = ctx
                .data()
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys().map(String::as_str));
            match suggest(path, keys) {
                Some(s) => format!("unknown variable {path} (did you mean {s}?)"),
                None => format!("unknown variable {path}"),
            }
        }
        other => other.to_string(),
    };
    format!("{at}{what}")
}

/// A registry with our settings and helpers and no templates.
pub fn new_registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper("q", Box::new(q));
    hb.register_helper("var", Box::new(var));
    hb.register_helper("sd_env", Box::new(sd_env));
    hb.register_helper("sd_arg", Box::new(sd_arg));
    hb.register_helper("sd_path", Box::new(sd_path));
    hb.register_helper("join", Box::new(join));
    hb.register_helper("octal", Box::new(octal));
    hb.register_helper("yaml", Box::new(yaml));
    hb.register_helper("add", Box::new(add));
    hb.register_helper("lit", Box::new(lit));
    hb
}

/// Collapses runs of blank lines left by conditional blocks (a line of white
/// space is blank, and printed empty), and ends with one newline. Text that needs
/// no change is copied in whole runs, not line by line: the scripts are long.
fn tidy(text: String) -> String {
    let b = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len() + 1);
    // b[kept..pos] goes to the output as it is.
    let (mut kept, mut pos, mut blank) = (0, 0, 0);
    // One pass of memchr over the text: a call per line costs more than the line.
    let mut newlines = memchr::memchr_iter(b'\n', b);
    while pos < b.len() {
        let newline = newlines.next();
        let end = newline.unwrap_or(b.len());
        let next = newline.map_or(b.len(), |n| n + 1);
        let mut line = &b[pos..end];
        // str::lines: "\r\n" ends a line too.
        if newline.is_some() {
            line = line.strip_suffix(b"\r").unwrap_or(line);
        }
        // Most lines start with something else than white space: decided at once.
        let first = line
            .iter()
            .position(|c| !matches!(c, b' ' | b'\t' | b'\x0B' | b'\x0C' | b'\r'));
        let is_blank = match first {
            None => true,
            Some(i) if line[i].is_ascii() => false,
            Some(_) => std::str::from_utf8(line).is_ok_and(|l| l.trim().is_empty()),
        };
        if is_blank {
            blank += 1;
            if blank > 1 || !line.is_empty() || newline.is_none() {
                out.extend_from_slice(&b[kept..pos]);
                if blank == 1 {
                    out.push(b'\n');
                }
                kept = next;
            }
        } else {
            blank = 0;
            if line.len() != end - pos || newline.is_none() {
                out.extend_from_slice(&b[kept..pos]);
                out.extend_from_slice(line);
                out.push(b'\n');
                kept = next;
            }
        }
        pos = next;
    }
    out.extend_from_slice(&b[kept..]);
    while out.ends_with(b"\n\n") {
        out.pop();
    }
    // Only whole lines were dropped or cut at ASCII bytes: still UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

// `{{q value}}` -> `'value'`
handlebars_helper!(q: |v: Json| shell_quote(&text_of(v)));

// `{{var "DEPLOY_DIR" deploy_dir}}` -> `DEPLOY_DIR=${DEPLOY_DIR:-'/srv/foo'}`:
// the environment wins, the generated value is the literal default. In an
// assignment the expansion is not split, and the quotes inside `${..:-..}` are
// removed by the shell, so the value stays literal.
handlebars_helper!(var: |name: str, v: Json| {
    format!("{name}=${{{name}:-{}}}", shell_quote(&text_of(v)))
});

// `{{sd_env value}}`, `{{sd_arg value}}`: systemd-quoted values (see the functions).
handlebars_helper!(sd_env: |v: Json| systemd_env_quote(&text_of(v)));
handlebars_helper!(sd_arg: |v: Json| systemd_arg_quote(&text_of(v)));

// `{{sd_path value}}`: a unit value taking the rest of the line, `%` doubled.
handlebars_helper!(sd_path: |v: Json| unit_value(&text_of(v)));

handlebars_helper!(join: |list: array, sep: str| {
    list.iter().map(text_of).collect::<Vec<_>>().join(sep)
});

/// `{{yaml "bin/" target_prefix "stop"}}` -> its parameters joined, as one YAML scalar.
fn yaml(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let text: String = h.params().iter().map(|p| text_of(p.value())).collect();
    out.write(&yaml_quote(&text))?;
    Ok(())
}

// `{{add a b}}` -> the sum of two integers, e.g. a timeout with a margin.
handlebars_helper!(add: |a: i64, b: i64| a + b);

// `{{lit 12}}` -> a run of literal lines of a built-in template (see build.rs).
handlebars_helper!(lit: |n: u64| {
    templates::LITERALS.get(n as usize).copied().unwrap_or_default()
});

// `{{octal mode}}` -> `0750` (a 3-digit mode with its leading zero).
handlebars_helper!(octal: |mode: str| octal_mode(mode));

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(tpl: &str, ctx: Value) -> Result<String, Error> {
        render(registry(), "t", &Source::User(tpl), &mut Context::from(ctx))
    }

    #[test]
    fn every_builtin_compiles() {
        for (group, list) in [
            ("deploy", templates::DEPLOY),
            ("systemd", templates::SYSTEMD),
        ] {
            for (name, _) in list {
                let key = format!("{group}/{name}");
                for inlined in [false, true] {
                    let template = builtin(&key, inlined).unwrap();
                    assert!(template.is_ok(), "{key}: {:?}", template.as_ref().err());
                }
            }
        }
        for (name, src) in templates::DEPLOY_PARTIALS_COMPACT {
            assert!(Template::compile(src).is_ok(), "partials/{name}");
            assert!(registry().has_template(&format!("partials/{name}")));
            assert!(plain_registry().has_template(&format!("partials/{name}")));
        }
    }

    #[test]
    fn a_projects_partial_replaces_the_builtin_one() {
        let text = "{{> partials/t}}";
        let ours = registry_for(&[("t".into(), "ours {{v}}\n".into())]).unwrap();
        let out = render(
            &ours,
            "x",
            &Source::User(text),
            &mut Context::from(json!({"v": 1})),
        );
        assert_eq!(out.unwrap(), "ours 1\n");
        let bad = registry_for(&[("t".into(), "{{#if}}".into())])
            .err()
            .unwrap();
        assert!(
            bad.to_string().starts_with("template partials/t: line 1"),
            "{bad}"
        );
    }

    #[test]
    fn quoting_keeps_hostile_values_literal() {
        let out = run(
            "{{var \"X\" v}}\n{{q v}}",
            json!({"v": "a'b $(id) `x` \"y\""}),
        )
        .unwrap();
        assert_eq!(
            out,
            "X=${X:-'a'\\''b $(id) `x` \"y\"'}\n'a'\\''b $(id) `x` \"y\"'\n"
        );
    }

    #[test]
    fn strict_mode_reports_missing_variables() {
        let err = run("a\n  {{deploy_dri}}", json!({"deploy_dir": "/srv"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template t: line 2, column 3: unknown variable deploy_dri (did you mean deploy_dir?)"
        );
    }

    #[test]
    fn no_html_escaping() {
        assert_eq!(run("{{v}}", json!({"v": "a&b<c>"})).unwrap(), "a&b<c>\n");
    }

    #[test]
    fn yaml_and_add_helpers() {
        let out = run(
            "{{yaml \"bin/\" p \"stop\"}} {{add t 60}}",
            json!({"p": "d'p ", "t": 30}),
        );
        assert_eq!(out.unwrap(), "'bin/d''p stop' 90\n");
    }

    #[test]
    fn blank_runs_collapse() {
        assert_eq!(tidy("a\n\n\n\nb\n\n".into()), "a\n\nb\n");
    }

    /// tidy as it was written first, line by line: the reference.
    fn tidy_by_lines(text: &str) -> String {
        let mut out = String::new();
        let mut blank = 0;
        for line in text.lines() {
            if line.trim().is_empty() {
                blank += 1;
                if blank > 1 {
                    continue;
                }
                out.push('\n');
            } else {
                blank = 0;
                out.push_str(line);
                out.push('\n');
            }
        }
        while out.ends_with("\n\n") {
            out.pop();
        }
        out
    }

    #[test]
    fn tidy_keeps_what_the_line_by_line_version_gave() {
        let cases = [
            "",
            "\n",
            "\n\n",
            "a",
            "a\n",
            "  \n",
            "a\n  \n\t\n\nb",
            "a\r\nb\r\n",
            "a\r",
            "\n\na\n",
            "é\n\u{a0}\n\n x\n",
            "a\n\u{b}\nb\n",
            "x  \n\n\n  y  \n\n",
        ];
        for case in cases {
            assert_eq!(tidy(case.to_string()), tidy_by_lines(case), "{case:?}");
        }
        for (_, text) in templates::DEPLOY.iter().chain(templates::SYSTEMD) {
            assert_eq!(tidy(text.to_string()), tidy_by_lines(text));
        }
    }
}

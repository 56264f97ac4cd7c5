//! The generate and init tasks: resolve, render every output in memory, and only
//! then write. Any error (config, unknown template, render failure) is collected
//! and returned before the first write, so existing files stay byte for byte.

use std::fs;
use std::path::{Path, PathBuf};

use handlebars::{Context, Handlebars};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::context;
use crate::error::{suggest, Error, Errors};
use crate::grants;
use crate::input::Input;
use crate::output::{self, Action, Change, Planned};
use crate::overlap;
use crate::plan::{Plan, MARKER, MARKER_LINES};
use crate::render::{self, Source};
use crate::resolve::{resolve, Resolved};
use crate::spec::{DeployKeys, Side};
use crate::templates;
use crate::units;

/// The outcome of a task, for the Mix task to print.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
    /// --check found a stale or missing file.
    pub stale: bool,
}

/// Templates that are not scripts in bin_dir: chosen by other config keys.
const SPECIAL: &[&str] = &[
    "sudoers",
    "appspec",
    "ansible-setup",
    "ansible-deploy",
    "ansible-rollback",
];

/// "ansible" in templates: the playbooks it writes (status.yml only with "status"
/// in templates: the script it runs), and the scripts they run.
const PLAYBOOKS: &[&str] = &["setup", "deploy", "rollback", "status"];
const PLAYBOOK_SCRIPTS: &[&str] = &[
    "init-local",
    "release",
    "restart",
    "rollback",
    "validate-service",
];

/// The README walk-through's `templates`: what a first run that enables nothing
/// shows to copy (a deploy on the build machine: set up, deploy, restart, roll back).
pub const SEED_TEMPLATES: &str =
    "init-local create-users create-dirs copy-files enable release restart rollback start stop";

/// The guidance of a deploy config whose `templates` enables nothing.
fn nothing_enabled(resolved: &Resolved) -> Option<String> {
    let d = resolved.deploy()?;
    d.templates.is_empty().then(|| {
        format!(
            "config :{}, templates: [] enables no script, so nothing was generated. \
             The README walk-through's scripts, to copy into config/prod.exs: \
             config :{}, templates: ~w({SEED_TEMPLATES}) \
             (and \"status\", \"migrate\", \"ansible\", ...: see the README's list of scripts)",
            resolved.origin.ns("templates"),
            resolved.origin.ns("templates"),
        )
    })
}

/// `mix deploy.generate` / `mix systemd.generate`.
pub fn generate(input: &Input, side: Side) -> Result<Report, Errors> {
    let resolved = resolve(input, side)?;
    let root = project_root(input);
    let (files, removals) = plan(&resolved, &root, side)?;
    let changes = output::apply(&files, &removals, input.options.check)?;
    let stale = changes.iter().any(|c| c.action != Action::Unchanged);
    let grants = grants::root_grants(&resolved);
    let guidance = nothing_enabled(&resolved);
    let mut warnings = resolved.warnings;
    warnings.extend(grants);
    warnings.extend(guidance);
    Ok(Report {
        changes,
        warnings,
        stale,
    })
}

/// Generated files no longer produced: (path, path as shown).
pub type Removals = Vec<(PathBuf, String)>;

/// Every output of `side`, rendered; plus generated files that are no longer produced.
pub fn plan(
    resolved: &Resolved,
    root: &Path,
    side: Side,
) -> Result<(Vec<Planned>, Removals), Errors> {
    let plan = Plan::of(resolved);
    let mut ctx = Context::from(Value::Object(context::of(resolved, &plan)));
    let template_dir = root.join(&resolved.template_dir);
    // Every problem of the config at once: the unit's checks and :overlap's.
    let mut problems = Errors::default();
    let checks = [
        overlap::check(resolved, &plan.features),
        match resolved.deploy() {
            Some(_) => Ok(()),
            None => units::check(resolved, &plan.features),
        },
    ];
    for found in checks.into_iter().filter_map(Result::err) {
        found.0.into_iter().for_each(|e| problems.push(e));
    }
    problems.into_result(())?;
    let jobs = match resolved.deploy() {
        Some(d) => deploy_jobs(resolved, d, root)?,
        None => systemd_jobs(resolved, &plan, root),
    };
    let mut errors = Errors::default();
    let partials = project_partials(&template_dir);
    let hb = render::registry_for(&partials)?;
    let inlined = partials.is_empty();
    let mut files = Vec::new();
    for job in jobs {
        match render_template(
            resolved,
            (root, side, inlined),
            &hb,
            &mut ctx,
            &job.template,
        ) {
            Ok(contents) => files.push(Planned {
                shown: shown(root, &job.target),
                path: job.target,
                contents,
                mode: job.mode,
            }),
            Err(e) => errors.push(e),
        }
    }
    errors.into_result(())?;
    let removals = if side == Side::Systemd {
        stale_units(resolved, root, &files)
    } else {
        Vec::new()
    };
    Ok((files, removals))
}

/// The context templates see: the resolved keys plus the plan (documented in
/// docs/templates.md and docs/systemd.md).
pub fn template_context(resolved: &Resolved) -> Map<String, Value> {
    context::of(resolved, &Plan::of(resolved))
}

/// Renders `template` of `side`: the project's `template_dir/<template>.hbs` when
/// there is one, else the built-in (with its partials written in when the
/// project has none of its own: `inlined`).
fn render_template(
    resolved: &Resolved,
    (root, side, inlined): (&Path, Side, bool),
    hb: &Handlebars,
    ctx: &mut Context,
    template: &str,
) -> Result<String, Error> {
    let user_file = root
        .join(&resolved.template_dir)
        .join(format!("{template}.hbs"));
    let user_text = fs::read_to_string(&user_file).ok();
    let builtin = match side {
        Side::Deploy => templates::deploy(template),
        Side::Systemd => templates::systemd(template),
    };
    let (source, origin) = match (&user_text, builtin) {
        (Some(text), _) => (Source::User(text), shown(root, &user_file)),
        (None, Some(_)) => (
            Source::Builtin {
                key: format!("{}/{template}", group(side)),
                inlined,
            },
            "built-in".to_string(),
        ),
        (None, None) => {
            let names = templates::DEPLOY
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| !SPECIAL.contains(n))
                .chain(["ansible"]);
            return Err(resolved.invalid(
                "templates",
                format!("{template:?}"),
                &format!("a built-in template or a file {}", shown(root, &user_file)),
                suggest(template, names).map(|s| format!("did you mean {s:?}?")),
            ));
        }
    };
    context::set_template(ctx, template, header(resolved, side, template, &origin));
    render::render(hb, template, &source, ctx)
}

/// `mix deploy.local` and `mix deploy.local.rollback`: the project's deploy script
/// `template` rendered in memory exactly as `mix deploy.generate` writes it (from
/// the project's override and partials when it has them), for the task to run.
pub fn render_script(input: &Input, template: &str) -> Result<String, Errors> {
    let resolved = resolve(input, Side::Deploy)?;
    let root = project_root(input);
    let partials = project_partials(&root.join(&resolved.template_dir));
    let hb = render::registry_for(&partials)?;
    let mut ctx = Context::from(Value::Object(template_context(&resolved)));
    Ok(render_template(
        &resolved,
        (&root, Side::Deploy, partials.is_empty()),
        &hb,
        &mut ctx,
        template,
    )?)
}

/// The project's partials, `template_dir/partials/<name>.hbs`: overrides of
/// built-in ones or partials of its own templates. (name, text), sorted.
fn project_partials(template_dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = fs::read_dir(template_dir.join("partials")) else {
        return Vec::new();
    };
    let mut partials: Vec<(String, String)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e
                .file_name()
                .to_string_lossy()
                .strip_suffix(".hbs")?
                .to_string();
            let text = fs::read_to_string(e.path()).ok()?;
            Some((name, text))
        })
        .collect();
    partials.sort();
    partials
}

struct Job {
    template: String,
    target: PathBuf,
    mode: u32,
}

fn group(side: Side) -> &'static str {
    match side {
        Side::Deploy => "deploy",
        Side::Systemd => "systemd",
    }
}

fn deploy_jobs(cfg: &Config, d: &DeployKeys, root: &Path) -> Result<Vec<Job>, Errors> {
    let bin_dir = root.join(&d.bin_dir);
    let output_dir = root.join(&cfg.output_dir);
    let prefix = &d.target_prefix;
    let mut errors = Errors::default();
    let mut jobs = Vec::new();
    for name in d.templates.iter().cloned() {
        if name == "sudoers" {
            errors.push(cfg.invalid(
                "templates",
                "\"sudoers\"".into(),
                "script templates only",
                Some("the sudoers file is generated when sudo_deploy or sudo_app is true".into()),
            ));
        } else if PLAYBOOKS.iter().any(|p| name == format!("ansible-{p}")) {
            errors.push(cfg.invalid(
                "templates",
                format!("{name:?}"),
                "script templates, \"appspec\" or \"ansible\"",
                Some(
                    "\"ansible\" writes all three playbooks (from the templates ansible-setup, ansible-deploy and ansible-rollback)".into(),
                ),
            ));
        } else if name == "appspec" {
            jobs.push(Job {
                template: name,
                target: root.join("appspec.yml"),
                mode: 0o644,
            });
        } else if name == "ansible" {
            let templates = &d.templates;
            let missing: Vec<&str> = PLAYBOOK_SCRIPTS
                .iter()
                .copied()
                .filter(|s| !templates.iter().any(|t| t == s))
                .collect();
            if !missing.is_empty() {
                errors.push(cfg.invalid(
                    "templates",
                    "\"ansible\"".into(),
                    &format!(
                        "templates that also list the scripts the playbooks run: {}",
                        PLAYBOOK_SCRIPTS.join(", ")
                    ),
                    Some(format!("add {}", missing.join(", "))),
                ));
            }
            if d.migrate_on_deploy && !templates.iter().any(|t| t == "migrate") {
                errors.push(cfg.invalid(
                    "templates",
                    "\"ansible\"".into(),
                    "templates that also list \"migrate\" when migrate_on_deploy is true (deploy.yml runs the migrations once, with deploy-migrate, before any host switches)",
                    Some("add migrate".into()),
                ));
            }
            let made = |p: &&&str| **p != "status" || templates.iter().any(|t| t == "status");
            for playbook in PLAYBOOKS.iter().filter(made) {
                jobs.push(Job {
                    template: format!("ansible-{playbook}"),
                    target: root.join("ansible").join(format!("{playbook}.yml")),
                    mode: 0o644,
                });
            }
        } else {
            jobs.push(Job {
                target: bin_dir.join(format!("{prefix}{name}")),
                template: name,
                mode: 0o755,
            });
        }
    }
    if d.sudo_deploy || d.sudo_app {
        let target = output_dir
            .join("etc/sudoers.d")
            .join(format!("{prefix}{}", cfg.ext_name));
        jobs.push(Job {
            template: "sudoers".into(),
            target,
            mode: 0o440,
        });
    }
    errors.into_result(jobs)
}

fn systemd_jobs(cfg: &Config, plan: &Plan, root: &Path) -> Vec<Job> {
    let dir = root.join(&cfg.output_dir);
    plan.generated_units()
        .map(|(template, name)| Job {
            template: template.into(),
            target: dir.join(name),
            mode: 0o644,
        })
        .collect()
}

/// Units in output_dir that carry our marker but are not in the plan any more.
fn stale_units(cfg: &Config, root: &Path, files: &[Planned]) -> Removals {
    let dir = root.join(&cfg.output_dir);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut stale: Removals = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && !files.iter().any(|f| &f.path == p))
        .filter(|p| {
            fs::read_to_string(p)
                .map(|t| t.lines().take(MARKER_LINES).any(|l| l.contains(MARKER)))
                .unwrap_or(false)
        })
        .map(|p| (shown(root, &p), p))
        .map(|(s, p)| (p, s))
        .collect();
    stale.sort();
    stale
}

/// The header of a generated file: who generated it from which template, and
/// how to customise it (the marker stale files are told by is in it).
fn header(cfg: &Config, side: Side, template: &str, origin: &str) -> String {
    let task = match side {
        Side::Deploy => "mix deploy.generate",
        Side::Systemd => "mix systemd.generate",
    };
    let init = match side {
        Side::Deploy => "mix deploy.init",
        Side::Systemd => "mix systemd.init",
    };
    format!(
        "# {MARKER} ({task}) from template {template} ({origin}).\n# To customise: run {init}, edit {}/{template}.hbs, then run {task} again.",
        cfg.template_dir
    )
}

/// `mix deploy.init` / `mix systemd.init`: copies the built-in templates to
/// template_dir for the user to edit; existing files are kept unless forced.
pub fn init(input: &Input, side: Side) -> Result<Report, Errors> {
    let resolved = resolve(input, side)?;
    let root = project_root(input);
    let dir = root.join(&resolved.template_dir);
    let (list, partials) = match side {
        Side::Deploy => (templates::DEPLOY, templates::DEPLOY_PARTIALS),
        Side::Systemd => (templates::SYSTEMD, templates::SYSTEMD_PARTIALS),
    };
    let files = list
        .iter()
        .map(|(name, text)| (format!("{name}.hbs"), text));
    let files = files.chain(
        partials
            .iter()
            .map(|(name, text)| (format!("partials/{name}.hbs"), text)),
    );
    let mut changes = Vec::new();
    for (name, text) in files {
        let file = Planned {
            path: dir.join(name),
            shown: String::new(),
            contents: text.to_string(),
            mode: 0o644,
        };
        let file = Planned {
            shown: shown(&root, &file.path),
            ..file
        };
        let action = match output::action_for(&file) {
            Action::Update if !input.options.force => Action::Skip,
            a => a,
        };
        if matches!(action, Action::Create | Action::Update) {
            output::write_atomic(&file.path, file.contents.as_bytes(), file.mode)?;
        }
        changes.push(Change {
            action,
            path: file.shown,
        });
    }
    Ok(Report {
        changes,
        warnings: resolved.warnings,
        stale: false,
    })
}

pub fn project_root(input: &Input) -> PathBuf {
    match &input.project.project_dir {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

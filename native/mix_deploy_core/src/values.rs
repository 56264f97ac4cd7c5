//! The types of resolved config values that are more than text: the fixed choices
//! (`restart_method`, `service_type`, ...) as enums, resource limits, batch sizes and
//! copy_files entries. Each serialises exactly as templates have always seen it (an
//! enum as its name, a limit as a number, "infinity" or null), so a user's template
//! override that reads `restart_method` keeps working. A leaf.

use serde::{Serialize, Serializer};

/// A config key whose value is one of a fixed set of names.
pub trait Choice: Sized + Copy + 'static {
    /// The valid names, in documentation order.
    const NAMES: &'static [&'static str];
    fn from_name(name: &str) -> Option<Self>;
    fn name(self) -> &'static str;
}

macro_rules! choice {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl Choice for $name {
            const NAMES: &'static [&'static str] = &[$($text),*];
            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
            fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}

choice!(
    /// `release_system`: how the release was built.
    ReleaseSystem {
        Mix = "mix",
        Distillery = "distillery",
    }
);

choice!(
    /// `restart_method`: how deploy-restart restarts the service.
    RestartMethod {
        /// `systemctl restart`, as root or through sudo.
        Systemctl = "systemctl",
        /// Touching a flag file that a path unit watches (no sudo needed).
        SystemdFlag = "systemd_flag",
        /// Touching a flag file the app itself watches.
        Touch = "touch",
        /// Two instances of a template unit share the listen_stream socket: the
        /// new release starts beside the old one, is checked privately, accepts,
        /// and only then does the old one stop (docs/systemd.md).
        Overlap = "overlap",
    }
);

impl RestartMethod {
    /// Whether a restart touches `flags_dir/restart.flag` (so the flags dir is
    /// group-writable).
    pub fn uses_flag_file(self) -> bool {
        matches!(self, RestartMethod::SystemdFlag | RestartMethod::Touch)
    }
}

choice!(
    /// `distribution`: who may reach the node's Erlang distribution.
    Distribution {
        /// epmd and the distribution port on loopback only.
        Local = "local",
        /// On every interface: other hosts' nodes connect.
        Cluster = "cluster",
    }
);

choice!(
    /// `service_type`: the unit's `Type=`.
    ServiceType {
        Simple = "simple",
        Exec = "exec",
        Notify = "notify",
        Forking = "forking",
    }
);

choice!(
    /// `runtime_directory_preserve`: `RuntimeDirectoryPreserve=`.
    Preserve {
        No = "no",
        Yes = "yes",
        Restart = "restart",
    }
);

choice!(
    /// `restart`: the unit's `Restart=`.
    RestartPolicy {
        Always = "always",
        No = "no",
        OnSuccess = "on-success",
        OnFailure = "on-failure",
        OnAbnormal = "on-abnormal",
        OnAbort = "on-abort",
        OnWatchdog = "on-watchdog",
    }
);

/// A resource limit (`LimitNOFILE=`, `LimitCORE=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// systemd's default (nil in config).
    Unset,
    Infinity,
    Value(i64),
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Unset => s.serialize_none(),
            Limit::Infinity => s.serialize_str("infinity"),
            Limit::Value(v) => s.serialize_i64(*v),
        }
    }
}

/// `ansible_serial`: hosts per batch, a count or a percentage such as "30%".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchSize {
    Count(i64),
    Percent(String),
}

impl Serialize for BatchSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            BatchSize::Count(n) => s.serialize_i64(*n),
            BatchSize::Percent(p) => s.serialize_str(p),
        }
    }
}

/// One `copy_files` entry with its defaults applied: `user` and `group` are an
/// account name or one of the scripts' variables (`$DEPLOY_USER`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyFile {
    pub src: String,
    pub dst: String,
    pub mode: String,
    pub user: String,
    pub group: String,
}

/// The account variables of the scripts that copy_files' user and group may name.
pub const ACCOUNT_VARS: [&str; 4] = ["$DEPLOY_USER", "$DEPLOY_GROUP", "$APP_USER", "$APP_GROUP"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_round_trip_through_their_names() {
        for name in RestartMethod::NAMES {
            assert_eq!(RestartMethod::from_name(name).unwrap().name(), *name);
        }
        assert_eq!(
            RestartPolicy::from_name("on-failure"),
            Some(RestartPolicy::OnFailure)
        );
        assert_eq!(ServiceType::from_name("Forking"), None);
        assert_eq!(
            serde_json::to_value(RestartMethod::SystemdFlag).unwrap(),
            "systemd_flag"
        );
    }

    #[test]
    fn limits_and_batches_serialise_as_templates_read_them() {
        assert_eq!(
            serde_json::to_value(Limit::Unset).unwrap(),
            serde_json::Value::Null
        );
        assert_eq!(serde_json::to_value(Limit::Infinity).unwrap(), "infinity");
        assert_eq!(serde_json::to_value(Limit::Value(0)).unwrap(), 0);
        assert_eq!(serde_json::to_value(BatchSize::Count(2)).unwrap(), 2);
        assert_eq!(
            serde_json::to_value(BatchSize::Percent("30%".into())).unwrap(),
            "30%"
        );
    }
}

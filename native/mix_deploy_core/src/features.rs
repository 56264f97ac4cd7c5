//! What the target's systemd can do, by version: the one table of the versions
//! that introduced the settings and behaviours we depend on. Rust code and
//! templates read `features.<name>` (a bool for `systemd_version`) and never compare
//! a version number themselves; `feature_since.<name>` gives the version for
//! messages and comments. A leaf.

use serde::Serialize;

macro_rules! features {
    ($($(#[$doc:meta])* $name:ident: $since:literal,)*) => {
        /// Which features the configured systemd version has.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        pub struct Features {
            $($(#[$doc])* pub $name: bool,)*
        }

        /// The systemd version that introduced each feature.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        pub struct Since {
            $(pub $name: i64,)*
        }

        /// The version table.
        pub const SINCE: Since = Since { $($name: $since,)* };

        impl Features {
            /// The features of systemd `version`.
            pub fn at(version: i64) -> Features {
                Features { $($name: version >= $since,)* }
            }
        }
    };
}

features! {
    /// `PrivateDevices=`, `SystemCallArchitectures=`.
    private_devices: 209,
    /// `RuntimeDirectory=`, `RuntimeDirectoryMode=`.
    runtime_directory: 211,
    /// `RestrictAddressFamilies=`.
    restrict_address_families: 211,
    /// `ProtectSystem=`, `ProtectHome=`.
    protect_system: 214,
    /// `NoDelay=` of sockets.
    no_delay: 216,
    /// `FileDescriptorName=` of sockets.
    file_descriptor_name: 227,
    /// The `+` and `!` prefixes of Exec lines (run as root).
    privileged_prefix: 231,
    /// `RestrictRealtime=`.
    restrict_realtime: 231,
    /// `SystemCallFilter=` with the `@` sets and `SystemCallErrorNumber=`.
    system_call_filter: 231,
    /// `MemoryDenyWriteExecute=`.
    memory_deny_write_execute: 231,
    /// `ProtectKernelTunables=`, `ProtectKernelModules=`, `ProtectControlGroups=`, `RemoveIPC=`.
    protect_kernel: 232,
    /// `BindPaths=`, `BindReadOnlyPaths=`, `MountAPIVFS=`.
    bind_paths: 233,
    /// `RestrictNamespaces=`.
    restrict_namespaces: 233,
    /// `StateDirectory=`, `CacheDirectory=`, `LogsDirectory=`, `ConfigurationDirectory=`
    /// (systemd creates them).
    directories: 235,
    /// `RuntimeDirectoryPreserve=`.
    runtime_directory_preserve: 235,
    /// `ProtectSystem=strict`.
    protect_system_strict: 235,
    /// `LockPersonality=`.
    lock_personality: 235,
    /// `UnsetEnvironment=`, `RuntimeDirectory=` below a directory of its own, and
    /// `NRestarts`: what restart_method :overlap's units and switch need.
    unset_environment: 235,
    /// `PrivateMounts=`.
    private_mounts: 239,
    /// systemd-tmpfiles works through file descriptors and refuses unsafe path
    /// transitions: a link where it makes a directory is left alone, never followed.
    tmpfiles_safe_paths: 239,
    /// Exec lines may name a command without a path (systemd searches PATH).
    relative_exec: 239,
    /// `Type=exec`.
    type_exec: 240,
    /// The `@system-service` system call set.
    system_service_filter: 241,
    /// `RestrictSUIDSGID=`, `ProtectHostname=`.
    restrict_suid_sgid: 242,
    /// `ProtectKernelLogs=`.
    protect_kernel_logs: 244,
    /// `ProtectClock=`.
    protect_clock: 245,
    /// `ProtectProc=`.
    protect_proc: 247,
    /// `PrivateIPC=`.
    private_ipc: 248,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_starts_at_its_version() {
        assert!(!Features::at(234).directories);
        assert!(Features::at(235).directories);
        assert!(Features::at(219).runtime_directory);
        assert_eq!(SINCE.type_exec, 240);
        let json = serde_json::to_value(Features::at(240)).unwrap();
        assert_eq!(json["type_exec"], true);
        assert_eq!(json["private_ipc"], false);
    }
}

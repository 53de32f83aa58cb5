/**
 * The systemd sandboxing every unit the library renders gets: the program reads the system and writes only the
 * directories its unit names (StateDirectory=, RuntimeDirectory=, ReadWritePaths=). Pure text, for the renderers.
 */
export const SYSTEMD_HARDENING = `NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native`;

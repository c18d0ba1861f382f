"""How a console is set up (``ConsoleSettings``) and the binding rules it must pass before it serves.

Nothing is open by default: the console binds to 127.0.0.1. A non-loopback host needs
``allow_remote`` and a statement of how traffic is encrypted — TLS served by the console itself
(``tls_cert`` + ``tls_key``) or a TLS proxy in front (``behind_proxy``).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from toolchain_sdk.errors import ConfigError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ConsoleSettings", "is_loopback"]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (``127.0.0.0/8``, ``::1`` or ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class ConsoleSettings:
    """Everything a console needs; the CLI builds one from its options.

    Attributes:
        host, port: where to listen (default 127.0.0.1:8765).
        store: the approval queue (path or URL; ``None``: ``TOOLCHAIN_APPROVALS_URL``, else the default).
        flags: the flag file (``None``: ``TOOLCHAIN_FLAGS_FILE``, else ``.toolchain/flags.json``).
        audit: an audit chain to show (the audit page exists only with one).
        users: the users file (``None``: ``.toolchain/console-users.json``).
        scan: paths the control sheet and kill-switch page scan for surfaces (needs ``inventory``'s scan).
        allow_remote: allow a non-loopback ``host``.
        tls_cert, tls_key: serve HTTPS with this certificate and key.
        behind_proxy: a TLS-terminating proxy sits in front (cookies are ``Secure``; the client
            address is the last ``X-Forwarded-For`` hop).
        session_idle_s, session_max_s: a session ends after this long unused / this long in all.
        poll_s: how often the inbox page asks for new requests.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    store: str | None = None
    flags: Path | None = None
    audit: Path | None = None
    users: Path | None = None
    scan: tuple[Path, ...] = ()
    allow_remote: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    behind_proxy: bool = False
    session_idle_s: float = 30 * 60.0
    session_max_s: float = 12 * 3600.0
    poll_s: float = 2.0

    @property
    def tls(self) -> bool:
        """Whether the console serves HTTPS itself."""
        return self.tls_cert is not None

    @property
    def secure_cookies(self) -> bool:
        """Whether browsers reach the console over TLS (its own, or a proxy's)."""
        return self.tls or self.behind_proxy

    def check(self) -> None:
        """Refuse a set-up that would expose the console without saying how it is protected.

        Raises:
            ConfigError: a non-loopback host without ``--allow-remote``, or without TLS or
                ``--behind-proxy``; half a TLS pair; a key or certificate that is not a file; a
                port outside 1-65535; a session limit or poll interval that is not above 0.
        """
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both --tls-cert PATH and --tls-key PATH")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not os.path.isfile(path):
                raise ConfigError(f"TLS file {path} does not exist or is not a file")
        if not 0 < self.port < 65536:
            raise ConfigError(f"--port {self.port}: use 1-65535")
        if not self.session_idle_s > 0 or not self.session_max_s > 0:
            raise ConfigError(f"--session-idle {self.session_idle_s / 60:g}: give a number of minutes above 0")
        if not self.poll_s > 0:
            raise ConfigError(f"poll_s {self.poll_s}: give a number of seconds above 0")
        if is_loopback(self.host):
            return
        if not self.allow_remote:
            raise ConfigError(
                f"--host {self.host} is reachable from other machines; the console binds to 127.0.0.1 unless "
                "you add --allow-remote (and TLS: --tls-cert/--tls-key, or --behind-proxy for a TLS proxy in front)"
            )
        if not (self.tls or self.behind_proxy):
            raise ConfigError(
                f"--host {self.host} with --allow-remote would send tokens and session cookies in clear text: "
                "give --tls-cert PATH --tls-key PATH, or --behind-proxy when a TLS-terminating proxy sits in front"
            )

"""Serve a console with uvicorn until interrupted (what ``toolchain console`` runs)."""

from __future__ import annotations

import ssl
import sys

import uvicorn

from toolchain_sdk.console._app import build_app
from toolchain_sdk.console._settings import ConsoleSettings
from toolchain_sdk.console._users import UserStore
from toolchain_sdk.errors import ConfigError

__all__ = ["serve"]


def serve(settings: ConsoleSettings) -> int:
    """Serve the console for ``settings`` (already checked); returns the exit status."""
    app = build_app(settings)
    scheme = "https" if settings.tls else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    users = UserStore(settings.users)
    print(f"toolchain console: serving {scheme}://{host}:{settings.port}/ (users: {users.path})", flush=True)
    if not users.users():
        print("toolchain console: no users yet; add one: toolchain console users add NAME --role reviewer",
              file=sys.stderr, flush=True)  # fmt: skip
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        proxy_headers=False,  # the client address is taken from X-Forwarded-For only with --behind-proxy
        server_header=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot listen (the port is taken, or not ours to use)
        print(f"toolchain console: could not listen on {host}:{settings.port}: is another process using it? "
              "Choose another --port.", file=sys.stderr, flush=True)  # fmt: skip
        return 2
    except ssl.SSLError as exc:
        raise ConfigError(
            f"--tls-cert {settings.tls_cert} / --tls-key {settings.tls_key} could not be loaded ({exc}): "
            "give a PEM certificate and its unencrypted PEM private key"
        ) from None
    return 0 if server.started else 2

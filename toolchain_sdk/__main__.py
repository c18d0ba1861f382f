"""``python -m toolchain_sdk`` runs the ``toolchain`` command."""

from toolchain_sdk.cli import main

raise SystemExit(main())

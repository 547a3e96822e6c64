"""The offline bundle: its layout, pins and manifest (``layout``), what a host needs of it (``check``), Debian
dependency closure (``debs``). Used by the modules ``bundle_*`` on the builder and on the targets."""

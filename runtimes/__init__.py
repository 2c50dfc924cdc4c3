"""Per-language sandboxes: runtime specs as data (``runtimes/<lang>/runtime.toml``) and
the backends that run programs under them."""

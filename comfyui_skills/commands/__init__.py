"""One module a script: `build_parser()` and `run(args)`; `scripts/<name>.py` calls `cli.main`."""

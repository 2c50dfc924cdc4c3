"""cruxforge command line: one typer app; each stage contributes its own sub-app."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Build, validate and analyse cross-lingual code-reasoning benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from cruxforge.cli.audit import audit_command, export_command
    from cruxforge.cli.runtimes import register as register_runtimes
    from cruxforge.cli.seeds import seeds_app

    app.add_typer(seeds_app, name="seeds")
    register_runtimes(app)
    app.command("audit")(audit_command)
    app.command("export")(export_command)

    from cruxforge.cli.translate import translate_command

    app.command("translate")(translate_command)

    from cruxforge.cli import build as release_cli

    app.command("build")(release_cli.build_command)
    app.command("serve")(release_cli.serve_command)
    app.add_typer(release_cli.release_app, name="release")

    from cruxforge.cli.evaluate import analyse_command, evaluate_command

    app.command("evaluate")(evaluate_command)
    app.command("analyse", context_settings={"allow_extra_args": True})(analyse_command)


_register()

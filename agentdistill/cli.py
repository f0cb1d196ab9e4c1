"""The ``agentdistill`` command: one sub-command per stage, each a thin wrapper over the library.

Sub-command groups live beside the code they wire (``agentdistill/<part>/cli.py``) and are registered
here. Errors a user can act on (:class:`~agentdistill.errors.AgentDistillError`) print as one line.
"""

from __future__ import annotations

import sys
import warnings

import click
import typer
from rich.console import Console

from agentdistill.episodes.generate_cli import generate_command
from agentdistill.errors import AgentDistillError, AgentDistillWarning
from agentdistill.evaluation.cli import eval_command, report_command
from agentdistill.models.cli import models_app, serve_command
from agentdistill.pipeline.cli import pipeline_command
from agentdistill.sandbox.cli import sandbox_app
from agentdistill.tools.retrieval.cli import index_app
from agentdistill.training.cli import rl_command, train_command
from agentdistill.trajectories.cli import trajectories_app

app = typer.Typer(
    name="agentdistill",
    help="Distill LLM agents (retrieval + sandboxed Python tools) into small tool-using models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# In pipeline order: models and tools first, then the stages.
app.add_typer(models_app, name="models")
app.command("serve")(serve_command)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(index_app, name="index")
app.command("generate")(generate_command)
app.add_typer(trajectories_app, name="trajectories")
app.command("train")(train_command)
app.command("rl")(rl_command)
app.command("eval")(eval_command)
app.command("report")(report_command)
app.command("pipeline")(pipeline_command)


@app.command("version")
def version() -> None:
    """Print the agentdistill version."""
    from agentdistill import __version__

    typer.echo(__version__)


# recent typer releases carry their own copy of click (`typer._click`), whose exceptions are not `click`'s
_EXIT = (click.exceptions.Exit, typer.Exit)
_ABORT = (click.exceptions.Abort, typer.Abort)


def _is_usage_error(e: Exception) -> bool:
    """A click-style error with its own message and exit code (bad option, unknown command), from either copy
    of click."""
    return any(c.__name__ == "ClickException" for c in type(e).__mro__) and hasattr(e, "show")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    err = Console(stderr=True)
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if issubclass(category, AgentDistillWarning):
            err.print(f"[bold yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        rc = app(args=argv, standalone_mode=False)
    except _EXIT as e:
        sys.exit(e.exit_code)
    except _ABORT:
        err.print("aborted")
        sys.exit(130)
    except AgentDistillError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as e:
        if not _is_usage_error(e):
            raise
        e.show()  # type: ignore[attr-defined]
        sys.exit(e.exit_code)  # type: ignore[attr-defined]
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()

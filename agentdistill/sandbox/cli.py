"""``agentdistill sandbox``: run code in a sandbox, check which backends work here, build the Docker image."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from agentdistill.cli_options import ConfigFlags, config_yaml, print_config_option, set_option
from agentdistill.sandbox.config import SandboxConfig

sandbox_app = typer.Typer(help="Run model code in the sandbox; check backends; build the Docker image.")


# flag -> SandboxConfig field; every other field (limits.cpu_time_s, preload, docker_image...) is reachable
# with --set
EXEC_FLAGS = ConfigFlags(
    SandboxConfig,
    {"backend": "backend", "timeout": "limits.wall_time_s", "memory_mb": "limits.memory_mb"},
)
_opt = EXEC_FLAGS.option


@sandbox_app.command("exec")
def exec_command(
    file: Annotated[str, typer.Argument(help="Python file to run, or - for stdin.")] = "-",
    backend: Annotated[str | None, _opt("backend", "--backend", "-b")] = None,
    timeout: Annotated[float | None, _opt("timeout", "--timeout")] = None,
    memory_mb: Annotated[int | None, _opt("memory_mb", "--memory-mb")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML SandboxConfig; flags override it.")] = None,
    set_: Annotated[list[str] | None, set_option()] = None,
    print_config: Annotated[bool, print_config_option()] = False,
) -> None:
    """Run one step of code in a fresh sandbox and print the ExecResult as JSON."""
    from agentdistill.sandbox.session import Sandbox

    cfg = EXEC_FLAGS.load(config, locals(), set_)
    if print_config:
        typer.echo(config_yaml(cfg), nl=False)
        return
    code = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    with Sandbox.open(cfg) as sb:
        result = sb.run(code)
    typer.echo(result.model_dump_json(indent=2))
    if not result.ok:
        raise typer.Exit(1)


@sandbox_app.command("check")
def check_command() -> None:
    """Report which sandbox backends work on this host, and why the others do not."""
    from agentdistill.sandbox.backends import BACKENDS
    from agentdistill.sandbox.session import check_backend

    any_ok = False
    for name in BACKENDS.names():
        ok, why = check_backend(name)
        any_ok = any_ok or (ok and name != "unsafe-local")
        typer.echo(f"{name:13s} {'ok ' if ok else 'NO '} {why}")
    if not any_ok:
        raise typer.Exit(1)


@sandbox_app.command("build-image")
def build_image_command(
    force: bool = typer.Option(False, "--force", help="Re-import even if the image exists."),
    mirror: str | None = typer.Option(None, "--mirror", help="Debian mirror (default deb.debian.org)."),
) -> None:
    """Build the docker backend's image offline: debootstrap python3+numpy+sympy, then docker import."""
    from agentdistill.sandbox.image import build_image

    tag = build_image(force=force, mirror=mirror, log=lambda m: typer.echo(m, err=True))
    typer.echo(tag)

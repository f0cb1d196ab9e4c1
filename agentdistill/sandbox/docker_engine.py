"""A connection to a Docker engine (docker SDK), shared by the docker backend and the image builder."""

from __future__ import annotations

import os

from agentdistill.sandbox.errors import SandboxUnavailable


def docker_client(docker_host: str | None):
    """A connected docker SDK client, or SandboxUnavailable saying how to get an engine."""
    try:
        import docker
    except ImportError:
        raise SandboxUnavailable("the docker Python package is missing: pip install docker") from None
    try:
        client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
        client.ping()
        return client
    except Exception as e:
        where = docker_host or os.environ.get("DOCKER_HOST") or "the default socket"
        raise SandboxUnavailable(
            f"cannot reach a Docker engine at {where} ({type(e).__name__}): install docker.io and start dockerd "
            "(or set DOCKER_HOST)"
        ) from None

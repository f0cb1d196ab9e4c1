"""The Docker backend's image, built offline from Debian packages (no image registry needed).

``agentdistill sandbox build-image``: debootstrap a minimal Debian rootfs with python3, numpy and sympy
from a Debian mirror, pack it as a tarball under ``cache_dir()/sandbox/`` and ``docker import`` it. The
tarball is kept, so rebuilding the image on a fresh engine (CI on the same machine) only re-imports it.
The image tag carries a hash of the recipe: changing the recipe makes a new image.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from agentdistill.config import cache_dir
from agentdistill.sandbox.errors import SandboxError, SandboxUnavailable

SUITE = "bookworm"
PACKAGES = ("python3", "python3-numpy", "python3-sympy")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
IMAGE_REPOSITORY = "agentdistill-sandbox"
# Dropped from the rootfs: documentation and package caches (about a third of its size).
TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info")


def recipe_hash() -> str:
    recipe = {"suite": SUITE, "variant": "minbase", "packages": PACKAGES, "trim": TRIM}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def default_image() -> str:
    """The tag ``build-image`` produces (and the docker backend uses unless configured otherwise)."""
    return f"{IMAGE_REPOSITORY}:{SUITE}-{recipe_hash()}"


def rootfs_tarball() -> Path:
    return cache_dir() / "sandbox" / f"rootfs-{SUITE}-{recipe_hash()}.tar"


def build_rootfs(mirror: str | None = None, log: Callable[[str], None] = print) -> Path:
    """Debootstrap the rootfs tarball unless it is cached; needs root and ``debootstrap``."""
    tarball = rootfs_tarball()
    if tarball.exists():
        log(f"rootfs: cached {tarball}")
        return tarball
    if shutil.which("debootstrap") is None:
        raise SandboxUnavailable(
            "debootstrap is not installed: apt-get install debootstrap (needed to build the image)"
        )
    if os.geteuid() != 0:
        raise SandboxUnavailable("building the sandbox image needs root (debootstrap); run it with sudo")
    mirror = mirror or os.environ.get("AGENTDISTILL_DEBIAN_MIRROR") or DEFAULT_MIRROR
    work = tarball.parent / f"build-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rootfs = work / "rootfs"
    t0 = time.monotonic()
    log(f"rootfs: debootstrap {SUITE} with {', '.join(PACKAGES)} from {mirror} (about a minute)")
    cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), mirror]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            raise SandboxError(f"debootstrap failed (exit {proc.returncode}): {' | '.join(tail)}")
        for rel in TRIM:
            shutil.rmtree(rootfs / rel, ignore_errors=True)
            (rootfs / rel).mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".tar.partial")
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"rootfs: {tarball} ({tarball.stat().st_size / 2**20:.0f} MiB) in {time.monotonic() - t0:.0f} s")
    return tarball


def image_exists(client, tag: str) -> bool:
    import docker

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_image(
    client=None, *, force: bool = False, mirror: str | None = None, log: Callable[[str], None] = print
) -> str:
    """Make sure the default image exists in the engine; returns its tag."""
    from agentdistill.sandbox.docker_engine import docker_client

    client = client or docker_client(None)
    tag = default_image()
    if not force and image_exists(client, tag):
        log(f"image: {tag} is already in the engine")
        return tag
    tarball = build_rootfs(mirror, log)
    t0 = time.monotonic()
    repo, _, version = tag.partition(":")
    client.api.import_image_from_file(
        str(tarball), repository=repo, tag=version, changes=['CMD ["python3"]', "WORKDIR /"]
    )
    if not image_exists(client, tag):
        raise SandboxError(f"docker import of {tarball} did not produce {tag}")
    log(f"image: imported {tag} in {time.monotonic() - t0:.0f} s")
    return tag

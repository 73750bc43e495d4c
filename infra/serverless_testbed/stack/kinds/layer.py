"""Lambda layers, built from a folder of `src/` or a requirements file, versioned by content.

A layer version is immutable and its number AWS's to choose, so the testbed marks each
version it publishes with the SHA-256 of its zip (`Description: testbed sha256:...`): a
deploy publishes a new version only when the content changed, and a function names its
layers by that mark until the version's ARN is looked up when the function is created.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.errors import StackError
from serverless_testbed.packaging import code_sha256, zip_directory
from serverless_testbed.project import find_root, src_dir
from serverless_testbed.stack.calls import Call, Deferred
from serverless_testbed.stack.resource import Context, Resource, State
from serverless_testbed.stack.stack import Stack

MARK = "testbed sha256:"


@dataclass(frozen=True)
class Layer(Resource):
    """A layer from `src/<source>` (laid out as Lambda extracts it into /opt: Python
    packages under `python/`), or from `requirements` (a requirements file, relative to the
    project root), installed for `runtimes[0]` on `architecture` into `python/`."""

    source: str = ""
    requirements: str = ""
    runtimes: tuple[str, ...] = ("python3.12",)
    architecture: str = "x86_64"

    kind = "layer"
    services = ("lambda",)
    name_limit = ("Lambda layer", 140)

    def arn(self, ctx: Context) -> str:
        """The layer's ARN without a version (a version's is this plus `:<number>`)."""
        return ctx.arn("lambda", f"layer:{self.physical(ctx)}")

    @cached_property
    def package(self) -> bytes:
        if bool(self.source) == bool(self.requirements):
            raise StackError(f"layer {self.name}: give either a source folder or a requirements file")
        if self.source:
            folder = src_dir() / self.source
            if not folder.is_dir():
                raise FileNotFoundError(f"layer {self.name}: no source folder {folder}")
            return zip_directory(folder)
        return self._built()

    @property
    def sha256(self) -> str:
        return code_sha256(self.package)

    def _built(self) -> bytes:
        """The requirements installed as Lambda would import them: wheels for the layer's
        runtime and architecture only (pip's documented way to build a layer), no bytecode."""
        requirements = find_root() / self.requirements
        if not requirements.is_file():
            raise FileNotFoundError(f"layer {self.name}: no requirements file {requirements}")
        with tempfile.TemporaryDirectory(prefix="testbed-layer-") as tmp:
            command = _install_command(Path(tmp, "python"), requirements, self.runtimes[0], self.architecture)
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                why = (done.stderr.strip().splitlines() or ["no message"])[-1]
                raise StackError(f"layer {self.name}: installing {self.requirements} failed: {why}")
            return zip_directory(Path(tmp))

    def desired(self, stack: Stack, ctx: Context) -> State:
        return {"sha256": self.sha256}

    def read(self, clients: Clients, ctx: Context) -> State | None:
        versions = _versions(clients("lambda"), self.physical(ctx))
        if not versions:
            return None
        latest = max(versions, key=lambda v: v["Version"])
        description = latest.get("Description", "")
        return {
            "sha256": description.removeprefix(MARK) if description.startswith(MARK) else None,
            "_versions": sorted(v["Version"] for v in versions),
        }

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        params = {
            "LayerName": self.physical(ctx),
            "Description": MARK + self.sha256,
            "Content": {"ZipFile": self.package},
            "CompatibleRuntimes": list(self.runtimes),
            "CompatibleArchitectures": [self.architecture],
        }
        return [Call("lambda", "publish_layer_version", params)]

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        return self.create(stack, ctx, desired)  # versions are immutable: a new one, the old kept for who uses it

    def delete(self, ctx: Context, current: State) -> list[Call]:
        name = self.physical(ctx)
        return [
            Call("lambda", "delete_layer_version", {"LayerName": name, "VersionNumber": number}, gone_ok=True)
            for number in current.get("_versions", [])
        ]

    def artifact(self) -> bytes:
        return self.package

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        from serverless_testbed.stack.cloudformation import artifact_key

        return {
            "Type": "AWS::Lambda::LayerVersion",
            "LayerName": self.physical(ctx),
            "Description": MARK + self.sha256,
            "Content": artifact_key(self),  # a local path: `aws cloudformation package` uploads it
            "CompatibleRuntimes": list(self.runtimes),
            "CompatibleArchitectures": [self.architecture],
        }

    def outputs(self, ctx: Context, key: str) -> dict[str, Any]:
        return {f"{key}Arn": {"Description": f"Lambda layer version {self.name}", "Value": {"Ref": key}}}


def layer_label(layer: Resource, ctx: Context) -> str:
    """How a function's desired state names one of the stack's layers: name and content."""
    if not isinstance(layer, Layer):
        raise StackError(f"{layer.kind} {layer.name} is named as a layer")
    return f"{layer.physical(ctx)}@{layer.sha256}"


def layer_arn(layer: Resource, ctx: Context) -> Deferred:
    """The ARN of the version of `layer` holding its content, looked up when the call runs."""
    label = layer_label(layer, ctx)
    name, sha = label.split("@", 1)

    def lookup(clients: Any) -> str:
        for version in _versions(clients("lambda"), name):
            if version.get("Description") == MARK + sha:
                return str(version["LayerVersionArn"])
        raise StackError(f"layer {name}: no version holds content {sha}; deploy the layer first")

    return Deferred(f"layer {name} version {sha[:12]}", lookup)


def read_layer_label(lambda_: Any, arn: str) -> str:
    """A function's layer as `layer_label` names it, or its ARN when the testbed did not publish it."""
    try:
        description = lambda_.get_layer_version_by_arn(Arn=arn).get("Description", "")
    except Exception:  # noqa: BLE001 - a layer of another account may not be readable: its ARN is the label
        return arn
    if not description.startswith(MARK):
        return arn
    name = arn.split(":layer:", 1)[1].rsplit(":", 1)[0]
    return f"{name}@{description.removeprefix(MARK)}"


def _versions(lambda_: Any, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in lambda_.get_paginator("list_layer_versions").paginate(LayerName=name):
        found.extend(page.get("LayerVersions", []))
    return found


def _install_command(target: Path, requirements: Path, runtime: str, architecture: str) -> list[str]:
    """pip of this Python, else uv's (a uv-made venv has no pip), installing wheels for the
    runtime's Python on Lambda's Linux, with no bytecode (Lambda compiles its own)."""
    machine = "aarch64" if architecture == "arm64" else "x86_64"
    version = runtime.removeprefix("python")
    common = ["--target", str(target), "-r", str(requirements), "--python-version", version, "--quiet"]
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, check=False).returncode == 0:
        return [sys.executable, "-m", "pip", "install", *common, "--only-binary=:all:", "--platform",
                f"manylinux2014_{machine}", "--implementation", "cp", "--no-compile"]  # fmt: skip
    uv = shutil.which("uv")
    if uv:
        return [
            uv,
            "pip",
            "install",
            *common,
            "--only-binary",
            ":all:",
            "--python-platform",
            f"{machine}-manylinux2014",
        ]
    raise StackError("building a layer from requirements needs pip or uv; neither was found")

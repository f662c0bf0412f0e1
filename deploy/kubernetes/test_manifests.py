"""Checks the Kubernetes manifests without a cluster.

What this covers (docs/deploy/kubernetes.md says the same):

* each kustomization (the base and both overlays) is rendered — by a small
  renderer for the subset of kustomize these files use (resources, RFC 6902
  patches, labels), which is compared with `kubectl kustomize` whenever
  kubectl is installed — and every object it yields validates strictly
  against the Kubernetes 1.32 OpenAPI schemas (PyPI `kubernetes-validate`,
  offline);
* the pieces fit: probes hit the outer API's health routes as the OpenAPI
  document lists them, the container port is the port in veil.toml, every
  ConfigMap, Secret and volume claim the pod names exists, selectors match
  the pod's labels, the grace period outlasts the drain timeout;
* the ConfigMap's veil.toml passes `veil serve --check-config` with each
  overlay's environment, using the built binary;
* the overlays run the pod under a confidential runtime class with the
  right `VEIL_PLATFORM`, and the base stays `simulated`.

What it cannot cover: scheduling on a real cluster, Confidential Containers
runtimes, configfs-tsm inside a pod VM, and the image build (deploy/Dockerfile).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonpatch
import kubernetes_validate
import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
KUBERNETES_VERSION = "1.32"
OVERLAYS = {"sev-snp": "kata-qemu-snp", "tdx": "kata-qemu-tdx"}

sys.path.insert(0, str(REPO / "examples"))
from common import veil_binary  # noqa: E402

# The kustomization fields the renderer below implements; anything else in a
# kustomization.yaml fails the test rather than being silently ignored.
SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "patches", "labels"}


def render(directory: Path) -> list[dict]:
    """Renders a kustomization: resources (files or directories), then
    RFC 6902 patches by target, then labels on every object's metadata."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    assert not unsupported, f"{directory}: the test's renderer does not implement {unsupported}"
    objects: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        if path.is_dir():
            objects += render(path)
        else:
            objects += [o for o in yaml.safe_load_all(path.read_text()) if o]
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        matches = [i for i, o in enumerate(objects)
                   if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]]
        assert len(matches) == 1, f"patch {patch['path']} must match one object, matched {len(matches)}"
        operations = yaml.safe_load((directory / patch["path"]).read_text())
        objects[matches[0]] = jsonpatch.apply_patch(objects[matches[0]], operations)
    for label in kustomization.get("labels", []):
        assert label.get("includeSelectors") is False and not label.get("includeTemplates")
        for o in objects:
            o["metadata"].setdefault("labels", {}).update(label["pairs"])
    return objects


def by_kind(objects: list[dict], kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def variants() -> dict[str, Path]:
    return {"base": HERE / "base", **{name: HERE / "overlays" / name for name in OVERLAYS}}


@pytest.fixture(scope="module", params=sorted(variants()))
def variant(request) -> tuple[str, list[dict]]:
    return request.param, render(variants()[request.param])


def test_every_object_validates_against_the_kubernetes_schema(variant):
    name, objects = variant
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == ["ConfigMap", "Deployment", "PersistentVolumeClaim",
                     "PodDisruptionBudget", "Secret", "Service"], name
    for o in objects:
        kubernetes_validate.validate(copy.deepcopy(o), KUBERNETES_VERSION, strict=True)


def test_the_renderer_agrees_with_kubectl_kustomize(variant):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        # Not a skip of the checks above: only this cross-check needs kubectl,
        # which Debian's registry does not offer in a kustomize v5 version.
        pytest.skip("kubectl is not installed; the renderer was checked against kubectl kustomize v5.5 when written")
    name, objects = variant
    out = subprocess.run([kubectl, "kustomize", str(variants()[name])],
                         check=True, capture_output=True, text=True).stdout
    rendered = [o for o in yaml.safe_load_all(out) if o]
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    assert sorted(rendered, key=key) == sorted(objects, key=key)


def pod_spec(objects: list[dict]) -> dict:
    return by_kind(objects, "Deployment")["spec"]["template"]["spec"]


def veil_config(objects: list[dict]) -> dict:
    return tomllib.loads(by_kind(objects, "ConfigMap")["data"]["veil.toml"])


def test_probes_use_the_outer_health_routes(variant):
    _, objects = variant
    container = pod_spec(objects)["containers"][0]
    documented = json.loads((REPO / "docs" / "openapi.json").read_text())["paths"]
    paths = {probe: container[probe]["httpGet"]["path"]
             for probe in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert paths["readinessProbe"] == "/v1/health/ready"
    assert paths["livenessProbe"] == "/v1/health/live"
    for probe, path in paths.items():
        assert "get" in documented.get(path, {}), f"{probe} uses {path}, not a GET route of the outer API"
        assert container[probe]["httpGet"]["port"] == "http"


def test_ports_and_references_fit_together(variant):
    _, objects = variant
    spec = pod_spec(objects)
    container = spec["containers"][0]
    config = veil_config(objects)
    listen_port = int(config["listen"].rsplit(":", 1)[1])
    assert container["ports"] == [{"name": "http", "containerPort": listen_port, "protocol": "TCP"}]
    assert by_kind(objects, "Service")["spec"]["ports"][0]["targetPort"] == "http"

    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert ("ConfigMap", volumes["config"]["configMap"]["name"]) in names
    assert ("PersistentVolumeClaim", volumes["data"]["persistentVolumeClaim"]["claimName"]) in names
    for mount in container["volumeMounts"]:
        assert mount["name"] in volumes
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert container["args"] == ["serve", "--config", mounts["config"] + "/veil.toml"]
    assert config["data_dir"] == mounts["data"]

    secret = by_kind(objects, "Secret")
    for env in container["env"]:
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == secret["metadata"]["name"]
            assert ref["key"] in secret["stringData"]

    pod_labels = by_kind(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    for kind, selector in (("Service", by_kind(objects, "Service")["spec"]["selector"]),
                           ("PodDisruptionBudget", by_kind(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]),
                           ("Deployment", by_kind(objects, "Deployment")["spec"]["selector"]["matchLabels"])):
        assert selector.items() <= pod_labels.items(), f"{kind} selector does not match the pod"


def test_the_grace_period_outlasts_the_drain(variant):
    _, objects = variant
    assert pod_spec(objects)["terminationGracePeriodSeconds"] > veil_config(objects)["drain_timeout"]


def test_the_platform_per_variant(variant):
    name, objects = variant
    spec = pod_spec(objects)
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    if name == "base":
        assert "runtimeClassName" not in spec
        assert "VEIL_PLATFORM" not in env
        assert veil_config(objects)["platform"]["kind"] == "simulated"
    else:
        assert spec["runtimeClassName"] == OVERLAYS[name]
        assert env["VEIL_PLATFORM"] == name
        mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        assert "/sys/kernel/config" in mounts
        if name == "sev-snp":
            # The sealing key comes from the AMD Secure Processor.
            assert "/dev/sev-guest" in mounts
            assert "VEIL_SEALING_KEY_FILE" not in env
        else:
            # No TDX sealing key source: veil serve refuses to start without a key file.
            assert env["VEIL_SEALING_KEY_FILE"].startswith(veil_config(objects)["data_dir"] + "/")


def test_veil_accepts_the_config_file(variant, tmp_path):
    """`veil serve --check-config` with the ConfigMap's file and the pod's
    environment (the overlay's VEIL_PLATFORM, the Secret's hash)."""
    _, objects = variant
    config = tmp_path / "veil.toml"
    config.write_text(by_kind(objects, "ConfigMap")["data"]["veil.toml"])
    secret = by_kind(objects, "Secret")["stringData"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")}
    for e in pod_spec(objects)["containers"][0]["env"]:
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            env[e["name"]] = secret[e["valueFrom"]["secretKeyRef"]["key"]]
    result = subprocess.run([str(veil_binary()), "serve", "--config", str(config), "--check-config"],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert secret["owner-token-sha256"] not in result.stdout + result.stderr, "a token hash was printed"

"""deploy/k8s checked offline: every object against the Kubernetes 1.30 schemas (strict: an
unknown or misspelt field fails), then the wiring the schemas cannot see."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SECRETS_EXAMPLE = ROOT / "deploy" / "secrets.example.yaml"
KUBERNETES_VERSION = "1.30.0"

_spec = importlib.util.spec_from_file_location(
    "make_policy_configmap", ROOT / "deploy" / "make_policy_configmap.py"
)
assert _spec is not None
assert _spec.loader is not None
make_policy_configmap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_policy_configmap)


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


MANIFESTS = sorted(K8S.glob("*.yaml"))
OBJECTS = [(p.name, doc) for p in MANIFESTS for doc in load(p)]
SECRETS = load(SECRETS_EXAMPLE)


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in OBJECTS if doc["kind"] == kind}


@pytest.mark.parametrize(
    "obj",
    [doc for _, doc in OBJECTS] + SECRETS,
    ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in OBJECTS]
    + [f"secrets.example.yaml:Secret/{d['metadata']['name']}" for d in SECRETS],
)
def test_object_matches_the_kubernetes_schema(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_catches_mistakes() -> None:
    broken = copy.deepcopy(of_kind("Deployment")["settlement"])
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_kinds_the_deployment_needs() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in OBJECTS}
    assert {
        ("Namespace", "medaid"),
        ("ConfigMap", "settlement-policies"),
        ("Deployment", "registry"),
        ("Deployment", "settlement"),
        ("Service", "registry"),
        ("Service", "settlement"),
        ("Job", "registry-migrate"),
        ("Job", "settlement-migrate"),
        ("HorizontalPodAutoscaler", "settlement"),
        ("PodDisruptionBudget", "settlement"),
    } <= kinds
    # No secret values in the manifests applied to the cluster.
    assert not [name for name, doc in OBJECTS if doc["kind"] == "Secret"]
    for _, doc in OBJECTS:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "medaid"


def pod_specs() -> dict[str, dict[str, Any]]:
    specs = {}
    for kind in ("Deployment", "Job"):
        for name, doc in of_kind(kind).items():
            specs[f"{kind}/{name}"] = doc["spec"]["template"]["spec"]
    return specs


def test_every_container_is_locked_down_and_sized() -> None:
    for where, spec in pod_specs().items():
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["automountServiceAccountToken"] is False, where
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert {"cpu", "memory"} <= set(resources["limits"]), where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where


def test_deployments_probe_health_and_readiness() -> None:
    for name, deployment in of_kind("Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["port"] in ports, (name, probe)
        # The readiness check gives up after 3 s; the probe must wait longer than that.
        assert container["readinessProbe"]["timeoutSeconds"] > 3
        assert container["command"][:2] == [f"medaid-{name}", "serve"]
        port = str(ports["http"])
        assert container["command"][container["command"].index("--port") + 1] == port
        assert (
            deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == port
        )
        # Room for the preStop pause and uvicorn's 25 s graceful shutdown.
        assert spec["terminationGracePeriodSeconds"] >= 30 + 5
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_services_pdbs_and_hpa_point_at_the_deployments() -> None:
    deployments = of_kind("Deployment")
    for name, service in of_kind("Service").items():
        pod = deployments[name]["spec"]["template"]
        assert selects(service["spec"]["selector"], pod["metadata"]["labels"])
        port_names = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    for name, pdb in of_kind("PodDisruptionBudget").items():
        deployment = deployments[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(pdb["spec"]["selector"]["matchLabels"], labels)
        assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    hpa = of_kind("HorizontalPodAutoscaler")["settlement"]
    assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
    assert hpa["spec"]["minReplicas"] >= 2
    settlement = deployments["settlement"]["spec"]["template"]["spec"]["containers"][0]
    assert "cpu" in settlement["resources"]["requests"]  # utilisation is relative to it


def test_secret_and_config_references_resolve() -> None:
    secrets = {s["metadata"]["name"]: set(s["stringData"]) for s in SECRETS}
    config_maps = of_kind("ConfigMap")
    for where, spec in pod_specs().items():
        for container in spec["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]], (where, env["name"])
                else:
                    assert not any(h in env["name"] for h in ("TOKEN", "PASSWORD", "URL")), (
                        where,
                        env["name"],
                    )
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps, where
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, where
    for values in (s["stringData"] for s in SECRETS):
        for key, value in values.items():
            assert "change-me" in value, key


def test_migration_jobs_use_the_deployed_images() -> None:
    jobs, deployments = of_kind("Job"), of_kind("Deployment")
    for name in ("registry", "settlement"):
        (job,) = jobs[f"{name}-migrate"]["spec"]["template"]["spec"]["containers"]
        (app,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert job["command"] == [f"medaid-{name}", "migrate"]
        assert job["image"] == app["image"]
        assert {e["name"] for e in job["env"]} == {e["name"] for e in app["env"]}
        assert job["envFrom"] == app["envFrom"]
    assert jobs["registry-migrate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_settlement_mounts_the_policies_at_policy_dir() -> None:
    config = of_kind("ConfigMap")["settlement-config"]["data"]
    spec = of_kind("Deployment")["settlement"]["spec"]["template"]["spec"]
    volume = next(v for v in spec["volumes"] if v.get("configMap"))
    assert volume["configMap"]["name"] == "settlement-policies"
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    assert mount["mountPath"] == config["SETTLEMENT_POLICY_DIR"]
    assert mount["readOnly"] is True
    assert config["SETTLEMENT_REGISTRY_URL"] == "http://registry.medaid.svc:8001"


def test_policy_configmap_matches_the_policy_files() -> None:
    files = make_policy_configmap.policy_files()
    assert {"2017.toml", "2020.toml"} <= set(files)
    configmap = of_kind("ConfigMap")["settlement-policies"]
    assert configmap["data"] == files
    assert make_policy_configmap.main(["--check"]) == 0


def test_policy_configmap_check_notices_a_changed_policy(tmp_path: Path) -> None:
    source = tmp_path / "policies"
    source.mkdir()
    for name, text in make_policy_configmap.policy_files().items():
        (source / name).write_text(text + "# edited\n", encoding="utf-8")
    output = tmp_path / "cm.yaml"
    output.write_text((K8S / "settlement-policies.yaml").read_text(encoding="utf-8"))
    args = ["--source", str(source), "--output", str(output)]
    assert make_policy_configmap.main([*args, "--check"]) == 1
    assert make_policy_configmap.main(args) == 0
    assert make_policy_configmap.main([*args, "--check"]) == 0
    assert load(output)[0]["data"]["2017.toml"].endswith("# edited\n")

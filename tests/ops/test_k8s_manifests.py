"""deploy/k8s checked offline: every object against the Kubernetes 1.30 schemas (strict: an
unknown or misspelt field fails), the CloudNativePG objects against schemas written from the
operator's API reference (``tests/ops/cnpg_schema.py``), then the wiring the schemas cannot
see."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared import dburl
from tests.ops import cnpg_schema

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
CNPG = [(name, doc) for name, doc in OBJECTS if doc["apiVersion"] == cnpg_schema.API_VERSION]
BUILT_IN = [(name, doc) for name, doc in OBJECTS if doc["apiVersion"] != cnpg_schema.API_VERSION]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in OBJECTS if doc["kind"] == kind}


@pytest.mark.parametrize(
    "obj",
    [doc for _, doc in BUILT_IN] + SECRETS,
    ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in BUILT_IN]
    + [f"secrets.example.yaml:Secret/{d['metadata']['name']}" for d in SECRETS],
)
def test_object_matches_the_kubernetes_schema(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def validate_cnpg(obj: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(cnpg_schema.SCHEMAS[obj["kind"]]).validate(obj)


@pytest.mark.parametrize(
    "obj",
    [doc for _, doc in CNPG],
    ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in CNPG],
)
def test_cloudnativepg_object_matches_its_schema(obj: dict[str, Any]) -> None:
    validate_cnpg(obj)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "postgresql", "synchronus"), {"method": "any", "number": 1}),  # misspelt
        (("spec", "postgresql", "synchronous", "method"), "quorum"),
        (("spec", "instance"), 3),
        (("spec", "storage", "sise"), "1Gi"),
        (("spec", "managed", "roles", 0, "password"), "x"),
        (("spec", "bootstrap", "initdb", "secret"), "settlement-db-owner"),
    ],
)
def test_the_cloudnativepg_check_catches_mistakes(path: tuple[Any, ...], value: Any) -> None:
    broken = copy.deepcopy(of_kind("Cluster")["medaid-db"])
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate_cnpg(broken)


@pytest.mark.parametrize(("kind", "field"), [("Cluster", "instances"), ("Database", "owner")])
def test_the_cloudnativepg_check_wants_required_fields(kind: str, field: str) -> None:
    (obj,) = copy.deepcopy(list(of_kind(kind).values()))
    del obj["spec"][field]
    with pytest.raises(jsonschema.ValidationError):
        validate_cnpg(obj)


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
        ("Cluster", "medaid-db"),
        ("Database", "registry"),
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
    for secret in SECRETS:
        for key, value in secret["stringData"].items():
            if secret.get("type") == "kubernetes.io/basic-auth" and key == "username":
                continue  # a role name, not a secret
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


# --------------------------------------------------------------------------- the database


def database_owners() -> dict[str, str]:
    """Database name → owning role, over the Cluster's bootstrap and the Database objects."""
    (cluster,) = of_kind("Cluster").values()
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    owners = {initdb["database"]: initdb["owner"]}
    for database in of_kind("Database").values():
        assert database["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        owners[database["spec"]["name"]] = database["spec"]["owner"]
    return owners


def test_the_cluster_is_replicated_synchronously_across_nodes() -> None:
    spec = of_kind("Cluster")["medaid-db"]["spec"]
    assert spec["instances"] >= 3
    synchronous = spec["postgresql"]["synchronous"]
    # A commit waits for a standby; with a standby missing it waits rather than run alone.
    assert synchronous["number"] >= 1
    assert synchronous["number"] < spec["instances"] - 1 or synchronous["method"] == "any"
    assert synchronous["dataDurability"] == "required"
    assert spec["primaryUpdateMethod"] == "switchover"
    assert spec["affinity"]["enablePodAntiAffinity"] is True
    assert spec["affinity"]["podAntiAffinityType"] == "required"
    assert spec.get("enablePDB", True) is True
    assert spec["enableSuperuserAccess"] is False
    # Room for both services' pools: the settlement pods of the HPA at most, 2 pools each.
    hpa = of_kind("HorizontalPodAutoscaler")["settlement"]["spec"]["maxReplicas"]
    pool = int(of_kind("ConfigMap")["settlement-config"]["data"]["SETTLEMENT_DB_POOL_SIZE"])
    registry = of_kind("Deployment")["registry"]["spec"]["replicas"]
    assert int(spec["postgresql"]["parameters"]["max_connections"]) > (
        hpa * 4 * pool + registry * 3 * 10
    )


def test_each_service_owns_a_database_with_a_role_and_a_password_secret() -> None:
    (cluster,) = of_kind("Cluster").values()
    owners = database_owners()
    assert owners == {"settlement": "settlement", "registry": "registry"}
    password_secrets = {
        cluster["spec"]["bootstrap"]["initdb"]["owner"]: (
            cluster["spec"]["bootstrap"]["initdb"]["secret"]["name"]
        )
    }
    for role in cluster["spec"]["managed"]["roles"]:
        assert role["login"] is True
        password_secrets[role["name"]] = role["passwordSecret"]["name"]
    assert set(password_secrets) == set(owners.values())
    examples = {s["metadata"]["name"]: s for s in SECRETS}
    for role, secret_name in password_secrets.items():
        secret = examples[secret_name]
        assert secret["type"] == "kubernetes.io/basic-auth"
        assert secret["stringData"]["username"] == role


def test_service_urls_name_the_primary_service_and_the_owning_role() -> None:
    (cluster,) = of_kind("Cluster").values()
    name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    owners = database_owners()
    examples = {s["metadata"]["name"]: s for s in SECRETS}
    roles = {
        s["stringData"]["username"]: s["stringData"]["password"]
        for s in SECRETS
        if s.get("type") == "kubernetes.io/basic-auth"
    }
    for service in ("registry", "settlement"):
        url = dburl.parse(examples[f"{service}-secrets"]["stringData"]["database-url"])
        assert [(h.host, h.port_or_default) for h in url.hosts] == [
            (f"{name}-rw.{namespace}.svc", 5432)
        ]
        assert url.database == service
        assert url.username == owners[service]
        assert url.password == roles[url.username]
        assert url.option("target_session_attrs") == "read-write"


def commented_block(text: str, start: str) -> str:
    """The commented lines from the one that reads ``# <start>`` to the first line that is
    not a comment, uncommented."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip() == f"# {start}")
    indent = lines[first].index("#")
    block = []
    for line in lines[first:]:
        if not line.strip().startswith("#"):
            break
        body = line[indent:].removeprefix("#")
        block.append(body[1:] if body.startswith(" ") else body)
    return "\n".join(block)


def test_the_commented_backup_section_is_ready_to_uncomment() -> None:
    text = (K8S / "database.yaml").read_text(encoding="utf-8")
    cluster = copy.deepcopy(of_kind("Cluster")["medaid-db"])
    block = commented_block(text, "backup:")
    section, scheduled = block.split("\n---\n")
    cluster["spec"].update(yaml.safe_load(section))
    validate_cnpg(cluster)
    store = cluster["spec"]["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://")
    backup = yaml.safe_load(scheduled)
    validate_cnpg(backup)
    assert backup["spec"]["cluster"]["name"] == cluster["metadata"]["name"]

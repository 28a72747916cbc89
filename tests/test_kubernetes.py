"""deploy/kubernetes/ describes the deployment docker-compose.yml does, and every manifest is valid.

There is no cluster here: the manifests are validated offline against the Kubernetes API's schemas
(kubernetes-validate), and compared with the compose file, which tests/test_deployment.py already
compares with the Procfile and .env.example.
"""

import re
import shlex

import kubernetes_validate
import pytest
import yaml

from botgateway.shards import shard_ids
from poppleproject import rabbitmq
from testkit.processes import ROOT

KUBERNETES = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30"  # the oldest still supported upstream when this was written
KUSTOMIZATION = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
MANIFESTS = {name: list(yaml.safe_load_all((KUBERNETES / name).read_text())) for name in KUSTOMIZATION["resources"]}
OBJECTS = [doc for docs in MANIFESTS.values() for doc in docs]
BY_KIND = {}
for _doc in OBJECTS:
    BY_KIND.setdefault(_doc["kind"], {})[_doc["metadata"]["name"]] = _doc
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
PROCFILE = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
ENV_EXAMPLE = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
CONFIG_KEYS = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (KUBERNETES / "config.env").read_text(), re.MULTILINE))
SECRET_KEYS = set(re.findall(r"^([a-z0-9-]+)=", (KUBERNETES / "secrets.env.example").read_text(), re.MULTILINE))
# The pods that run Popple's processes, by compose service: kind and name in the manifests.
WORKLOADS = {
    "rabbitmq-setup": ("Job", "rabbitmq-setup"),
    "migrate": ("Job", "migrate"),
    "web": ("Deployment", "web"),
    "worker": ("Deployment", "worker"),
    "replies": ("Deployment", "replies"),
    "beat": ("Deployment", "beat"),
    "gateway": ("StatefulSet", "gateway"),
    "flower": ("Deployment", "flower"),
}
# Variables Kubernetes gives that compose does not: the metrics port, which compose leaves off.
METRICS = {"METRICS_PORT", "METRICS_ADDRESS"}
EXTRA = {
    "worker": METRICS,
    "replies": METRICS,
    "gateway": METRICS | {"POD_INDEX"},
    "rabbitmq-setup": {"RABBITMQ_KEDA_PASSWORD"},
}
CUSTOM_KINDS = {"keda.sh/v1alpha1"}  # KEDA's, not in Kubernetes' schemas: checked below
SECRETS = "/run/secrets/popple"  # where each pod mounts the keys of popple-secrets it uses


def container(service):
    kind, name = WORKLOADS[service]
    [only] = BY_KIND[kind][name]["spec"]["template"]["spec"]["containers"]
    return only


def environment(service):
    """{name: its env entry}, a secret's NAME_FILE counted as NAME (poppleproject/variables.py)."""
    entries = {}
    for variable in container(service).get("env", []):
        name = variable["name"]
        if name.endswith("_FILE") and variable.get("value", "").startswith(SECRETS + "/"):
            name = name.removesuffix("_FILE")
        entries[name] = variable
    return entries


def secret_file(service, variable):
    """The Secret's key a process reads `variable` from (a file in its secrets volume), or None."""
    value = environment(service)[variable].get("value", "")
    return value.removeprefix(SECRETS + "/") if value.startswith(SECRETS + "/") else None


def mounted_secrets(service):
    """The keys of popple-secrets a workload's pod mounts, as files."""
    kind, name = WORKLOADS[service]
    pod = BY_KIND[kind][name]["spec"]["template"]["spec"]
    volumes = [volume for volume in pod.get("volumes", []) if "secret" in volume]
    if not volumes:
        return set()
    [volume] = volumes
    assert volume["secret"]["secretName"] == "popple-secrets"
    assert volume["secret"]["defaultMode"] == 0o440  # root's files, readable by the pod's group
    assert pod["securityContext"]["fsGroup"] == 999
    mounts = [mount for mount in container(service)["volumeMounts"] if mount["name"] == volume["name"]]
    assert mounts == [{"name": volume["name"], "mountPath": SECRETS, "readOnly": True}]
    assert all(item["key"] == item["path"] for item in volume["secret"]["items"])
    return {item["key"] for item in volume["secret"]["items"]}


def test_kustomization_lists_every_manifest():
    files = {path.name for path in KUBERNETES.glob("*.yaml")}
    assert files == {"kustomization.yaml", *KUSTOMIZATION["configurations"], *KUSTOMIZATION["resources"]}
    assert KUSTOMIZATION["namespace"] == BY_KIND["Namespace"]["popple"]["metadata"]["name"]


def test_kustomize_renames_the_secret_keda_reads_too():
    # The Secret's generated name carries a hash; kustomize follows it in built-in kinds only.
    config = yaml.safe_load((KUBERNETES / "kustomizeconfig.yaml").read_text())
    [reference] = config["nameReference"]
    assert reference["kind"] == "Secret"
    assert {"kind": "TriggerAuthentication", "path": "spec/secretTargetRef/name"} in reference["fieldSpecs"]


@pytest.mark.parametrize(
    "manifest",
    [doc for doc in OBJECTS if doc["apiVersion"] not in CUSTOM_KINDS],
    ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}",
)
def test_manifest_is_valid_kubernetes(manifest):
    # Strict: a misspelt or misplaced field fails, not only a missing one.
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_validator_catches_a_misplaced_field():
    broken = yaml.safe_load(yaml.safe_dump(BY_KIND["Deployment"]["worker"]))
    broken["spec"]["template"]["spec"]["containers"][0]["resource"] = {"limits": {"cpu": "1"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_popple_process_of_compose_runs_here():
    popple_services = {name for name, service in COMPOSE.items() if service.get("image") == "popple"}
    assert popple_services == set(WORKLOADS)
    for service in WORKLOADS:
        command = COMPOSE[service]["command"]
        assert container(service)["command"] == shlex.split(command), service
        assert container(service)["image"] == "popple"
    assert [image["name"] for image in KUSTOMIZATION["images"]] == ["popple"]


def test_images_are_pinned_by_digest():
    # The manifests name one image, popple, which kustomize replaces: by digest, never by a tag.
    images = {container["image"] for doc in OBJECTS if "template" in doc.get("spec", {})
              for container in doc["spec"]["template"]["spec"]["containers"]}  # fmt: skip
    assert images == {"popple"}
    [image] = KUSTOMIZATION["images"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image["digest"])
    assert "newTag" not in image


@pytest.mark.parametrize("service", WORKLOADS)
def test_each_process_gets_exactly_the_variables_compose_gives_it(service):
    assert set(environment(service)) == set(COMPOSE[service].get("environment", {})) | EXTRA.get(service, set())


@pytest.mark.parametrize("service", WORKLOADS)
def test_every_variable_is_documented_and_every_reference_exists(service):
    for name, variable in environment(service).items():
        literal_in_compose = name in COMPOSE[service].get("environment", {}) and "${" not in str(
            COMPOSE[service]["environment"][name]
        )
        composing = name == "POD_INDEX"  # only used in another's $(...)
        keda = name == "RABBITMQ_KEDA_PASSWORD"  # KEDA's account: Kubernetes only (.env.example says so)
        assert name in ENV_EXAMPLE or literal_in_compose or composing or keda, (
            f"{service}: {name} is not in .env.example"
        )
        source = variable.get("valueFrom", {})
        if "configMapKeyRef" in source:
            assert source["configMapKeyRef"] == {"name": "popple-config", "key": name}
            assert name in CONFIG_KEYS
        assert "secretKeyRef" not in source, f"{service}: {name} is a secret in the environment"
        if secret_file(service, name):
            assert secret_file(service, name) in SECRET_KEYS
    assert CONFIG_KEYS <= ENV_EXAMPLE


@pytest.mark.parametrize(
    "variable, services",
    [
        ("DISCORD_TOKEN", {"gateway", "replies"}),
        ("DJANGO_SECRET_KEY", {"web"}),
        ("FLOWER_BASIC_AUTH", {"flower"}),
        ("DATABASE_URL", {"migrate", "web", "worker", "replies"}),
        ("RABBITMQ_MANAGEMENT_URL", {"rabbitmq-setup"}),
    ],
)
def test_secrets_reach_only_the_processes_that_use_them(variable, services):
    holders = {service for service in WORKLOADS if variable in environment(service)}
    assert holders == services
    for service in services:
        assert secret_file(service, variable) in mounted_secrets(service)


def test_reply_workers_get_the_read_only_database_account():
    keys = {
        service: secret_file(service, "DATABASE_URL") for service in WORKLOADS if "DATABASE_URL" in environment(service)
    }
    assert keys.pop("replies") == "database-url-replies"
    assert set(keys.values()) == {"database-url"}
    assert "database-url-replies=mysql://popple-replies:" in (KUBERNETES / "secrets.env.example").read_text()


@pytest.mark.parametrize("service, role", [("web", "web"), ("worker", "worker"), ("replies", "worker"),
                                           ("beat", "beat"), ("gateway", "gateway"), ("flower", "flower")])  # fmt: skip
def test_each_process_uses_its_own_broker_account(service, role):
    assert secret_file(service, "CELERY_BROKER_URL") == f"broker-url-{role}"
    example = re.search(rf"^broker-url-{role}=(.*)$", (KUBERNETES / "secrets.env.example").read_text(), re.M)
    assert example.group(1).startswith(f"amqp://popple-{role}:")
    assert role in rabbitmq.PERMISSIONS


def test_redis_is_reached_with_a_password():
    example = re.search(r"^redis-url=(.*)$", (KUBERNETES / "secrets.env.example").read_text(), re.M).group(1)
    assert example.startswith("redis://:PASSWORD@")


def test_no_secret_is_written_in_a_manifest():
    assert "Secret" not in BY_KIND  # kustomize makes it from secrets.env, which git ignores
    assert "deploy/kubernetes/secrets.env" in (ROOT / ".gitignore").read_text().splitlines()
    for service in WORKLOADS:
        for name in environment(service):
            if re.search(r"TOKEN|PASSWORD|SECRET|BASIC_AUTH|_URL$", name) and name not in {
                "DISCORD_API_BASE_URL",
                "DISCORD_GATEWAY_URL",
            }:
                assert secret_file(service, name), f"{service}: {name} is written out"


@pytest.mark.parametrize("service", WORKLOADS)
def test_secrets_are_files_each_pod_mounts_only_the_ones_it_reads(service):
    # Not environment variables: those reach every child process, crash reports and /proc.
    read = {secret_file(service, name) for name in environment(service)} - {None}
    assert read
    assert mounted_secrets(service) == read


def test_gateway_pods_share_the_shards_by_ordinal():
    gateway = BY_KIND["StatefulSet"]["gateway"]
    replicas = gateway["spec"]["replicas"]
    env = environment("gateway")
    assert env["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['apps.kubernetes.io/pod-index']"
    assert env["DISCORD_SHARD_IDS"]["value"] == f"$(POD_INDEX)/{replicas}"
    count = int(re.search(r"^DISCORD_SHARD_COUNT=(\d+)$", (KUBERNETES / "config.env").read_text(), re.M).group(1))
    # What each pod runs once Kubernetes has put its ordinal in place of $(POD_INDEX).
    shares = [shard_ids(env["DISCORD_SHARD_IDS"]["value"].replace("$(POD_INDEX)", str(n)), count) for n in
              range(replicas)]  # fmt: skip
    assert sorted(shard for share in shares for shard in share) == list(range(count))


def test_each_gateway_keeps_its_outbox_on_its_own_volume():
    gateway = BY_KIND["StatefulSet"]["gateway"]
    [claim] = gateway["spec"]["volumeClaimTemplates"]
    mounts = {mount["name"]: mount["mountPath"] for mount in container("gateway")["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/app/var"  # where GATEWAY_OUTBOX_PATH's default is
    assert COMPOSE["gateway"]["volumes"] == ["gateway-outbox:/app/var"]
    assert gateway["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 999


def test_every_pod_runs_as_the_images_user_without_privileges():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--uid 999" in dockerfile
    for service in WORKLOADS:
        kind, name = WORKLOADS[service]
        pod = BY_KIND[kind][name]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 999
        assert pod["automountServiceAccountToken"] is False
        assert container(service)["securityContext"]["allowPrivilegeEscalation"] is False
        assert container(service)["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"requests", "limits"} <= set(container(service)["resources"])


def test_web_is_alive_when_it_answers_ready_on_its_database_and_beat_is_never_two():
    # Neither probe asks RabbitMQ (monitoring/health.py): a broker outage restarted every web pod.
    assert "/livez" in " ".join(container("web")["livenessProbe"]["exec"]["command"])
    assert "/healthz" in " ".join(container("web")["readinessProbe"]["exec"]["command"])
    beat = BY_KIND["Deployment"]["beat"]["spec"]
    assert beat["replicas"] == 1
    assert beat["strategy"]["type"] == "Recreate"


def test_disruption_budgets_cover_the_processes_that_run_several():
    budgets = {budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for budget in
               BY_KIND["PodDisruptionBudget"].values()}  # fmt: skip
    assert budgets == {"web", "worker", "replies", "gateway"}


# Network policies ------------------------------------------------------------------------------
INGRESS, PROMETHEUS = "ingress-nginx", "monitoring"  # the namespaces network-policy.yaml names


def selects(selector, labels):
    """Whether a label selector (matchLabels, matchExpressions with In) selects these labels."""
    matched = all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"  # the only one used here
        matched = matched and labels.get(expression["key"]) in expression["values"]
    return matched


def allowed_sources(service):
    """{port name: the namespaces that may connect to it} for a workload's pods."""
    kind, name = WORKLOADS[service]
    labels = BY_KIND[kind][name]["spec"]["template"]["metadata"]["labels"]
    sources = {}
    for policy in BY_KIND["NetworkPolicy"].values():
        if not selects(policy["spec"]["podSelector"], labels):
            continue
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        for rule in policy["spec"].get("ingress", []):
            # Never "from anywhere" (no from) nor from pods of this namespace (a bare podSelector).
            assert rule["from"], policy["metadata"]["name"]
            namespaces = set()
            for peer in rule["from"]:
                assert set(peer) == {"namespaceSelector"}, policy["metadata"]["name"]
                [(key, namespace)] = peer["namespaceSelector"]["matchLabels"].items()
                assert key == "kubernetes.io/metadata.name"
                namespaces.add(namespace)
            for port in rule["ports"]:
                sources.setdefault(port["port"], set()).update(namespaces)
    return sources


def test_no_pod_is_reachable_unless_a_policy_says_so():
    denying = [policy for policy in BY_KIND["NetworkPolicy"].values() if policy["spec"]["podSelector"] == {}]
    assert [policy["spec"] for policy in denying] == [{"podSelector": {}, "policyTypes": ["Ingress"]}]


@pytest.mark.parametrize(
    "service, expected",
    [
        ("web", {"http": {INGRESS}}),  # no pod can send its own X-Forwarded-For past the proxy
        ("flower", {"http": {INGRESS, PROMETHEUS}}),
        ("worker", {"metrics": {PROMETHEUS}}),
        ("replies", {"metrics": {PROMETHEUS}}),
        ("gateway", {"metrics": {PROMETHEUS}}),
        ("beat", {}),
        ("migrate", {}),
        ("rabbitmq-setup", {}),
    ],
)
def test_each_port_is_open_to_its_clients_only(service, expected):
    assert allowed_sources(service) == expected
    # Every port a container listens on is one of them, by name.
    listening = {port["name"] for port in container(service).get("ports", [])}
    assert listening == set(expected)


# KEDA ------------------------------------------------------------------------------------------
# KEDA's custom resources are not in Kubernetes' schemas. What Popple relies on is checked here, as
# KEDA's CRD for keda.sh/v1alpha1 defines it: the fields a ScaledObject's spec and a trigger may
# have, those they require, their types (a trigger's metadata is a map of strings), and that each
# reference points at what exists.


@pytest.mark.parametrize("name, queues", [("worker", ["karma"]), ("replies", ["replies", "answers"])])
def test_workers_scale_on_their_queues(name, queues):
    scaled = BY_KIND["ScaledObject"][name]
    spec = scaled["spec"]
    assert set(spec) <= {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
                         "cooldownPeriod", "triggers", "advanced", "fallback", "idleReplicaCount"}  # fmt: skip
    assert spec["scaleTargetRef"] == {"name": name}
    assert name in BY_KIND["Deployment"]
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    assert all(isinstance(spec[field], int) for field in ("minReplicaCount", "maxReplicaCount", "pollingInterval",
                                                           "cooldownPeriod"))  # fmt: skip
    assert [trigger["metadata"]["queueName"] for trigger in spec["triggers"]] == queues
    for trigger in spec["triggers"]:
        assert set(trigger) <= {"type", "metadata", "authenticationRef", "metricType", "name"}
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["queueName"] in rabbitmq.TASK_QUEUES
        assert trigger["metadata"]["mode"] == "QueueLength"
        assert all(isinstance(value, str) for value in trigger["metadata"].values())  # a map of strings
        authentication = BY_KIND["TriggerAuthentication"][trigger["authenticationRef"]["name"]]
        [host] = authentication["spec"]["secretTargetRef"]
        assert set(host) == {"parameter", "name", "key"}
        assert host["parameter"] == "host"
        assert host["name"] == "popple-secrets"
        assert host["key"] in SECRET_KEYS


def test_the_autoscaler_uses_an_account_with_no_rights():
    # Asking a queue's length is a passive declare, which RabbitMQ allows without any right
    # (tests/test_rabbitmq.py checks it against RabbitMQ). Flower's account may broadcast to workers.
    [host] = BY_KIND["TriggerAuthentication"]["rabbitmq"]["spec"]["secretTargetRef"]
    assert host["key"] == "broker-url-keda"
    example = re.search(r"^broker-url-keda=(.*)$", (KUBERNETES / "secrets.env.example").read_text(), re.M)
    assert example.group(1).startswith("amqp://popple-keda:")
    assert rabbitmq.PERMISSIONS["keda"] == (rabbitmq.NOTHING,) * 3
    assert secret_file("rabbitmq-setup", "RABBITMQ_KEDA_PASSWORD") in SECRET_KEYS

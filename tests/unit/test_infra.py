"""infra/ stays in step with the code, without a cluster or a Prometheus:

- every Kubernetes manifest in infra/k8s/ validates (kubernetes-validate, strict, offline
  schemas of K8S_VERSION) and the KEDA ScaledObject validates against the schema beside it;
- the manifests run commands the real CLI parses, set only real settings, give workers more
  grace than the hard time limit, run exactly one beat, probe the ports the code serves, and
  scale on the list the articles queue really is, in the broker the ConfigMap names;
- every metric the Grafana dashboard and the alert rules name is one worker/metrics.py exports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from test_compose import SETTING_NAMES, parse_copydesk
from worker.app import ARTICLES_QUEUE, INDEX_QUEUE, MAINTENANCE_QUEUE, QUEUES
from worker.metrics import exported_names
from worker.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
DASHBOARD = ROOT / "infra" / "grafana" / "copydesk-dashboard.json"
ALERTS = ROOT / "infra" / "prometheus" / "alerts.yml"
KEDA_SCHEMA = K8S / "schemas" / "keda-scaledobject-v1alpha1.json"
#: The Kubernetes version the manifests are validated against (kubernetes-validate ships its
#: schemas offline).
K8S_VERSION = "1.33.0"

METRIC = re.compile(r"\b(copydesk_[a-z0-9_]+)\b")
PROMQL_BUILTINS = {"up"}


def manifests() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def config() -> dict[str, str]:
    (configmap,) = by_kind("ConfigMap").values()
    return configmap["data"]


def test_kubernetes_manifests_validate_strictly():
    kinds = set()
    for _name, doc in manifests():
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        kinds.add(doc["kind"])
    assert {"Deployment", "ConfigMap", "Secret", "Service"} <= kinds


def test_a_bad_manifest_would_be_caught():
    worker = by_kind("Deployment")["copydesk-worker"]
    broken = json.loads(json.dumps(worker))
    container(broken)["terminationGracePeriod"] = 10  # misspelt and misplaced
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    scaled = json.loads(json.dumps(by_kind("ScaledObject")["copydesk-worker"]))
    scaled["spec"]["triggers"][0]["metadata"]["listname"] = "typo"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, json.loads(KEDA_SCHEMA.read_text()))


def test_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"}


def test_config_is_real_settings_and_one_configmap_and_secret():
    env = config()
    for key in env:
        if key.startswith(PREFIX):
            assert key in SETTING_NAMES, key
    settings = Settings.from_env(env)
    assert settings.store.startswith("s3://") and settings.metrics_port > 0
    (secret,) = by_kind("Secret").values()
    assert set(secret["stringData"]) >= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "COPYDESK_HTTP_TOKEN"}
    assert not {k for k in env if re.search("SECRET|TOKEN|PASSWORD", k)}, "secrets belong in the Secret"
    for name, deployment in by_kind("Deployment").items():
        refs = [next(iter(ref.values()))["name"] for ref in container(deployment)["envFrom"]]
        assert refs == ["copydesk-config", "copydesk-secrets"], name


def test_commands_parse_and_every_queue_is_consumed():
    consumed: set[str] = set()
    roles = set()
    for name, deployment in by_kind("Deployment").items():
        ctx = parse_copydesk(container(deployment)["command"])
        roles.add(ctx.info_name)
        if ctx.info_name == "worker":
            queues = (ctx.params["queues"] or ",".join(QUEUES)).split(",")
            assert set(queues) <= set(QUEUES), name
            consumed.update(queues)
    assert roles == {"listen", "worker", "beat"}
    assert consumed == set(QUEUES)


def test_workers_get_more_grace_than_the_hard_time_limit():
    from worker.settings import BATCH_BUDGET_SECONDS

    time_limit = Settings.from_env(config()).time_limit + BATCH_BUDGET_SECONDS  # a batch's
    for name, deployment in by_kind("Deployment").items():
        if parse_copydesk(container(deployment)["command"]).info_name == "worker":
            assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > time_limit, name


def test_exactly_one_beat():
    beats = [d for d in by_kind("Deployment").values() if parse_copydesk(container(d)["command"]).info_name == "beat"]
    assert len(beats) == 1
    assert beats[0]["spec"]["replicas"] == 1
    assert beats[0]["spec"]["strategy"]["type"] == "Recreate"


def test_probes_use_the_ports_the_code_serves():
    port = Settings.from_env(config()).metrics_port
    for name, deployment in by_kind("Deployment").items():
        c = container(deployment)
        ctx = parse_copydesk(c["command"])
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        probes = [c[k] for k in ("startupProbe", "readinessProbe", "livenessProbe") if k in c]
        assert probes and "livenessProbe" in c, name
        for probe in probes:
            assert "exec" not in probe, f"{name}: probes must not need a broker round trip"
            assert probe["httpGet"]["path"] in ("/metrics", "/healthz"), name
            assert ports[probe["httpGet"]["port"]] in (port, ports.get("http")), name
        if ctx.info_name == "listen":
            listen_port = int(ctx.params["http_address"].rpartition(":")[2])
            assert ports["http"] == listen_port
            assert c["readinessProbe"]["httpGet"]["path"] == "/healthz"
        else:
            assert ports["metrics"] == port, name
        assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"], name


def test_keda_scales_workers_on_the_articles_list_of_the_broker():
    (scaled,) = by_kind("ScaledObject").values()
    jsonschema.validate(scaled, json.loads(KEDA_SCHEMA.read_text()))
    spec = scaled["spec"]
    target = by_kind("Deployment")[spec["scaleTargetRef"]["name"]]
    queues = parse_copydesk(container(target)["command"]).params["queues"].split(",")
    assert ARTICLES_QUEUE in queues and INDEX_QUEUE not in queues
    assert spec["minReplicaCount"] == 0, "documented: scales to zero when idle"
    env = config()
    broker = urlsplit(Settings.from_env(env).broker_url)
    lists = set()
    for trigger in spec["triggers"]:
        meta = trigger["metadata"]
        assert trigger["type"] == "redis"
        assert env[meta["addressFromEnv"]] == f"{broker.hostname}:{broker.port}"
        assert meta["databaseIndex"] == (broker.path.strip("/") or "0")
        lists.add(meta["listName"])
    assert lists == {ARTICLES_QUEUE, MAINTENANCE_QUEUE} and lists <= set(queues)


def _expressions() -> list[tuple[str, str]]:
    found = []
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            found.append((f"dashboard: {panel['title']}", target["expr"]))
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            found.append((f"alert {rule['alert']}", rule["expr"]))
    return found


def test_dashboard_and_alerts_name_only_exported_metrics():
    exported = exported_names()
    named = set()
    for where, expr in _expressions():
        assert expr.count("(") == expr.count(")"), where
        names = set(METRIC.findall(expr))
        assert names, f"{where} names no copydesk metric"
        for name in names:
            assert name in exported, f"{where}: {name} is not exported by worker/metrics.py"
        named |= names
    # What the issue asks the dashboard and alerts to show.
    for needed in ("copydesk_articles_processed_total", "copydesk_stage_duration_seconds_bucket",
                   "copydesk_queue_messages", "copydesk_queue_oldest_age_seconds",
                   "copydesk_articles_quarantined_total", "copydesk_worker_processes",
                   "copydesk_listener_events_total"):
        assert needed in named, needed
    alerts = {rule["alert"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]}
    assert alerts == {"CopydeskQueueMessageTooOld", "CopydeskQuarantineRateHigh", "CopydeskNoWorkerAlive", "CopydeskListenerErrors"}


def test_the_name_check_would_catch_a_typo():
    assert "copydesk_articles_processed_total" in exported_names()
    assert "copydesk_article_processed_total" not in exported_names()
    assert "copydesk_stage_duration_seconds_bucket" in exported_names()

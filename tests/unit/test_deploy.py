"""deploy/ agrees with the code: compose, Dockerfile, env.example, Kubernetes manifests,
Prometheus config and rules (``promtool check rules`` and ``promtool test rules``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.cli import build_parser
from alerts.config import (
    SLACK_WEBHOOK_ENV,
    TELEGRAM_TOKEN_ENV,
    WEBHOOK_SECRET_ENV,
    WEBHOOK_URL_ENV,
    AlertSettings,
)
from alerts.routing_config import RoutingConfig
from streams.config import StreamSettings
from streams.settings import CONFIG_ENV, SECRET_FIELDS, Settings, env_name
from streams.sources.spec import parse_source_url

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: The port the image, compose, Kubernetes and Prometheus agree on.
PORT = 9108

SECRETS = {env_name(f) for f in SECRET_FIELDS}
SETTINGS = {env_name(f) for f in Settings.model_fields} - SECRETS | {CONFIG_ENV}


def test_the_views_and_secrets_are_settings() -> None:
    views = {env_name(f.name) for c in (StreamSettings, AlertSettings) for f in fields(c)}
    assert views <= SETTINGS | SECRETS
    assert {SLACK_WEBHOOK_ENV, TELEGRAM_TOKEN_ENV, WEBHOOK_URL_ENV, WEBHOOK_SECRET_ENV} <= SECRETS


def _yaml(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _known(name: str) -> bool:
    return name in SETTINGS or name.removesuffix("_FILE") in SECRETS


def _parses(args: list[str]) -> None:
    build_parser().parse_args(args)  # SystemExit on an unknown flag or command


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    names = set(re.findall(r"^([A-Z_]+)=", (DEPLOY / "env.example").read_text(), re.M))
    assert names == SETTINGS | SECRETS


def test_dockerfile_is_multi_stage_pinned_non_root_on_the_metrics_port() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(bases) >= 2
    for base in bases:
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), base  # exact, slim
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.findall(r"^EXPOSE (\d+)", text, re.M) == [str(PORT)]
    assert f"SKYFENCE_METRICS_PORT={PORT}" in text and "SKYFENCE_METRICS_HOST=0.0.0.0" in text
    assert f"127.0.0.1:{PORT}/healthz" in text
    assert 'ENTRYPOINT ["skyfence"]' in text
    for env in re.findall(r"\b(SKYFENCE_[A-Z_]+)=", text):
        assert env in SETTINGS, env
    for src in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert (DEPLOY.parent / src).exists(), src


def test_compose_services_images_ports_env_and_healthchecks() -> None:
    (doc,) = _yaml(DEPLOY / "compose.yaml")
    services = doc["services"]
    assert {"kafka", "kafka-init", "ingest", "worker", "prometheus", "grafana"} <= set(services)
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", services["kafka"]["image"])
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft
    for name, svc in services.items():
        assert ":" in svc["image"] and not svc["image"].endswith(":latest"), name
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
        for env in svc.get("environment", {}):
            if env.startswith("SKYFENCE_"):
                assert _known(env), (name, env)
        if svc.get("restart") != "no":
            assert "test" in svc["healthcheck"], name
    worker = services["worker"]
    env = worker["environment"]
    assert env["SKYFENCE_METRICS_PORT"] == str(PORT) and env["SKYFENCE_METRICS_HOST"] == "0.0.0.0"
    assert f"127.0.0.1:{PORT}/healthz" in " ".join(worker["healthcheck"]["test"])
    assert worker["ports"] == [f"127.0.0.1:{PORT}:{PORT}"]
    _parses(worker["command"])
    _parses([*services["ingest"]["command"], "--broker", "x:9092"])
    # The live ingest (profile "live"): probed on its own /healthz, on a URL the CLI accepts.
    live = services["ingest-live"]
    assert live["command"][0] == "ingest" and live["profiles"] == ["live"]
    _parses([*live["command"], "--broker", "x:9092"])
    for url in live["command"][1:]:
        parse_source_url(url)
    assert f"127.0.0.1:{PORT}/healthz" in " ".join(live["healthcheck"]["test"])
    assert live["environment"]["SKYFENCE_METRICS_PORT"] == str(PORT)
    # Topics the init job creates are the ones the code uses by default.
    init = " ".join(services["kafka-init"]["command"])
    for topic in ("skyfence.positions", "skyfence.events", "skyfence.positions.dlq", "skyfence.alerts.dlq"):
        assert topic in init
    assert f"--partitions {env['SKYFENCE_PARTITIONS']}" in init
    # Named volumes: declared, and every one used.
    declared = set(doc["volumes"])
    used = {v.split(":")[0] for s in services.values() for v in s.get("volumes", []) if not v.startswith(".")}
    assert used == declared
    for svc in services.values():
        for v in svc.get("volumes", []):
            if v.startswith("./"):
                assert (DEPLOY / v.split(":")[0]).exists(), v
    # Prometheus scrapes the worker on its port and loads the rules file mounted here.
    (prom,) = _yaml(DEPLOY / "prometheus" / "prometheus.yml")
    targets = prom["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"worker:{PORT}"]
    # ...and the live ingest service, on the port its healthcheck uses.
    ingest = prom["scrape_configs"][0]["static_configs"][1]
    assert ingest["targets"] == [f"ingest-live:{PORT}"] and ingest["labels"]["role"] == "ingest"
    assert "ingest-live" in services and f":{PORT}/healthz" in str(services["ingest-live"]["healthcheck"])
    assert prom["scrape_configs"][0]["metrics_path"] == "/metrics"
    assert "/etc/prometheus/rules.yml" in prom["rule_files"]


def test_kubernetes_manifests_are_consistent() -> None:
    docs = {
        (d["kind"], d["metadata"]["name"]): d
        for p in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for d in _yaml(p)
        if "metadata" in d
    }
    config = docs["ConfigMap", "skyfence-config"]["data"]
    secret = docs["Secret", "skyfence-secrets"]
    for key in config:
        if key.startswith("SKYFENCE_"):
            assert key in SETTINGS, key
    assert config["SKYFENCE_METRICS_PORT"] == str(PORT)
    # Files the settings name in the secret mount are keys of the Secret.
    for key, value in config.items():
        if key.startswith("SKYFENCE_SSL_") and value.startswith("/run/secrets/skyfence/"):
            assert value.rsplit("/", 1)[1] in secret["stringData"], key
    worker = docs["Deployment", "skyfence-notifier"]
    roles = {
        d["spec"]["template"]["spec"]["containers"][0]["args"][-1]
        for d in docs.values() if d["kind"] == "Deployment"
        and d["spec"]["template"]["spec"]["containers"][0]["args"][0] == "worker"
    }  # fmt: skip
    assert roles == {"tracker", "notifier"}  # a Deployment per process, scaled apart
    # The live ingest: one replica (two would produce every position twice), probed like the
    # workers (below), on a source URL the CLI accepts.
    ingest = docs["Deployment", "skyfence-ingest"]
    assert ingest["spec"]["replicas"] == 1
    (ingest_args,) = [c["args"] for c in ingest["spec"]["template"]["spec"]["containers"]]
    assert ingest_args[0] == "ingest"
    for url in ingest_args[1:]:
        parse_source_url(url)
    workloads = [d for d in docs.values() if d["kind"] in ("Deployment", "Job")]
    assert len(workloads) >= 2
    for doc in workloads:
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        _parses(container["args"] + (["--broker", "x:9092"] if container["args"][0] in ("replay", "ingest") else []))
        assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert set(mounts) == set(volumes)
        assert volumes["secrets"]["secret"]["secretName"] == "skyfence-secrets"
        assert config["SKYFENCE_ROUTING"].startswith(mounts["config"])
        for env in container["env"]:
            assert env["name"].endswith("_FILE")
            path = env["value"]
            assert path.startswith(mounts["secrets"] + "/")
            assert path.rsplit("/", 1)[1] in secret["stringData"], path
        if doc["kind"] == "Deployment":
            (port,) = container["ports"]
            assert port["containerPort"] == PORT and port["name"] == "metrics"
            assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    # The routing file the ConfigMap ships is valid and names only variables the pods get.
    path = Path(os.environ.get("TMPDIR", "/tmp")) / "skyfence-k8s-routing.toml"
    path.write_text(config["routing.toml"])
    try:
        routing = RoutingConfig.load(str(path))
    finally:
        path.unlink()
    given = {e["name"].removesuffix("_FILE") for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert set(routing.missing_env({})) <= given
    service = docs["Service", "skyfence-endpoints"]
    assert service["spec"]["ports"][0]["port"] == PORT
    for doc in docs.values():
        if doc["kind"] == "Deployment":
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert service["spec"]["selector"].items() <= labels.items(), doc["metadata"]["name"]
    kustom = _yaml(DEPLOY / "k8s" / "kustomization.yaml")[0]
    assert sorted(kustom["resources"]) == sorted(p.name for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool missing under CI=true: `make tools` installs Debian's prometheus")
        pytest.skip("promtool not installed (Debian package prometheus; `make tools` installs it)")
    return promtool


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = _promtool()
    prom = DEPLOY / "prometheus"
    for args in (["check", "rules", "rules.yml"], ["test", "rules", "rules_test.yml"]):
        done = subprocess.run([promtool, *args], cwd=prom, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_rule_has_a_unit_test_and_a_readme_entry() -> None:
    (rules,) = _yaml(DEPLOY / "prometheus" / "rules.yml")
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    (tests,) = _yaml(DEPLOY / "prometheus" / "rules_test.yml")
    tested = {t["alertname"] for case in tests["tests"] for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert names == tested
    readme = (DEPLOY.parent / "README.md").read_text()
    for name in names:
        assert name in readme, f"README's Operations section should explain {name}"


def test_grafana_provisioning_matches_the_dashboard_and_compose() -> None:
    import json

    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "skyfence.json").read_text())
    (datasources,) = _yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    (providers,) = _yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "skyfence.yml")
    (compose,) = _yaml(DEPLOY / "compose.yaml")
    uid = datasources["datasources"][0]["uid"]
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"
    assert "prometheus" in compose["services"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] == "skyfence"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == providers["providers"][0]["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"

#!/usr/bin/env python3
"""Offline checks of deploy/ and grafana/ (no Docker engine or cluster runs here).

- every YAML file parses;
- every HOOKGATE_* variable the files set is a real setting of `hookgate serve`;
- compose: the services exist, the gateway's database, SQS and listen settings point at
  those services and ports, Prometheus scrapes the gateway on its port, Grafana mounts
  the provisioning and the dashboard folder the provisioning names;
- kubernetes: 3 replicas, probes on /readyz and /healthz, ports and selectors agree,
  the PodDisruptionBudget selects the Deployment's pods;
- Prometheus configurations pass `promtool check config` and load the alerting rules,
  which pass `promtool check rules` and their unit tests (`promtool test rules`), and
  each name a runbook section the README has.
Usage: check_deploy.py PATH_TO_HOOKGATE_BINARY
"""
import glob
import re
import subprocess
import sys
from urllib.parse import urlparse

import yaml

binary = sys.argv[1]
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


help_text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, check=True).stdout
settings = set(re.findall(r"env: (HOOKGATE_[A-Z_]+)", help_text))
# Read by the logger before the command line is parsed (src/lib.rs), so not in --help.
settings.add("HOOKGATE_LOG_FORMAT")
check(len(settings) > 20, "could not read the settings from `hookgate serve --help`")

docs = {}
for path in sorted(glob.glob("deploy/**/*.y*ml", recursive=True) + glob.glob("grafana/**/*.y*ml", recursive=True)):
    with open(path) as f:
        docs[path] = [d for d in yaml.safe_load_all(f) if d is not None]
    for var in re.findall(r"\b(HOOKGATE_[A-Z_]+)\b", open(path).read()):
        check(var in settings, f"{path}: {var} is not a hookgate setting")
for path in glob.glob("deploy/Dockerfile"):
    for var in re.findall(r"\b(HOOKGATE_[A-Z_]+)\b", open(path).read()):
        check(var in settings, f"{path}: {var} is not a hookgate setting")

# compose
compose = docs["deploy/compose.yaml"][0]
services = compose["services"]
for name in ["gateway", "postgres", "sqs", "prometheus", "grafana"]:
    check(name in services, f"compose: no {name} service")
env = services["gateway"]["environment"]
listen_port = env["HOOKGATE_LISTEN"].rsplit(":", 1)[1]
check(f"{listen_port}:{listen_port}" in services["gateway"]["ports"], "compose: gateway port is not published")
db = urlparse(env["HOOKGATE_DATABASE_URL"])
check(db.hostname in services and db.port == 5432, "compose: database URL does not name the postgres service")
check(db.username == services["postgres"]["environment"]["POSTGRES_USER"], "compose: database user differs")
check(db.path.lstrip("/") == services["postgres"]["environment"]["POSTGRES_DB"], "compose: database name differs")
sqs = urlparse(env["HOOKGATE_SQS_ENDPOINT"])
check(sqs.hostname in services, "compose: SQS endpoint does not name a service")
check(any(p.endswith(f":{sqs.port}") for p in services[sqs.hostname]["ports"]), "compose: SQS port differs")
init = " ".join(services["sqs-init"]["command"])
check(env["HOOKGATE_SQS_QUEUE_NAME"] in init, "compose: sqs-init does not create the configured queue")
prom = docs["deploy/prometheus/prometheus.yml"][0]
targets = [t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
metrics_port = env["HOOKGATE_METRICS_LISTEN"].rsplit(":", 1)[1]
check(f"gateway:{metrics_port}" in targets, "compose: Prometheus does not scrape gateway:" + metrics_port)
check(not any(p.endswith(f":{metrics_port}") for p in services["gateway"]["ports"]), "compose: /metrics is published")
check(any("./prometheus/prometheus.yml" in v for v in services["prometheus"]["volumes"]), "compose: Prometheus config not mounted")
grafana_volumes = services["grafana"]["volumes"]
provider = docs["grafana/provisioning/dashboards/hookgate.yaml"][0]["providers"][0]["options"]["path"]
check(any(v.split(":")[1] == provider for v in grafana_volumes), "compose: dashboards not mounted where provisioning looks")
check(any(v.split(":")[1] == "/etc/grafana/provisioning" for v in grafana_volumes), "compose: provisioning not mounted")
datasource = docs["grafana/provisioning/datasources/prometheus.yaml"][0]["datasources"][0]
check(urlparse(datasource["url"]).hostname in services, "grafana datasource does not name the prometheus service")

# kubernetes
kinds = {}
for path, ds in docs.items():
    if path.startswith("deploy/kubernetes/") and not path.endswith(("prometheus.yml", "alerts.yml")):
        for d in ds:
            kinds.setdefault(d["kind"], []).append(d)
deployment = kinds["Deployment"][0]
pod = deployment["spec"]["template"]
container = pod["spec"]["containers"][0]
check(deployment["spec"]["replicas"] == 3, "kubernetes: not 3 replicas")
check(container["readinessProbe"]["httpGet"]["path"] == "/readyz", "kubernetes: readiness probe is not /readyz")
check(container["livenessProbe"]["httpGet"]["path"] == "/healthz", "kubernetes: liveness probe is not /healthz")
port = container["ports"][0]["containerPort"]
config = kinds["ConfigMap"][0]["data"]
check(config["HOOKGATE_LISTEN"].endswith(f":{port}"), "kubernetes: HOOKGATE_LISTEN differs from containerPort")
metrics_ports = [p["containerPort"] for p in container["ports"] if p["name"] == "metrics"]
check(metrics_ports and config["HOOKGATE_METRICS_LISTEN"].endswith(f":{metrics_ports[0]}"), "kubernetes: HOOKGATE_METRICS_LISTEN differs from the metrics containerPort")
check(str(metrics_ports[:1] and metrics_ports[0]) == pod["metadata"]["annotations"]["prometheus.io/port"], "kubernetes: the scrape annotation names another port")
k8s_prom = docs["deploy/kubernetes/prometheus.yml"][0]
check(all(sd["port"] in metrics_ports for job in k8s_prom["scrape_configs"] for sd in job.get("dns_sd_configs", [])), "kubernetes: Prometheus scrapes another port than the metrics one")
labels = pod["metadata"]["labels"]
check(deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), "kubernetes: Deployment selector")
for svc in kinds["Service"]:
    check(svc["spec"]["selector"].items() <= labels.items(), f"kubernetes: Service {svc['metadata']['name']} selector")
    for p in svc["spec"]["ports"]:
        check(p["targetPort"] in (port, container["ports"][0]["name"]), "kubernetes: Service targetPort")
pdb = kinds["PodDisruptionBudget"][0]
check(pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), "kubernetes: PDB selector")
check(pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"], "kubernetes: PDB blocks every eviction")
secret_name = kinds["Secret"][0]["metadata"]["name"]
refs = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
check(secret_name in refs, "kubernetes: the Deployment does not refer to the Secret")

for path in ["deploy/prometheus/prometheus.yml", "deploy/kubernetes/prometheus.yml"]:
    result = subprocess.run(["promtool", "check", "config", path], capture_output=True, text=True)
    check(result.returncode == 0, f"promtool check config {path}: {result.stdout}{result.stderr}")
    check("alerts.yml" in docs[path][0].get("rule_files", []), f"{path} does not load the alerting rules")
check(any("./prometheus/alerts.yml" in v for v in services["prometheus"]["volumes"]), "compose: alerting rules not mounted")

# The alerting rules: valid, tested, and each with a runbook section of the README.
for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
    result = subprocess.run(["promtool", *command], cwd="deploy/prometheus", capture_output=True, text=True)
    check(result.returncode == 0, f"promtool {' '.join(command)}: {result.stdout}{result.stderr}")
readme = open("README.md").read()
anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", readme, re.M)}
rules = [r for g in docs["deploy/prometheus/alerts.yml"][0]["groups"] for r in g["rules"]]
tested = open("deploy/prometheus/alerts_test.yml").read()
for rule in rules:
    annotations = rule.get("annotations", {})
    check({"summary", "description", "runbook_url"} <= annotations.keys(), f"alert {rule['alert']}: summary, description and runbook_url")
    anchor = annotations.get("runbook_url", "").split("#")[-1]
    check(anchor in anchors, f"alert {rule['alert']}: the README has no section #{anchor}")
    check(f"alertname: {rule['alert']}" in tested, f"alert {rule['alert']} has no unit test")

if problems:
    print("deploy/ checks failed:")
    for p in problems:
        print(" -", p)
    sys.exit(1)
print(f"deploy/ and grafana/: {len(docs)} YAML files parse, compose and kubernetes are consistent, Prometheus configs valid, {len(rules)} alerting rules tested")

"""Kubernetes manifests: the server (Deployment, Service, HorizontalPodAutoscaler and,
with several replicas, a PodDisruptionBudget), the
monitoring loop (CronJob, or a Deployment running ``--watch``), the dashboard, and a Dask
cluster through the Dask Kubernetes operator.

Manifests are Python dicts dumped to YAML, one file per part, plus a ``kustomization.yaml``
listing them (``kubectl apply -k DIR``).  Secrets are referenced by key, never written:
the user creates the Secret, as each file's header says.
"""

from __future__ import annotations

import math
import re
from typing import Any

from shipyard import __version__
from shipyard.config import STATE_DIR, ProjectConfig
from shipyard.deploy_config._yaml import dump_yaml, dump_yaml_all
from shipyard.deploy_config.docker import APP_DIR, READY_PATH, SERVER_PORT, UI_PORT, USER_ID
from shipyard.deploy_config.needs import ProjectNeeds
from shipyard.deploy_config.options import KubernetesOptions

LIVE_PATH = "/v2/health/live"
DASK_SETTINGS = ("SHIPYARD_EXECUTOR", "SHIPYARD_DASK_SCHEDULER")
DASK_SCHEDULER_PORT = 8786
DASK_DASHBOARD_PORT = 8787
Manifest = dict[str, Any]


def resource_name(project: str) -> str:
    """``project`` as a Kubernetes name: lower-case letters, digits and '-'.

    >>> resource_name("Ames_Housing.v2")
    'ames-housing-v2'
    """
    name = re.sub(r"[^a-z0-9-]+", "-", project.lower()).strip("-")
    return name[:40].rstrip("-") or "shipyard"


def cron_schedule(interval_seconds: float) -> str:
    """A cron schedule close to ``monitoring.interval_seconds`` (cron counts minutes).

    >>> cron_schedule(60), cron_schedule(900), cron_schedule(7200), cron_schedule(200000)
    ('* * * * *', '*/15 * * * *', '0 */2 * * *', '0 0 * * *')
    """
    minutes = max(1, math.ceil(interval_seconds / 60))
    if minutes == 1:
        return "* * * * *"
    if minutes < 60:
        return f"*/{minutes} * * * *"
    hours = math.ceil(minutes / 60)
    return f"0 */{hours} * * *" if hours < 24 else "0 0 * * *"


class _Manifests:
    """The manifests of one project; each method returns one file's resources."""

    def __init__(
        self, config: ProjectConfig, needs: ProjectNeeds, options: KubernetesOptions
    ) -> None:
        self.config = config
        self.needs = needs
        self.options = options
        self.name = resource_name(config.name)
        self.image = options.image or f"{self.name}:latest"
        self.secret = options.secret or f"{self.name}-shipyard"
        self.dask = needs.dask if options.dask is None else options.dask

    # -- pieces -----------------------------------------------------------------------

    def metadata(self, name: str, component: str) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": name, "labels": self.labels(component)}
        if self.options.namespace:
            metadata["namespace"] = self.options.namespace
        return metadata

    def labels(self, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": "shipyard",
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/component": component,
        }

    def selector(self, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/component": component,
        }

    def environment(self) -> list[dict[str, Any]]:
        """Variables from the Secret, and where the Dask scheduler is.  A key is optional
        (shipyard.yaml's value stands when it is absent) unless shipyard.yaml alone names
        a store the pods cannot share: a pod then waits for the key rather than start on
        an SQLite file of its own."""
        env: list[dict[str, Any]] = [
            {
                "name": variable,
                "valueFrom": {
                    "secretKeyRef": {
                        "name": self.secret,
                        "key": key,
                        "optional": key not in self.needs.required_keys,
                    }
                },
            }
            for key, variable in self.needs.secret_keys.items()
        ]
        if self.dask:
            # Pipelines these pods run (the loop's retraining) go to the cluster.
            address = f"tcp://{self.name}-dask-scheduler:{DASK_SCHEDULER_PORT}"
            env.append({"name": "SHIPYARD_EXECUTOR", "value": "dask"})
            env.append({"name": "SHIPYARD_DASK_SCHEDULER", "value": address})
        return env

    def container(self, name: str, args: list[str], *, memory: str | None = None) -> Manifest:
        memory = memory or self.options.memory
        return {
            "name": name,
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "args": args,
            "env": self.environment(),
            "resources": {
                "requests": {"cpu": self.options.cpu, "memory": memory},
                "limits": {"memory": memory},
            },
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
            "volumeMounts": [{"name": "state", "mountPath": f"{APP_DIR}/{STATE_DIR}"}],
        }

    def pod_spec(self, containers: list[Manifest], **extra: Any) -> Manifest:
        """A pod running as the image's unprivileged user, with a scratch ``.shipyard``
        (the prediction spool and the model cache; everything lasting is in the stores)."""
        return {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": USER_ID,
                "runAsGroup": USER_ID,
                "fsGroup": USER_ID,
            },
            "containers": containers,
            "volumes": [{"name": "state", "emptyDir": {}}],
            **extra,
        }

    # -- files ------------------------------------------------------------------------

    def server(self) -> list[Manifest]:
        name = f"{self.name}-server"
        container = self.container(
            "server", ["shipyard", "serve", "--host", "0.0.0.0", "--port", str(SERVER_PORT)]
        )
        container["ports"] = [{"name": "http", "containerPort": SERVER_PORT}]
        container["readinessProbe"] = {
            "httpGet": {"path": READY_PATH, "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        }
        container["livenessProbe"] = {
            "httpGet": {"path": LIVE_PATH, "port": "http"},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "failureThreshold": 6,
        }
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": self.metadata(name, "server"),
            "spec": {
                "replicas": self.options.replicas,
                "selector": {"matchLabels": self.selector("server")},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
                },
                "template": {
                    "metadata": {"labels": self.labels("server")},
                    # The grace period lets a stopping server flush its prediction spool.
                    "spec": self.pod_spec([container], terminationGracePeriodSeconds=60),
                },
            },
        }
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.metadata(name, "server"),
            "spec": {
                "type": self.options.service_type,
                "selector": self.selector("server"),
                "ports": [{"name": "http", "port": SERVER_PORT, "targetPort": "http"}],
            },
        }
        autoscaler = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": self.metadata(name, "server"),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": self.options.replicas,
                "maxReplicas": self.options.hpa_max(),
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": self.options.cpu_target,
                            },
                        },
                    }
                ],
            },
        }
        resources = [deployment, service, autoscaler]
        if self.options.replicas > 1:
            # Node drains take replicas down one at a time, never the whole service.
            resources.append(
                {
                    "apiVersion": "policy/v1",
                    "kind": "PodDisruptionBudget",
                    "metadata": self.metadata(name, "server"),
                    "spec": {
                        "maxUnavailable": 1,
                        "selector": {"matchLabels": self.selector("server")},
                    },
                }
            )
        return resources

    def monitor(self) -> list[Manifest]:
        name = f"{self.name}-monitor"
        args = ["shipyard", "monitor", "--format", "json"]
        if self.options.monitor == "watch":
            container = self.container("monitor", [*args[:2], "--watch", *args[2:]])
            return [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": self.metadata(name, "monitor"),
                    "spec": {
                        # One loop at a time: the old pod stops before the new one starts.
                        "replicas": 1,
                        "strategy": {"type": "Recreate"},
                        "selector": {"matchLabels": self.selector("monitor")},
                        "template": {
                            "metadata": {"labels": self.labels("monitor")},
                            "spec": self.pod_spec([container]),
                        },
                    },
                }
            ]
        schedule = self.options.schedule or cron_schedule(self.config.monitoring.interval_seconds)
        return [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": self.metadata(name, "monitor"),
                "spec": {
                    "schedule": schedule,
                    # A pass is safe to kill, but two at once would race: never overlap.
                    "concurrencyPolicy": "Forbid",
                    "successfulJobsHistoryLimit": 3,
                    "failedJobsHistoryLimit": 3,
                    "jobTemplate": {
                        "spec": {
                            "backoffLimit": 1,
                            "template": {
                                "metadata": {"labels": self.labels("monitor")},
                                "spec": self.pod_spec(
                                    [self.container("monitor", args)], restartPolicy="Never"
                                ),
                            },
                        }
                    },
                },
            }
        ]

    def dashboard(self) -> list[Manifest]:
        name = f"{self.name}-ui"
        container = self.container(
            "ui", ["shipyard", "ui", "--host", "0.0.0.0", "--port", str(UI_PORT)]
        )
        container["ports"] = [{"name": "http", "containerPort": UI_PORT}]
        container["readinessProbe"] = {"tcpSocket": {"port": "http"}, "periodSeconds": 10}
        container["livenessProbe"] = {
            "tcpSocket": {"port": "http"},
            "initialDelaySeconds": 10,
            "periodSeconds": 20,
        }
        return [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": self.metadata(name, "ui"),
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": self.selector("ui")},
                    "template": {
                        "metadata": {"labels": self.labels("ui")},
                        "spec": self.pod_spec([container]),
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self.metadata(name, "ui"),
                "spec": {
                    "selector": self.selector("ui"),
                    "ports": [{"name": "http", "port": UI_PORT, "targetPort": "http"}],
                },
            },
        ]

    def dask_cluster(self) -> list[Manifest]:
        """A ``DaskCluster`` (kubernetes.dask.org/v1): the operator makes the scheduler's
        pod and Service ``NAME-dask-scheduler`` and the workers, all from the project's
        image, so that steps find shipyard and the project's code."""
        name = f"{self.name}-dask"
        worker = self.container(
            "worker",
            ["dask", "worker", "--name", "$(DASK_WORKER_NAME)", "--dashboard-address", "8788"],
            memory=self.options.dask_worker_memory,
        )
        worker["env"] = [e for e in worker["env"] if not e["name"].startswith(DASK_SETTINGS)]
        scheduler = self.container("scheduler", ["dask", "scheduler"])
        scheduler["env"] = []
        scheduler["ports"] = [
            {"name": "tcp-comm", "containerPort": DASK_SCHEDULER_PORT, "protocol": "TCP"},
            {"name": "http-dashboard", "containerPort": DASK_DASHBOARD_PORT, "protocol": "TCP"},
        ]
        health = {"httpGet": {"path": "/health", "port": "http-dashboard"}}
        scheduler["readinessProbe"] = {**health, "initialDelaySeconds": 5, "periodSeconds": 10}
        scheduler["livenessProbe"] = {**health, "initialDelaySeconds": 15, "periodSeconds": 20}
        return [
            {
                "apiVersion": "kubernetes.dask.org/v1",
                "kind": "DaskCluster",
                "metadata": self.metadata(name, "dask"),
                "spec": {
                    "worker": {
                        "replicas": self.options.dask_workers,
                        "spec": self.pod_spec([worker]),
                    },
                    "scheduler": {
                        "spec": self.pod_spec([scheduler]),
                        "service": {
                            "type": "ClusterIP",
                            "selector": {
                                "dask.org/cluster-name": name,
                                "dask.org/component": "scheduler",
                            },
                            "ports": [
                                {
                                    "name": "tcp-comm",
                                    "protocol": "TCP",
                                    "port": DASK_SCHEDULER_PORT,
                                    "targetPort": "tcp-comm",
                                },
                                {
                                    "name": "http-dashboard",
                                    "protocol": "TCP",
                                    "port": DASK_DASHBOARD_PORT,
                                    "targetPort": "http-dashboard",
                                },
                            ],
                        },
                    },
                },
            }
        ]

    def header(self, part: str) -> str:
        namespace = f" -n {self.options.namespace}" if self.options.namespace else ""
        keys = " \\\n#     ".join(f"--from-literal={key}=..." for key in self.needs.secret_keys)
        required = sorted(self.needs.required_keys)
        return (
            f"# {part} of {self.config.name}, written by `shipyard deploy-config kubernetes`"
            f" (shipyard {__version__}).\n"
            f"# Image: {self.image} (build it with `shipyard deploy-config docker`).\n"
            f"# Values come from the Secret {self.secret}, which this folder never holds;\n"
            "# create it with the keys you need"
            + (f" ({', '.join(required)} required)" if required else " (each is optional)")
            + ":\n"
            f"#   kubectl{namespace} create secret generic {self.secret} {keys}\n"
        )


def kubernetes_files(
    config: ProjectConfig, needs: ProjectNeeds, options: KubernetesOptions
) -> dict[str, str]:
    """The manifests to write, by file name, and a ``kustomization.yaml`` listing them."""
    manifests = _Manifests(config, needs, options)
    parts: dict[str, tuple[str, list[Manifest]]] = {
        "server.yaml": ("The prediction server", manifests.server())
    }
    if options.monitor != "none":
        parts["monitor.yaml"] = ("The monitoring and retraining loop", manifests.monitor())
    if options.ui:
        parts["ui.yaml"] = ("The web dashboard", manifests.dashboard())
    if manifests.dask:
        parts["dask-cluster.yaml"] = (
            "The Dask cluster the pipeline runs on (needs the Dask Kubernetes operator)",
            manifests.dask_cluster(),
        )
    files = {
        file: manifests.header(part) + dump_yaml_all(resources)
        for file, (part, resources) in parts.items()
    }
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(files),
    }
    if options.namespace:
        kustomization["namespace"] = options.namespace
    files["kustomization.yaml"] = "# kubectl apply -k <this folder>\n" + dump_yaml(kustomization)
    return files

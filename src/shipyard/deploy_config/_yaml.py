"""YAML as a person writes it, for the files ``deploy_config`` writes."""

from __future__ import annotations

from typing import Any

import yaml


class ManifestDumper(yaml.SafeDumper):
    """YAML as a person writes it: a value used twice is written twice, not as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=ManifestDumper, sort_keys=False, default_flow_style=False)


def dump_yaml_all(documents: list[Any]) -> str:
    return yaml.dump_all(
        documents, Dumper=ManifestDumper, sort_keys=False, default_flow_style=False
    )

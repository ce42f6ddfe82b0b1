"""The fixed choices of the settings and commands: a value outside them is refused with
the allowed values named, in ``shipyard.yaml`` (``config``), as parameters of the
components that take them, and as options of the command line.

They are plain ``Literal`` types, apart from the settings' pydantic models and the store's
records, so that the command line can offer them (``shipyard init --task``, ``shipyard
deploy --strategy``) without loading either.
"""

from typing import Literal

Task = Literal["regression", "classification"]
Impute = Literal["median", "mean"]
Scaling = Literal["standard", "none"]
Encoding = Literal["onehot", "ordinal"]
Strategy = Literal["shadow", "canary", "blue-green"]
"""How a deployment's candidate serves beside its primary."""

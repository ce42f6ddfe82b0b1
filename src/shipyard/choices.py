"""The fixed choices of the settings: a value outside them is refused with the allowed
values named, in ``shipyard.yaml`` (``config``) and as parameters of the components that
take them.

They are plain ``Literal`` types, apart from the settings' pydantic models, so that the
command line can offer them (``shipyard init --task``) without loading those models.
"""

from typing import Literal

Task = Literal["regression", "classification"]
Impute = Literal["median", "mean"]
Scaling = Literal["standard", "none"]
Encoding = Literal["onehot", "ordinal"]

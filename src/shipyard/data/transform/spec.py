"""What the Transform step learns: the columns, and how to impute, scale and encode."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shipyard.config import Encoding, Impute, Scaling

__all__ = ["TransformSpec"]


class TransformSpec(BaseModel):
    """What the Transform step learns: which columns, and how to impute, scale and encode.

    ``numeric`` and ``categorical`` left as ``None`` are inferred from the training frame's
    dtypes (numbers are numeric; text, booleans and pandas categoricals are categorical);
    a list given is taken as complete.  Put the label and identifier columns in ``drop``.
    ``derive`` names a function ``"package.module:function"`` that takes a DataFrame and
    returns it with extra columns; it runs before everything else, on training frames and
    on request rows alike, and must compute each row from that row alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    numeric: tuple[str, ...] | None = Field(default=None, description="Numeric columns.")
    categorical: tuple[str, ...] | None = Field(default=None, description="Text columns.")
    drop: tuple[str, ...] = Field(default=(), description="Columns never used as features.")
    impute: Impute = "median"
    scaling: Scaling = "standard"
    encoding: Encoding = "onehot"
    max_categories: int = Field(
        default=50, ge=1, description="Most frequent categories kept per column."
    )
    derive: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$",
        description="Function adding derived columns, as 'module:function'.",
    )

    @model_validator(mode="after")
    def _columns_claimed_once(self) -> TransformSpec:
        seen: set[str] = set()
        for group in (self.numeric or (), self.categorical or (), self.drop):
            for column in group:
                if column in seen:
                    raise ValueError(f"column {column!r} is listed twice")
                seen.add(column)
        return self

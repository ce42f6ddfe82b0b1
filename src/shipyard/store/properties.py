"""The key/value properties any record may carry (``owner`` names the record's kind)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.store.tables import PropertyRow


def set_properties(session: Session, owner: str, owner_id: int, values: Mapping[str, Any]) -> None:
    """Insert or overwrite properties of one record inside ``session``'s transaction."""
    if not values:
        return
    existing = {
        row.key: row
        for row in session.scalars(
            select(PropertyRow).where(
                PropertyRow.owner == owner,
                PropertyRow.owner_id == owner_id,
                PropertyRow.key.in_(list(values)),
            )
        )
    }
    for key, value in values.items():
        if key in existing:
            existing[key].value = value
        else:
            session.add(PropertyRow(owner=owner, owner_id=owner_id, key=key, value=value))


def properties_of(session: Session, owner: str, owner_ids: set[int]) -> dict[int, dict[str, Any]]:
    """``owner_id -> {key: value}`` for several records of one kind."""
    if not owner_ids:
        return {}
    found: dict[int, dict[str, Any]] = {}
    query = select(PropertyRow.owner_id, PropertyRow.key, PropertyRow.value).where(
        PropertyRow.owner == owner, PropertyRow.owner_id.in_(list(owner_ids))
    )
    for owner_id, key, value in session.execute(query):
        found.setdefault(owner_id, {})[key] = value
    return found

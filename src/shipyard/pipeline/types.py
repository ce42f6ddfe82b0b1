"""Artifact types: what a component's inputs and outputs are.

A type is a class; an output feeds an input when its type is the input's type or a
subclass of it.  The standard components add their own types (``Examples``,
``Statistics``, ``Schema``, ``Model``...) as subclasses of ``Artifact``.

>>> class Embeddings(Artifact):
...     '''Vectors, one per row.'''
>>> Embeddings.type_name
'Embeddings'
"""

from __future__ import annotations

from typing import ClassVar


class Artifact:
    """The base of every artifact type; its name is what the metadata store records."""

    type_name: ClassVar[str] = "Artifact"
    known: ClassVar[dict[str, type[Artifact]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "type_name" not in cls.__dict__:
            cls.type_name = cls.__name__
        Artifact.known[cls.type_name] = cls

    @classmethod
    def accepts(cls, type_name: str) -> bool:
        """Whether an artifact stored as ``type_name`` may feed an input of this type."""
        stored = Artifact.known.get(type_name)
        return cls is Artifact or (stored is not None and issubclass(stored, cls))


class Dataset(Artifact):
    """A table or a folder of tables."""


class Model(Artifact):
    """A trained model."""


class Metrics(Artifact):
    """Numbers that describe a model or a dataset."""

"""Usage errors: a command line the library refuses by its form exits 2, as click's do.

``ShipyardError`` from a command's work is one red line and exit code 1 (``cli.app``);
a value whose text the library cannot parse (``parsed_by``), or options that do not go
together (``typer.BadParameter``), are usage errors: click shows the usage and exits 2.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from shipyard.errors import ShipyardError


def parsed_by(parse: Callable[[str], object]) -> Callable[[str | None], str | None]:
    """A Typer callback that lets through the values ``parse`` accepts.

    >>> ref: Annotated[str, typer.Argument(callback=parsed_by(parse_model_ref))]  # doctest: +SKIP
    """

    def check(value: str | None) -> str | None:
        if value is not None:
            try:
                parse(value)
            except ShipyardError as exc:
                raise typer.BadParameter(str(exc)) from None
        return value

    return check

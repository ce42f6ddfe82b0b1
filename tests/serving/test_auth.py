"""The API token check: what it lets through, and that nothing else passes."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from shipyard.errors import ConfigError, Unauthorized
from shipyard.serving.auth import TokenCheck

TOKEN = "a-token-of-some-length"


def test_without_a_token_everything_is_allowed() -> None:
    check = TokenCheck(None, protect_predictions=True)
    assert check.allows([]) and not check.required
    assert not check.protect_predictions  # nothing to protect with


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ([(b"authorization", f"Bearer {TOKEN}".encode())], True),
        ([(b"authorization", f"bearer {TOKEN}".encode())], True),  # the scheme ignores case
        ([(b"host", b"x"), (b"authorization", f"Bearer {TOKEN} ".encode())], True),
        ([], False),
        ([(b"authorization", TOKEN.encode())], False),  # no scheme
        ([(b"authorization", b"Basic dXNlcjpwYXNz")], False),
        ([(b"authorization", f"Bearer {TOKEN}x".encode())], False),
        ([(b"authorization", f"Bearer {TOKEN[:-1]}".encode())], False),
        ([(b"authorization", b"Bearer ")], False),
    ],
)
def test_only_the_bearer_token_itself_is_allowed(
    headers: list[tuple[bytes, bytes]], allowed: bool
) -> None:
    check = TokenCheck(SecretStr(TOKEN))
    assert check.allows(headers) is allowed
    if not allowed:
        with pytest.raises(Unauthorized, match="Authorization: Bearer <token>") as caught:
            check.check(headers)
        assert TOKEN not in str(caught.value)


def test_a_configured_token_is_never_shown() -> None:
    from shipyard.config import parse_config

    config = parse_config("name: p\n", environ={"SHIPYARD_API_TOKEN": TOKEN})
    assert TOKEN not in repr(config) and TOKEN not in config.to_yaml()
    assert config.serve.token is not None and config.serve.token.get_secret_value() == TOKEN
    assert config.serve.environment()["SHIPYARD_API_TOKEN"] == TOKEN  # handed to workers
    with pytest.raises(
        ConfigError, match="serve.token.: Value error, an API token must be at least 16"
    ):
        parse_config("name: p\n", environ={"SHIPYARD_API_TOKEN": "short"})

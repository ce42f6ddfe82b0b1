"""One route table gives the dispatch; one error table gives every status."""

from __future__ import annotations

import pytest

from shipyard.errors import (
    ArtifactNotFound,
    InvalidRequest,
    ModelNotFound,
    RecordNotFound,
    RequestTooLarge,
    SchemaMismatch,
    ServingError,
    ShipyardError,
    StoreUnavailable,
)
from shipyard.serving.routes import POST_ROUTES, PostRouter, status_of

HANDLERS = {"predict": "P", "infer": "I", "feedback": "F"}


@pytest.mark.parametrize(
    ("path", "endpoint", "handler", "name", "version"),
    [
        ("/predict", "predict", "P", None, None),
        ("/feedback", "feedback", "F", None, None),
        ("/v2/models/ames/predict", "predict_named", "P", "ames", None),
        ("/v2/models/ames/infer", "infer", "I", "ames", None),
        ("/v2/models/ames/versions/12/infer", "infer_version", "I", "ames", "12"),
    ],
)
def test_post_paths_find_their_route_and_handler(
    path: str, endpoint: str, handler: str, name: str | None, version: str | None
) -> None:
    found = PostRouter(HANDLERS).match(path)
    assert found is not None
    assert (found.route.endpoint, found.handler, found.name, found.version) == (
        endpoint, handler, name, version,
    )  # fmt: skip


@pytest.mark.parametrize(
    "path",
    ["/", "/predicts", "/v2/models/ames", "/v2/models//infer", "/v2/models/ames/ready",
     "/v2/models/ames/infer/more", "/metrics", "/v2/models/ames/versions/3",
     "/v2/models/ames/versions//infer", "/v2/models/ames/versions/3/infer/more",
     "/v2/models/ames/versions/3/predict", "/v2/models//versions/3/infer"],
)  # fmt: skip
def test_other_paths_are_left_to_fastapi(path: str) -> None:
    assert PostRouter(HANDLERS).match(path) is None


def test_every_route_is_routed() -> None:
    router = PostRouter(HANDLERS)
    for route in POST_ROUTES:
        found = router.match(route.path.replace("{name}", "m").replace("{version}", "2"))
        assert found is not None and found.route is route


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RequestTooLarge("big", field="body"), 413),
        (InvalidRequest("bad"), 422),
        (SchemaMismatch("bad"), 422),
        (ModelNotFound("nope"), 404),
        (RecordNotFound("nope"), 404),
        (StoreUnavailable("down"), 503),
        (ServingError("loading"), 503),
        (ArtifactNotFound("gone", digest="ab"), 500),  # not a client's doing: a bug to see
        (ShipyardError("?"), 500),
    ],
)
def test_errors_map_to_statuses_by_their_class(error: ShipyardError, status: int) -> None:
    assert status_of(error) == status

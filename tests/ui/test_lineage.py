"""The lineage page: the graph from a model, a run, an artifact, a dataset version or a
prediction, upstream and downstream."""

from __future__ import annotations

import httpx

from shipyard.prediction_lineage import PredictionLineage
from shipyard.project import Project
from shipyard.store import StoredOutput


def drawn(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    return page.text.split('<svg class="graph"')[1].split("</svg>")[0]


def test_the_production_model_reaches_the_dataset_version_of_its_run(
    demo: Project, dashboard: httpx.Client
) -> None:
    version = demo.registry.resolve("ames@production")
    assert version.run_id is not None and version.dataset_version_id is not None

    graph = drawn(dashboard.get("/lineage?ref=ames@production"))

    dataset = demo.dataset_version(version.dataset_version_id)
    assert f'data-key="dataset:{dataset.id}"' in graph
    assert f'href="/lineage?ref=dataset:{dataset.id}"' in graph
    assert f'data-key="model:{version.ref}"' in graph
    assert f'href="/models/ames/{version.version}"' in graph
    assert f'<g class="node artifact root" data-key="{version.package.ref}">' in graph
    lineage = demo.lineage("ames@production")
    assert not isinstance(lineage, PredictionLineage) and lineage.executions
    for execution in lineage.executions.values():
        assert f'href="/runs/{execution.run_id}#step-{execution.step}"' in graph
        assert f'data-key="execution:{execution.id}"' in graph


def test_a_prediction_goes_back_through_its_model_to_the_data(
    demo: Project, dashboard: httpx.Client
) -> None:
    [answer] = demo.prediction_log().read(model="ames", limit=1)["prediction_id"]
    traced = demo.prediction_lineage(answer)

    page = dashboard.get(f"/lineage?ref={answer}")

    graph = drawn(page)
    assert f'data-key="prediction:{answer}"' in graph
    assert f'href="/predictions/{answer}"' in graph
    assert f'data-key="model:{traced.model_version.ref}"' in graph
    assert traced.dataset_version is not None
    assert f'data-key="dataset:{traced.dataset_version.id}"' in graph
    assert traced.run is not None and f'href="/runs/{traced.run.id}">run {traced.run.id}</a>' in (
        page.text
    )
    assert f'data-key="prediction:{answer}"' in drawn(
        dashboard.get(f"/lineage?ref=prediction:{answer}")
    )


def test_a_dataset_version_and_a_run_show_their_upstream_graphs(
    demo: Project, dashboard: httpx.Client
) -> None:
    dataset = demo.dataset_versions()[-1]
    graph = drawn(dashboard.get(f"/lineage?ref=dataset:{dataset.id}"))
    assert f'data-key="artifact:{dataset.examples_id}"' in graph
    assert "node artifact root" in graph
    assert f'data-key="dataset:{dataset.id}"' in graph

    run = demo.runs(limit=1)[0]
    graph = drawn(dashboard.get(f"/lineage?ref=run:{run.id}"))
    for step in demo.run_steps(run.id):
        assert f'<g class="node {step.status}" data-key="execution:{step.id}">' in graph


def test_downstream_of_the_examples_reaches_the_model_package(
    demo: Project, dashboard: httpx.Client
) -> None:
    version = demo.registry.resolve("ames:1")
    dataset = demo.dataset_version(version.dataset_version_id or 0)

    upstream = dashboard.get(f"/lineage?ref=artifact:{dataset.examples_id}")
    assert '<option value="downstream">' in upstream.text
    assert f'data-key="{version.package.ref}"' not in drawn(upstream)
    page = dashboard.get(f"/lineage?ref=artifact:{dataset.examples_id}&direction=downstream")
    assert '<option value="downstream" selected>' in page.text
    assert f'data-key="{version.package.ref}"' in drawn(page)


def test_bad_references_are_404_pages_with_the_reason(dashboard: httpx.Client) -> None:
    nonsense = dashboard.get("/lineage?ref=nonsense:x")
    assert nonsense.status_code == 404 and "cannot understand reference" in nonsense.text
    assert "&#39;nonsense:x&#39;" in nonsense.text
    missing = dashboard.get("/lineage?ref=ames:999")
    assert missing.status_code == 404 and "999" in missing.text
    dataset = dashboard.get("/lineage?ref=dataset:4242")
    assert dataset.status_code == 404 and "dataset version 4242 does not exist" in dataset.text
    run = dashboard.get("/lineage?ref=run:1&direction=downstream")
    assert run.status_code == 404 and "downstream lineage starts from an artifact" in run.text


def test_without_a_reference_the_page_is_a_search_form(dashboard: httpx.Client) -> None:
    page = dashboard.get("/lineage")
    assert page.status_code == 200
    assert '<form method="get" action="/lineage"' in page.text and 'name="ref"' in page.text
    assert "<svg" not in page.text


def test_a_huge_graph_is_cut_to_the_nodes_nearest_its_end(
    demo: Project, dashboard: httpx.Client
) -> None:
    store = demo.store
    run = store.start_run("chain", params={}, code_version=None, code_dirty=None, environment={})
    previous: dict[str, int] = {}
    for index in range(120):  # 120 steps and 120 artifacts in one chain
        step = store.start_execution(
            run.id, step=f"s{index}", component="Link", fingerprint=None, params={},
            inputs=previous,
        )  # fmt: skip
        output = StoredOutput(
            type_name="Link", digest=f"{index:064x}", kind="file", size=1, uri="/l"
        )
        made = store.finish_execution(step, status="succeeded", attempts=1, outputs={"o": output})
        previous = {"i": made["o"].id}

    page = dashboard.get(f"/lineage?ref=artifact:{previous['i']}")

    assert "The graph has 240 nodes; the 200 nearest to its end are drawn." in page.text
    graph = drawn(page)
    assert graph.count("<g class=") == 200
    assert f'data-key="artifact:{previous["i"]}"' in graph
    assert 'data-key="execution:' in graph

"""The browser page is served at ``/`` with its assets under ``/static`` (no browser needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.components import Components
from app.main import create_app

PAGE_IDS = [
    "question",
    "ask-btn",
    "answer",
    "quote",
    "sources",
    "search-query",
    "search-btn",
    "results",
    "upload-files",
    "upload-btn",
    "uploads",
    "api-key",
]


@pytest.fixture
def client(components: Components) -> Iterator[TestClient]:
    app = create_app(components.settings, components=lambda _settings: components)
    with TestClient(app, base_url="http://localhost") as test_client:
        yield test_client


def test_index_is_html_with_the_page_elements(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for element_id in [*PAGE_IDS, "error", "status"]:
        assert f'id="{element_id}"' in page, element_id
    # Self-contained: no external scripts, styles or fonts.
    assert "http://" not in page and "https://" not in page


@pytest.mark.parametrize(
    ("path", "content_type", "fragment"),
    [
        ("/static/app.js", "javascript", "getReader()"),
        ("/static/style.css", "text/css", ".citation"),
        ("/static/index.html", "text/html", "<title>synthrag</title>"),
    ],
)
def test_static_assets_load(client: TestClient, path: str, content_type: str, fragment: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert content_type in response.headers["content-type"]
    assert fragment in response.text


def test_missing_static_file_is_404(client: TestClient) -> None:
    assert client.get("/static/nope.js").status_code == 404


def test_page_is_not_in_the_api_schema(client: TestClient) -> None:
    assert "/" not in client.get("/openapi.json").json()["paths"]

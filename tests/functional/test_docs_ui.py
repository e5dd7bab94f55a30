"""The admin docs page (/api/docs) loads only files the gateway serves itself: it works offline."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from app import create_app
from app.config import Settings

EXPECTED_TYPES = {"js": "javascript", "css": "text/css"}


class _AssetUrls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


@pytest.fixture
def admin(sqlite_db):
    return create_app("admin", Settings(), sqlite_db).test_client()


def test_docs_page_references_only_local_assets_that_load(admin):
    page = admin.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    parser = _AssetUrls()
    parser.feed(page.get_data(as_text=True))
    assert len(parser.urls) == 3  # the UI's stylesheet, its standalone preset and its bundle
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/api/"), url
        asset = admin.get(url)
        assert asset.status_code == 200, url
        expected = EXPECTED_TYPES[url.rsplit(".", 1)[1]]
        assert expected in asset.content_type, (url, asset.content_type)
        assert len(asset.data) > 1000
    assert "cdn" not in page.get_data(as_text=True).lower()


def test_asset_route_serves_nothing_outside_the_ui_directory(admin):
    assert admin.get("/api/docs/assets/../__init__.py").status_code == 404
    assert admin.get("/api/docs/assets/%2e%2e/__init__.py").status_code == 404
    assert admin.get("/api/docs/assets/missing.js").status_code == 404


def test_assets_need_the_admin_key_like_the_docs_page(sqlite_db):
    admin = create_app("admin", Settings(admin_pass="s3cret"), sqlite_db).test_client()
    url = "/api/docs/assets/swagger-ui.css"
    assert admin.get(url).status_code == 401
    assert admin.get(url, headers={"X-API-KEY": "s3cret"}).status_code == 200

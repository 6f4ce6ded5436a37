"""The desk page as files: served at / without a key, self-contained (no CDN, no inline script), its
text never injected as HTML, every interface text in both languages; and GET /me, which tells the
page the caller's role."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from api.app import STATIC_DIR, create_app
from api.auth import Authenticator, KeyStore, Principal, Role
from config.settings import Settings

ADMIN_KEY = "desk-test-admin-key-0123456789"
RESPONDER_KEY = "pk_0123456789ab_" + "r" * 43
SCRIPTS = sorted(STATIC_DIR.glob("js/*.js"))


class KnownKeys(KeyStore):
    """Keys from a dict instead of Redis."""

    def __init__(self, principals: dict[str, Principal]) -> None:
        super().__init__(Redis(), cache_seconds=0)  # never connects: nothing here asks it
        self.principals = principals

    def cached(self, presented: str) -> Principal | None:
        return None

    async def verify(self, presented: str) -> Principal | None:
        return self.principals.get(presented)


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings())
    keys = KnownKeys({RESPONDER_KEY: Principal(key_id="0123456789ab", name="ana", role=Role.responder)})
    app.state.authenticator = Authenticator(keys, admin_key=SecretStr(ADMIN_KEY))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pantau") as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_me_tells_the_callers_name_and_role(api: httpx.AsyncClient) -> None:
    assert (await api.get("/me", headers=bearer(RESPONDER_KEY))).json() == {
        "name": "ana",
        "role": "responder",
    }
    admin = (await api.get("/me", headers=bearer(ADMIN_KEY))).json()
    assert admin["role"] == "admin"
    refused = await api.get("/me", headers=bearer("pk_000000000000_" + "x" * 43))
    assert refused.status_code == 401
    assert (await api.get("/me")).status_code == 401


async def test_the_page_and_its_files_are_served_without_a_key(api: httpx.AsyncClient) -> None:
    page = await api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    referenced = re.findall(r'(?:src|href)="(static/[^"]+)"', page.text)
    assert "static/js/desk.js" in referenced and "static/desk.css" in referenced
    for path in referenced:
        assert (await api.get(f"/{path}")).status_code == 200, path
    script = await api.get("/static/js/desk.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert (await api.get("/static/missing.js")).status_code == 404
    # The page is no part of the API's schema.
    assert "/" not in (await api.get("/openapi.json")).json()["paths"]


def test_every_module_the_scripts_import_is_shipped() -> None:
    for script in SCRIPTS:
        for imported in re.findall(r'from "(\./[^"]+)"', script.read_text(encoding="utf-8")):
            assert (script.parent / imported).is_file(), f"{script.name} imports {imported}"


def test_the_page_loads_nothing_from_elsewhere_and_runs_no_inline_code() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, "inline <script>"
    assert re.search(r"\son[a-z]+=", html) is None, "inline event handler"
    for file in [STATIC_DIR / "index.html", STATIC_DIR / "desk.css", *SCRIPTS]:
        text = file.read_text(encoding="utf-8")
        addresses = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert addresses == set(), f"{file.name} loads from {addresses}"


def test_no_script_writes_html() -> None:
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{script.name} uses {sink}"


def texts(language: str) -> set[str]:
    source = (STATIC_DIR / "js" / "i18n.js").read_text(encoding="utf-8")
    block = re.search(rf"\n  {language}: \{{\n(.*?)\n  \}},", source, re.DOTALL)
    assert block is not None, language
    return set(re.findall(r'^\s+"([a-zA-Z.]+)":', block.group(1), re.MULTILINE))


def used_keys() -> set[str]:
    """Text keys the page names literally: t("..."), data-i18n="..." and the like."""
    sources = [(STATIC_DIR / "index.html").read_text(encoding="utf-8")]
    sources += [script.read_text(encoding="utf-8") for script in SCRIPTS]
    found: set[str] = set()
    for source in sources:
        found |= set(re.findall(r'\bt\("([a-zA-Z.]+)"', source))
        found |= set(re.findall(r'data-i18n(?:-placeholder|-title)?="([a-zA-Z.]+)"', source))
        found |= set(re.findall(r'"((?:num|section|action|login)\.[a-zA-Z.]+)"', source))
    return found


def test_every_text_is_in_indonesian_and_english() -> None:
    english, indonesian = texts("en"), texts("id")
    assert english == indonesian
    assert used_keys() - english == set()
    # Keys the page builds from API values: each value the API can send has its text.
    families = {
        "role": ["viewer", "responder", "admin"],
        "severity": ["info", "warning", "critical", "none"],
        "status": ["open", "acknowledged", "resolved"],
        "conn": ["connecting", "live", "down"],
        "action.done": ["acknowledged", "resolved", "assigned", "commented", "silenced"],
        "event": ["opened", "updated", "acknowledged", "assigned", "commented", "resolved", "escalated"],
    }
    for family, values in families.items():
        assert {f"{family}.{v}" for v in values} <= english, family


def test_the_static_folder_holds_only_the_page_files() -> None:
    # Packaging ships api/static/** as package data: nothing else should creep in.
    suffixes = {p.suffix for p in Path(STATIC_DIR).rglob("*") if p.is_file()}
    assert suffixes <= {".html", ".css", ".js"}

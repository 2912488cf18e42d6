"""A locked vault (a wrong or missing key) makes the hub not ready: /readyz answers 503 with the
reason and the fix, never a key id; hub_info says the same."""

from __future__ import annotations

import base64

import pytest

from hub.app import create_app
from hub.settings import Settings
from hub.vault.keys import generate_key, key_id
from tests.conftest import serve
from tests.extension_support import call, local_hub

pytestmark = pytest.mark.anyio


def _ids(*keys: str) -> list[str]:
    return [key_id(base64.urlsafe_b64decode(k)) for k in keys]


@pytest.mark.parametrize("damage", ["wrong", "missing"])
async def test_readyz_is_503_while_the_vault_is_locked(settings: Settings, damage: str) -> None:
    import httpx2

    async with local_hub(settings) as (_, mcp):
        await call(mcp, "secret_set", {"name": "TOKEN", "value": "a-value-sealed-before"})
    key_file = settings.data_dir / "vault.key"
    original = key_file.read_text().strip()
    other = generate_key()
    if damage == "wrong":
        key_file.write_text(other + "\n")
    else:
        key_file.unlink()
    app = create_app(settings)
    async with serve(app, settings.port) as url, httpx2.AsyncClient(base_url=url) as http:
        response = await http.get("/readyz")
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["title"] == "Not ready" and body["status"] == 503
        assert "vault is locked" in body["detail"] and "vault.key" in body["detail"]
        assert "GOOSUKE_VAULT_KEY" in body["detail"] and "restore" in body["detail"]
        assert set(body["not_ready"]) == {"vault"}
        assert body["checks"]["vault"].startswith("unavailable")
        assert "engine" in body["checks"]  # the checks keep their shape
        for kid in _ids(original, other):
            assert kid not in response.text
    async with local_hub(settings) as (_, mcp):
        info = await call(mcp, "hub_info")
        assert info["ready"] is False and "vault is locked" in info["not_ready"]["vault"]


async def test_readyz_is_200_with_a_good_key_and_shows_no_key_id(settings: Settings) -> None:
    import httpx2

    app = create_app(settings)
    async with serve(app, settings.port) as url, httpx2.AsyncClient(base_url=url) as http:
        response = await http.get("/readyz")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ready" and body["checks"]["vault"].startswith("ok")
        kid = key_id(base64.urlsafe_b64decode((settings.data_dir / "vault.key").read_text().split()[0]))
        assert kid not in response.text
    async with local_hub(settings) as (_, mcp):
        info = await call(mcp, "hub_info")
        assert info["ready"] is True and info["not_ready"] == {}

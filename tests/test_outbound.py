"""The outbound guard: which addresses a server process may call for a tenant, checked when an address is saved and
again when a call connects (against the address connected, so a name that changes its answer is caught), through a
proxy as well, and no redirect followed. Servers here are on loopback; names are resolved by a stand-in resolver."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from amigo_api.core.outbound import OutboundPolicy, OutboundRefused, is_public, outbound_client, resolve

REFUSED = ["127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "fc00::1", "169.254.169.254",
           "fe80::1", "100.64.0.1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "240.0.0.1", "255.255.255.255",
           "192.0.2.1", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::", "64:ff9b::7f00:1"]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]


@pytest.mark.parametrize("address", REFUSED)
def test_addresses_that_are_not_global_are_refused(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_global_addresses_pass(address: str) -> None:
    assert is_public(address)


class Seen(BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.requests.append(self.path)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("location", "http://169.254.169.254/latest/meta-data/")
        else:
            self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def loopback() -> Iterator[tuple[int, list[str]]]:
    requests: list[str] = []
    handler = type("Handler", (Seen,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], requests
    server.shutdown()


def resolving_to(*answers: str) -> Any:
    """A resolver answering each look-up with the next address (the last one after that)."""
    given = list(answers)

    async def resolver(host: str, port: int) -> list[str]:
        return [given.pop(0) if len(given) > 1 else given[0]]
    return resolver


async def test_saved_addresses_are_checked(loopback: tuple[int, list[str]]) -> None:
    strict = OutboundPolicy()
    for url in ("http://127.0.0.1:8080/v1", "http://[::1]/v1", "http://169.254.169.254/latest", "http://10.0.0.1/",
                "http://0.0.0.0:11434/v1", "http://[::ffff:127.0.0.1]/v1", "http://localhost:8080/v1"):
        with pytest.raises(OutboundRefused, match="not a public address"):
            await strict.check_url(url)
    assert "127.0.0.1" in await resolve("localhost", 80)  # the real resolver: localhost is refused by what it is
    await OutboundPolicy(resolver=resolving_to("8.8.8.8")).check_url("https://llm.example.com/v1")

    async def unresolvable(host: str, port: int) -> list[str]:
        raise OSError("no such name")
    await OutboundPolicy(resolver=unresolvable).check_url("https://nowhere.example/v1")  # checked when called

    await OutboundPolicy(allow_private=True).check_url("http://127.0.0.1:8080/v1")
    listed = OutboundPolicy(allowed_hosts=frozenset({"localhost", "10.0.0.1:8000"}))
    await listed.check_url("http://localhost:8080/v1")
    await listed.check_url("http://10.0.0.1:8000/v1")
    with pytest.raises(OutboundRefused):
        await listed.check_url("http://10.0.0.1:8001/v1")


async def test_the_address_connected_is_checked_when_a_call_connects(loopback: tuple[int, list[str]]) -> None:
    port, requests = loopback
    url = f"http://llm.example.com:{port}/v1/chat/completions"
    rebinding = OutboundPolicy(resolver=resolving_to("8.8.8.8", "127.0.0.1"))
    await rebinding.check_url(url)  # public when saved
    async with outbound_client(rebinding) as client:
        with pytest.raises(OutboundRefused, match=r"llm.example.com \(127.0.0.1\)"):
            await client.get(url)  # loopback when called
        with pytest.raises(OutboundRefused):
            await client.get(f"http://127.0.0.1:{port}/")
    assert requests == []
    allowed = OutboundPolicy(allow_private=True, resolver=resolving_to("127.0.0.1"))
    async with outbound_client(allowed) as client:
        assert (await client.get(url)).text == "ok"  # the guard, not the network, refused it before
        redirected = await client.get(f"http://llm.example.com:{port}/redirect")
        assert redirected.status_code == 302  # not followed
    assert requests == ["/v1/chat/completions", "/redirect"]


async def test_through_a_proxy_the_target_is_checked_before_the_request_leaves(
        loopback: tuple[int, list[str]]) -> None:
    port, requests = loopback
    proxy = f"http://127.0.0.1:{port}"  # the loopback server plays the proxy: it sees the absolute URL
    async with outbound_client(OutboundPolicy(resolver=resolving_to("10.0.0.1")), proxy) as client:
        with pytest.raises(OutboundRefused):
            await client.get("http://intranet.example.com/secret")
    assert requests == []
    async with outbound_client(OutboundPolicy(resolver=resolving_to("8.8.8.8")), proxy) as client:
        answer = await client.get("http://llm.example.com/v1/models")
    assert answer.status_code == 200 and requests == ["http://llm.example.com/v1/models"]


async def test_a_name_that_does_not_resolve_fails_as_a_network_error() -> None:
    async def unresolvable(host: str, port: int) -> list[str]:
        raise OSError("no such name")
    async with outbound_client(OutboundPolicy(resolver=unresolvable)) as client:
        with pytest.raises(httpx.ConnectError, match="could not be resolved"):
            await client.get("http://nowhere.example/")

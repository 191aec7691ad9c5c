"""Outbound HTTP calls to addresses that tenants store (LLM provider keys' base URLs; later features use the same
client): only where the operator allows.

An address is checked when it is saved (`OutboundPolicy.check_url`) and again when a call connects, against the
address actually connected: DNS can answer differently between the two. The connect-time check sits in the HTTP
client's network backend, under every request the client makes, so no call path can skip it. Anything that is not
a global address (loopback, private, link-local, shared 100.64/10, unspecified, multicast, reserved, and those
hidden in IPv4-mapped, 6to4 and Teredo IPv6 addresses) is refused unless `AMIGO_OUTBOUND_ALLOW_PRIVATE` is on or the
host is listed in `AMIGO_OUTBOUND_ALLOWED_HOSTS` (as `host` or `host:port`). Redirects are not followed. Through a
proxy (`AMIGO_OUTBOUND_PROXY`, else the standard proxy variables), the target is resolved and checked before the
request goes to the proxy."""

import ipaddress
import socket
import urllib.request
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from amigo_api.settings import Settings

Resolver = Callable[[str, int], Awaitable[list[str]]]
SAVE_RESOLVE_SECONDS = 3.0  # a name that does not resolve this fast when saved is checked when called


class OutboundRefused(Exception):
    def __init__(self, host: str, address: str) -> None:
        where = host if host == address else f"{host} ({address})"
        super().__init__(f"{where} is not a public address. The server's operator can allow it with "
                         "AMIGO_OUTBOUND_ALLOW_PRIVATE or AMIGO_OUTBOUND_ALLOWED_HOSTS.")


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # without an IPv6 zone
    embedded: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded += [v4 for v4 in (ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())) if v4 is not None]
    return all(a.is_global and not a.is_multicast and not a.is_reserved for a in embedded)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


async def resolve(host: str, port: int) -> list[str]:
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class OutboundPolicy:
    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    resolver: Resolver = field(default=resolve, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "OutboundPolicy":
        hosts = frozenset(host.strip().lower() for host in settings.outbound_allowed_hosts)
        return cls(settings.outbound_allow_private, hosts)

    def _listed(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        return host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts

    async def addresses(self, host: str, port: int) -> list[str]:
        """What a connection to `host:port` may use: every address the host resolves to, each one allowed (a name
        with one refused address is refused whole). OSError when it does not resolve."""
        host = host.strip("[]")
        found = [host] if _is_ip(host) else await self.resolver(host, port)
        if not (self.allow_private or self._listed(host, port)):
            for address in found:
                if not is_public(address):
                    raise OutboundRefused(host, address)
        return found

    async def check_url(self, url: str) -> None:
        """When an address is saved: OutboundRefused if its host is, or now resolves to, a refused address. A name
        that does not resolve now passes: every call checks again when it connects."""
        parts = urlsplit(url)
        if parts.hostname is None:
            raise OutboundRefused(url, url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with anyio.fail_after(SAVE_RESOLVE_SECONDS):
                await self.addresses(parts.hostname, port)
        except (OSError, TimeoutError):
            return


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy allows, and to the checked address itself (not the name again)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._network = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self._policy.addresses(host, port)
        except (OSError, TimeoutError) as error:
            raise httpcore.ConnectError(f"{host} could not be resolved: {error}") from error
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._network.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as error:
                failure = error
        raise failure or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Outbound calls do not use Unix sockets.")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


class _DirectTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose network backend is the guard (httpx takes no backend as a
    parameter, so the pool it built is replaced; `tests/test_outbound.py` fails if the guard is not in the path)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        super().__init__()
        self._pool = httpcore.AsyncConnectionPool(ssl_context=httpx.create_ssl_context(),
                                                  network_backend=_GuardedBackend(policy))


class OutboundTransport(httpx.AsyncBaseTransport):
    def __init__(self, policy: OutboundPolicy, proxy: str | None = None) -> None:
        self._policy, self._proxy = policy, proxy
        self._direct = _DirectTransport(policy)
        self._proxied: dict[str, httpx.AsyncHTTPTransport] = {}

    def _proxy_for(self, url: httpx.URL) -> str | None:
        if self._proxy is not None:
            return self._proxy
        proxy = urllib.request.getproxies().get(url.scheme)
        return proxy if proxy and not urllib.request.proxy_bypass(url.host) else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = self._proxy_for(request.url)
        if proxy is None:
            return await self._direct.handle_async_request(request)
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            await self._policy.addresses(request.url.host, port)
        except OSError as error:
            raise httpx.ConnectError(f"{request.url.host} could not be resolved: {error}", request=request) from error
        transport = self._proxied.setdefault(proxy, httpx.AsyncHTTPTransport(proxy=proxy))
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for transport in self._proxied.values():
            await transport.aclose()


def outbound_client(policy: OutboundPolicy, proxy: str | None = None) -> httpx.AsyncClient:
    """The client for calls to tenant-stored addresses. It follows no redirect: one to a refused address would
    be a way around the check of the first."""
    return httpx.AsyncClient(transport=OutboundTransport(policy, proxy), trust_env=False, follow_redirects=False)

"""The SSRF guard: webhooks may only reach public HTTPS endpoints.

Checked twice: when a route's ``webhookUrl`` is saved (scheme, literal addresses, local names, and
what the name resolves to right now) and at every delivery, after DNS resolution, so a name that
later resolves to an internal address is still refused. The dispatcher then connects to the
address it checked (see ``dispatcher.py``), which closes the DNS-rebinding gap between check and
connect. ``settings.webhook_allow_private`` lifts the guard, plain HTTP included, for local
development.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Names that mean "this machine or its network" whatever DNS says.
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
SAVE_TIME_RESOLVE_TIMEOUT = 3.0
MAX_URL_LENGTH = 2048


class UnsafeWebhookUrl(ValueError):
    """The URL is not a public HTTPS endpoint; the message says why."""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A parsed destination: where to connect and what to call it (Host header, TLS SNI)."""

    url: str
    scheme: str
    host: str
    port: int


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4, Teredo), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_public_address(address: IPAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, shared, multicast, reserved
    or unspecified, in IPv4 or IPv6, including IPv4 addresses wrapped in IPv6 forms."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        inner = _embedded_ipv4(address)
        if inner is not None:  # the connection goes to the IPv4 address inside
            return is_public_address(inner)
    return not (
        address.is_multicast
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_reserved
        or not address.is_global
    )


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # Forms inet_aton accepts but ip_address does not ("127.1", "0x7f.0.0.1", "2130706433"):
    # resolvers treat them as addresses, so must we.
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def parse_target(
    url: str, *, allow_private: bool, refuse_local_names: bool = True
) -> WebhookTarget:
    """Check what can be checked without DNS. Raises ``UnsafeWebhookUrl``.

    ``refuse_local_names``: refuse ``localhost``, ``*.local`` and single-label names outright.
    The save-time check needs it (it accepts names that do not resolve); delivery resolves
    every name and checks the addresses, which covers them.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookUrl(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeWebhookUrl(f"is not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    allowed_schemes = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed_schemes:
        raise UnsafeWebhookUrl("must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrl("must not contain credentials")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeWebhookUrl("must have a host name")
    if any(ord(char) < 33 for char in url):
        raise UnsafeWebhookUrl("must not contain spaces or control characters")
    target = WebhookTarget(
        url=url, scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80)
    )
    if allow_private:
        return target
    literal = _literal_address(host)
    if literal is None:
        if refuse_local_names and (
            host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES) or "." not in host
        ):
            raise UnsafeWebhookUrl(f"must be a public host; {host!r} is a local name")
    elif not is_public_address(literal):
        raise UnsafeWebhookUrl(f"must be a public address; {literal} is not")
    return target


async def resolve_public(target: WebhookTarget, *, allow_private: bool) -> list[IPAddress]:
    """Resolve the host and refuse it unless every address is public. Raises ``UnsafeWebhookUrl``
    (for refusals) or ``OSError`` (when the name does not resolve)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OSError(f"{target.host} has no addresses")
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise UnsafeWebhookUrl(f"{target.host} resolves to {address}, which is not public")
    return addresses


async def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """The save-time check of a route's ``webhookUrl``. Raises ``UnsafeWebhookUrl``.

    A name that does not resolve right now is accepted (DNS may not exist yet, or this machine
    may be offline); delivery resolves and checks it again.
    """
    target = parse_target(url, allow_private=allow_private)
    if allow_private:
        return
    try:
        async with asyncio.timeout(SAVE_TIME_RESOLVE_TIMEOUT):
            await resolve_public(target, allow_private=False)
    except (OSError, TimeoutError, UnicodeError):
        return

"""The network half of `iotunnel profiles check`: DNS, TCP and TLS to an endpoint.

Each probe returns a `Step` that says what was found and, when it failed, what to do
about it in words a field engineer can act on. Nothing here raises for a network fault.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import urllib.request
from dataclasses import dataclass
from typing import Any

import httpx

OK = "ok"
FAIL = "fail"
SKIPPED = "skipped"  # not run: an earlier step failed
NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Step:
    """One line of the diagnosis: what was checked, what came out, what to do."""

    name: str
    title: str
    status: str
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
        }


STEP_TITLES = {
    "config": "Profile",
    "dns": "DNS",
    "tcp": "TCP",
    "tls": "TLS",
    "auth": "Authentication",
    "project": "Project id",
    "instance": "Instance-Id",
    "devices": "List devices",
    "edition": "Edition",
    "tunnels": "Read tunnels",
    "platform": "Platform",
}


def step(name: str, status: str, detail: str, fix: str | None = None) -> Step:
    return Step(name, STEP_TITLES[name], status, detail, fix)


@dataclass(frozen=True)
class Target:
    """Where a probe goes: the endpoint's host and port, or the proxy in front of it."""

    host: str
    port: int
    https: bool
    proxy: str | None = None  # "host:port" of an HTTP(S) proxy from the environment


def target_of(endpoint: str) -> Target:
    url = httpx.URL(endpoint)
    https = url.scheme == "https"
    port = url.port or (443 if https else 80)
    proxy_url = _proxy_for(endpoint, url.host)
    if proxy_url:
        proxy = httpx.URL(proxy_url)
        return Target(proxy.host, proxy.port or 80, https, f"{proxy.host}:{proxy.port or 80}")
    return Target(url.host, port, https)


def _proxy_for(endpoint: str, host: str) -> str | None:
    """The proxy httpx would use for this endpoint (it honours the *_PROXY variables)."""
    proxies = urllib.request.getproxies()
    scheme = httpx.URL(endpoint).scheme
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def check_dns(target: Target, timeout: float) -> tuple[Step, list[str]]:
    """Resolve the host; returns the step and the addresses found."""
    via = f" (the proxy {target.proxy})" if target.proxy else ""
    if _is_address(target.host):
        return step("dns", OK, f"{target.host} is an address{via}: nothing to resolve"), [
            target.host
        ]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM), timeout
        )
    except (TimeoutError, socket.gaierror, UnicodeError) as exc:
        why = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
        return (
            step(
                "dns",
                FAIL,
                f"cannot resolve {target.host}{via}: {why}",
                f"check the host name in the endpoint for typos (copy it from the IoTDA "
                f"console: Overview → Access details → HTTPS application access); on this "
                f"machine `getent hosts {target.host}` must print an address — a jump host "
                f"may need its DNS server or an /etc/hosts entry",
            ),
            [],
        )
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    shown = ", ".join(addresses[:3]) + (" …" if len(addresses) > 3 else "")
    return step("dns", OK, f"{target.host}{via} → {shown}"), addresses


async def check_tcp(target: Target, addresses: list[str], timeout: float) -> Step:
    via = " (the proxy)" if target.proxy else ""
    problems: list[str] = []
    refused = False
    for address in addresses[:3]:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(address, target.port), timeout
            )
        except TimeoutError:
            problems.append(f"{address}: no answer within {timeout:g} s")
            continue
        except OSError as exc:
            refused = refused or isinstance(exc, ConnectionRefusedError)
            problems.append(f"{address}: {exc.strerror or exc}")
            continue
        writer.close()
        return step("tcp", OK, f"connected to {address} port {target.port}{via}")
    where = f"{target.host}:{target.port}{via}"
    if refused:
        fix = (
            f"nothing listens on {where}: check the port in the endpoint "
            f"(IoTDA's HTTPS port is 443); for a local platform, is `iotunnel platform` "
            f"running, and on this port?"
        )
    else:
        fix = (
            f"{where} cannot be reached: a firewall or a missing route; from a jump host or "
            f"a site network, ask for outbound TCP to {target.host}:{target.port} "
            f"(or set HTTPS_PROXY to the proxy you must use)"
        )
    return step("tcp", FAIL, "; ".join(problems) or f"cannot connect to {where}", fix)


def ssl_context(verify: bool | str) -> ssl.SSLContext:
    """The context httpx itself would build for this `verify` (certifi, or a CA file)."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context()


_CERT_HELP = {
    10: "the certificate has expired (or this machine's clock is wrong: compare `date -u`)",
    9: "the certificate is not valid yet (or this machine's clock is wrong: `date -u`)",
    18: "the certificate is self-signed",
    19: "the chain ends in a self-signed CA this machine does not trust",
    20: "the certificate is signed by a CA this machine does not trust",
    21: "the certificate is signed by a CA this machine does not trust",
    62: "the certificate does not name this host",
    64: "the certificate does not name this host",
}


async def check_tls(endpoint: str, target: Target, verify: bool | str, timeout: float) -> Step:
    host = httpx.URL(endpoint).host
    if not target.https:
        return step(
            "tls",
            NOT_APPLICABLE,
            "plain http: fine for a local platform on loopback; the real cloud needs https://",
        )
    if target.proxy:
        return Step(
            "tls", "TLS", NOT_APPLICABLE, f"through the proxy {target.proxy}: checked by the API"
        )
    if verify is False:
        return step("tls", NOT_APPLICABLE, "certificate checking is turned off")
    try:
        context = ssl_context(verify)
    except (OSError, ssl.SSLError) as exc:
        return step(
            "tls",
            FAIL,
            f"cannot load the CA file {verify}: {exc}",
            "point ca_file (or --ca-file) at a readable PEM file of CA certificates",
        )
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(target.host, target.port, ssl=context, server_hostname=host),
            timeout,
        )
    except ssl.SSLCertVerificationError as exc:
        return _certificate_failure(host, verify, exc)
    except (ssl.SSLError, ConnectionError) as exc:
        return step(
            "tls",
            FAIL,
            f"TLS handshake with {host} failed: {getattr(exc, 'reason', None) or exc}",
            "the port may not speak TLS (should the endpoint be http://?), or a proxy or "
            "firewall breaks TLS on the way; try `openssl s_client -connect "
            f"{host}:{target.port}`",
        )
    except (TimeoutError, OSError) as exc:
        why = "no handshake in time" if isinstance(exc, TimeoutError) else str(exc)
        return step(
            "tls",
            FAIL,
            f"TLS to {host}: {why}",
            "retry; if it persists, a middlebox holds the connection: try from another network",
        )
    tls = writer.get_extra_info("ssl_object")
    cert = writer.get_extra_info("peercert") or {}
    writer.close()
    version = tls.version() if tls is not None else "TLS"
    issuer = _name(cert.get("issuer"))
    until = cert.get("notAfter", "?")
    trust = f"trusted via {verify}" if isinstance(verify, str) else "trusted by the system CAs"
    return Step(
        "tls", "TLS", OK, f"{version}, certificate for {host} from {issuer} until {until}, {trust}"
    )


def _name(rdns: Any) -> str:
    for rdn in rdns or ():
        for key, value in rdn:
            if key in ("organizationName", "commonName"):
                return str(value)
    return "an unnamed issuer"


def _certificate_failure(host: str, verify: bool | str, exc: ssl.SSLCertVerificationError) -> Step:
    code = exc.verify_code
    what = _CERT_HELP.get(code, exc.verify_message or "the certificate was refused")
    detail = f"certificate of {host} refused: {what} ({exc.verify_message})"
    if code in (62, 64):
        fix = (
            f"use the host name the certificate was issued for (the endpoint as the IoTDA "
            f"console shows it), not an IP address or an alias of {host}"
        )
    elif code in (9, 10):
        fix = "set this machine's clock (NTP: `timedatectl set-ntp true`), or renew the certificate"
    elif isinstance(verify, str):
        fix = (
            f"the CA file {verify} did not sign this certificate: point ca_file at the CA "
            f"that did (`iotunnel platform --tls-self-signed DIR` prints its path)"
        )
    else:
        fix = (
            "for your own platform, set ca_file in the profile (or --ca-file) to its CA "
            "(`iotunnel platform --tls-self-signed DIR` prints the path); for the real cloud "
            "a TLS-inspecting proxy is in the way or this machine's CA bundle is old "
            "(update ca-certificates / certifi); never turn checking off for the cloud"
        )
    return step("tls", FAIL, detail, fix)

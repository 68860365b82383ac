"""Which webhook URLs a subscription may have: http(s) URLs a delivery can actually be sent to.

Checked when a subscription is made (422 naming ``url``, nothing written), so that no stored URL makes
every attempt fail the same way: a port out of range, a host with a blank, credentials that are never sent.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from workflow.errors import EventRefused

_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$")


def _host_ok(host: str) -> bool:
    """A DNS name (an internationalised one as its IDNA form) or an IP address literal."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return bool(_HOST.match(ascii_host.lower()))


def check_url(url: str) -> str:
    """An http(s) URL a delivery can be sent to, or 422 naming ``url``: checked here, at subscription, so a
    URL that can never be sent (a port out of range, a host with a space) is refused before it is stored."""
    refused = EventRefused(["invalid_data"], {"url": f"{url!r} is not an http(s) URL"})
    if any(c.isspace() or not c.isprintable() for c in url):
        raise refused
    parts = urlsplit(url)
    try:
        port = parts.port  # "Port out of range" or a port that is not a number: ValueError
    except ValueError:
        raise refused from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not _host_ok(parts.hostname) or port == 0:
        raise refused
    if parts.username is not None or parts.password is not None:  # never sent (no Basic auth), and listed
        why = "a user or password in the URL is never sent (a receiver checks the signature)"
        raise EventRefused(["invalid_data"], {"url": why})
    return url

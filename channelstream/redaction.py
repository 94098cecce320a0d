"""Secrets out of log lines: 0.7 accepted the API signature in ``?secret=``.

A request line, URL or query reaches the logs in several places (the access log, the HTTP
server's messages about malformed requests, our error logs), and an attacker or a careless
backend controls its spelling. So the name is matched whatever its case and whether its letters or
its ``=`` are percent-encoded (once or twice: ``secret%3D``, ``%73ecret=``, ``SECRET%253D``),
with anything between the name and the ``=`` (``client_secret=``). The value is masked up to
the next separator, so an encoded ``&`` inside it (``%26``) cannot leave a tail behind, and
past spaces (a malformed request line), so no part of it is logged.
"""

from __future__ import annotations

import re


def _spelled(word: str) -> str:
    """A pattern for `word` in any case, any of its letters percent-encoded, once or twice."""
    return "".join(
        f"(?:{char}|%(?:25)?(?:{ord(char.lower()):02x}|{ord(char.upper()):02x}))" for char in word
    )


_SECRET_VALUE = re.compile(
    "(" + _spelled("secret") + r"[\w.\-%]*?(?:=|%(?:25)?3d))"
    # A malformed request line may hold spaces: the value runs on to " HTTP/" or a quote.
    r"(?:(?!\s+HTTP/)[^&;\"'<>\r\n])*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with the value of every ``secret`` parameter replaced by ``***``."""
    if "=" not in text and "%" not in text:
        return text
    return _SECRET_VALUE.sub(r"\1***", text)

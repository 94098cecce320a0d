"""The test vectors of docs/signing.md, read from the page itself (so the page and the
code cannot drift apart): the server's tests and the client's both check them."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "signing.md"

# (secret, method, target, body, t, header)
Vector = tuple[str, str, str, bytes, int, str]


def documented_vectors() -> list[Vector]:
    text = DOC.read_text()
    secret = re.search(r"\| secret \| `([^`]+)` \|", text)
    stamp = re.search(r"\| t \| `(\d+)`", text)
    body = re.search(r"\| body \| `([^`]+)`", text)
    headers = re.findall(r"^x-channelstream-signature: (t=\d+,v1=[0-9a-f]{64})$", text, re.M)
    assert secret and stamp and body and len(headers) == 2, "docs/signing.md changed shape"
    t = int(stamp.group(1))
    return [
        (secret.group(1), "POST", "/message", body.group(1).encode(), t, headers[0]),
        (secret.group(1), "GET", "/info?channel=lobby", b"", t, headers[1]),
    ]

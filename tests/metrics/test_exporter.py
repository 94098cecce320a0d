"""/metrics in this process: who may read it, in what format."""

from __future__ import annotations

from tests.support.metrics import OUTSIDE, app_samples
from tests.support.webapp import App


def test_an_allowed_address_reads_them_and_others_need_a_signature(app: App) -> None:
    assert app_samples(app).value("channelstream_engine_up") == 1
    refused = app.get("/metrics", extra_environ=OUTSIDE, status=403)
    assert refused.json == {"request": "Address 127.0.0.2 may not read the metrics unsigned"}
    signed = app_samples(app, extra_environ=OUTSIDE, headers=app.signed())
    assert signed.value("channelstream_engine_up") == 1
    wrong = {"x-channelstream-secret": "not.a.signature"}
    app.get("/metrics", extra_environ=OUTSIDE, headers=wrong, status=401)


def test_each_scrape_copies_the_node_s_figures_afresh(app: App) -> None:
    before = app_samples(app).value("channelstream_messages_published_total")
    app.runtime.state.hub.published += 3
    after = app_samples(app).value("channelstream_messages_published_total")
    assert after - before == 3

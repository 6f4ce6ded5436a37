"""The desk page in a real headless Chromium, against the real API and engines: signing in (and being
refused, and a saved key kept while the API restarts), an alert arriving over the live feed without
a reload, acknowledging it, what a viewer may not do, the wall screen, the language switch; and the
screenshots in docs/images."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.async_api import Page, Route, expect

from tests.browser.conftest import Desk
from tests.browser.scenes import DEBATE, EVENING, FOOD_CARD_LEAK, HOAX_WAVE, Story, publish

# The engines answer within a second or two, but this machine may be busy: wait generously.
WAIT_MS = 20_000
HOSTILE_TEXT = "<img src=x onerror=\"document.title='pwned'\"> #DataBocor <b>bold</b>"


async def sign_in(page: Page, desk: Desk, key: str) -> None:
    await page.goto(desk.url)
    await page.fill("#key", key)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#desk")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=WAIT_MS)


async def test_the_page_is_served_without_a_key_and_a_bad_key_is_refused(page: Page, desk: Desk) -> None:
    response = await page.goto(desk.url)
    assert response is not None and response.status == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    await expect(page.locator("#login-form")).to_be_visible()
    for bad_key in ("pk_000000000000_" + "A" * 43, "not a key at all"):
        await page.fill("#key", bad_key)
        await page.click("#login-form button[type=submit]")
        await expect(page.locator("#login-error")).to_have_text(re.compile("API key was refused"))
        await expect(page.locator("#desk")).to_be_hidden()
        assert await page.evaluate("sessionStorage.getItem('pantau.key')") is None
    # The data routes still want a key: only the page and its files are open.
    async with httpx.AsyncClient(base_url=desk.url) as anonymous:
        assert (await anonymous.get("static/js/desk.js")).status_code == 200
        assert (await anonymous.get("me")).status_code == 401
        assert (await anonymous.get("summary/emerging")).status_code == 401


async def test_a_saved_key_outlives_the_api_restarting_and_only_a_refusal_forgets_it(
    page: Page, desk: Desk
) -> None:
    await sign_in(page, desk, desk.viewer_key)
    await page.goto(desk.url + "#wall")
    checked: list[str] = []

    async def api_restarting(route: Route) -> None:
        """GET me while the API comes back: first its key store is down, then nothing listens."""
        checked.append(route.request.url)
        if len(checked) == 1:
            await route.fulfill(status=503, json={"detail": "the API key store is unavailable"})
        elif len(checked) == 2:
            await route.abort("connectionrefused")
        else:
            await route.continue_()

    await page.route("**/me", api_restarting)
    await page.reload()  # the wall screen reloads, as it would after a power cut
    await expect(page.locator("#login-error")).to_contain_text("Trying again with the saved key")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "down")
    assert await page.evaluate("sessionStorage.getItem('pantau.key')") == desk.viewer_key
    # Back without anyone typing the key again: signed in, on the wall, the feed live.
    await expect(page.locator("body")).to_have_class(re.compile("wall-mode"), timeout=WAIT_MS)
    await expect(page.locator("#login")).to_be_hidden()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    assert len(checked) == 3
    assert await page.evaluate("sessionStorage.getItem('pantau.key')") == desk.viewer_key

    # A key the API refuses is forgotten at once.
    await page.unroute("**/me")
    await page.evaluate("sessionStorage.setItem('pantau.key', 'pk_000000000000_' + 'A'.repeat(43))")
    await page.reload()
    await expect(page.locator("#login-error")).to_have_text(re.compile("no longer accepted"), timeout=WAIT_MS)
    await expect(page.locator("#wall")).to_be_hidden()
    assert await page.evaluate("sessionStorage.getItem('pantau.key')") is None


async def test_a_responder_sees_an_alert_arrive_live_and_acknowledges_it(page: Page, desk: Desk) -> None:
    await sign_in(page, desk, desk.responder_key)
    await expect(page.locator("#whoami")).to_have_text("ana · responder")
    await expect(page.locator("#rows-empty")).to_be_visible()
    await page.evaluate("window.sameDocument = true")  # gone if the page reloads

    story = Story(
        id="data-bocor",
        label=("#DataBocor", "kartu pangan"),
        posts=120,
        growth=7.5,
        targets=("raka-wibisana",),
        voices=(
            ("warga_1", HOSTILE_TEXT, "https://x.com/warga_1/status/1"),
            ("warga_2", "Tanpa tautan", "javascript:alert(1)"),
        ),
        amplifiers={"kabarcepat_id": 14, "warga_1": 3},
    )
    alert = await publish(desk.harness, story)

    row = page.locator(f'#rows li[data-id="{story.id}"]')
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await expect(row.locator(".badge.severity")).to_have_attribute("data-severity", alert.severity.value)
    await expect(row.locator(".badge.status")).to_have_attribute("data-status", "open")
    await row.locator("a").click()

    detail = page.locator("#detail")
    await expect(detail.locator(".issue-title")).to_have_text("#DataBocor · kartu pangan", timeout=WAIT_MS)
    await expect(detail.locator('svg.chart[data-source="timeline"] path.rate')).to_have_count(1)
    await expect(detail.locator(".amplifiers li").first).to_contain_text("kabarcepat_id")
    # Post text is text, never markup; only http(s) links become links.
    posts = detail.locator(".posts .post")
    await expect(posts).to_have_count(2)
    await expect(posts.first.locator(".post-text")).to_have_text(HOSTILE_TEXT)
    await expect(detail.locator(".posts img, .posts b:has-text('bold')")).to_have_count(0)
    await expect(posts.first.locator("a")).to_have_attribute("href", "https://x.com/warga_1/status/1")
    await expect(posts.nth(1).locator("a")).to_have_count(0)
    await expect(detail.locator('.history li[data-event="opened"]')).to_have_count(1)

    await detail.locator('button[data-action="ack"]').click()
    await expect(detail.locator(".badge.status")).to_have_attribute(
        "data-status", "acknowledged", timeout=WAIT_MS
    )
    await expect(detail.locator(".badge.status")).to_have_text("acknowledged")
    await expect(detail.locator('.history li[data-event="acknowledged"]')).to_contain_text("ana")
    await expect(detail.locator('button[data-action="ack"]')).to_have_count(0)
    await expect(row.locator(".badge.status")).to_have_attribute("data-status", "acknowledged")

    await detail.locator('form[data-action="comment"] textarea').fill("Klarifikasi siap 20:30")
    await detail.locator('form[data-action="comment"] button').click()
    await expect(detail.locator('.history li[data-event="commented"]')).to_contain_text(
        "Klarifikasi siap 20:30", timeout=WAIT_MS
    )
    assert await page.evaluate("window.sameDocument") is True
    assert await page.title() == "Pantau"

    headers = {"Authorization": f"Bearer {desk.viewer_key}"}
    async with httpx.AsyncClient(base_url=desk.url, headers=headers) as viewer:
        stored = (await viewer.get(f"alerts/{alert.id}")).json()
    assert (stored["alert"]["status"], stored["alert"]["acked_by"]) == ("acknowledged", "ana")
    assert [e["event"] for e in stored["events"]] == ["opened", "acknowledged", "commented"]


async def test_a_viewer_reads_the_issue_but_gets_no_actions(page: Page, desk: Desk) -> None:
    await publish(desk.harness, FOOD_CARD_LEAK)
    await publish(desk.harness, DEBATE, with_timeline=False)
    await sign_in(page, desk, desk.viewer_key)
    await expect(page.locator("#whoami")).to_have_text("budi · viewer")
    await page.locator(f'#rows li[data-id="{FOOD_CARD_LEAK.id}"] a').click()
    detail = page.locator("#detail")
    await expect(detail.locator(".readonly")).to_contain_text("responder role", timeout=WAIT_MS)
    await expect(detail.locator("button[data-action], form[data-action]")).to_have_count(0)
    await expect(detail.locator(".posts .post")).to_have_count(len(FOOD_CARD_LEAK.voices))

    # The chart is the issue's stored timeline: one point per bucket the API gives, empty ones too.
    headers = {"Authorization": f"Bearer {desk.viewer_key}"}
    async with httpx.AsyncClient(base_url=desk.url, headers=headers) as viewer:
        timeline = (await viewer.get(f"issues/{FOOD_CARD_LEAK.id}/timeline")).json()
    buckets = len(timeline["points"])
    assert 30 <= buckets <= 61 and sum(p["posts"] for p in timeline["points"]) == FOOD_CARD_LEAK.posts
    chart = detail.locator("svg.chart")
    await expect(chart).to_have_attribute("data-source", "timeline")
    await expect(chart).to_have_attribute("data-points", str(buckets))
    await expect(chart).to_have_attribute("data-bucket-seconds", str(timeline["bucket_seconds"]))
    await expect(chart.locator("circle.point")).to_have_count(buckets)
    caption = detail.locator("figure.rate figcaption")
    await expect(caption).to_contain_text("from its stored posts, in 1 min buckets")

    # An issue whose posts have not reached the warehouse yet: the chart falls back to its estimate.
    await page.locator(f'#rows li[data-id="{DEBATE.id}"] a').click()
    await expect(detail.locator(".issue-title")).to_have_text(" · ".join(DEBATE.label), timeout=WAIT_MS)
    await expect(detail.locator("svg.chart")).to_have_attribute("data-source", "estimate")
    await expect(caption).to_contain_text("estimated from its signals")


async def test_the_wall_screen_updates_by_itself_and_the_language_switches(
    page: Page, desk: Desk, screenshot_dir: Path
) -> None:
    alerts = [await publish(desk.harness, story) for story in EVENING]
    await sign_in(page, desk, desk.responder_key)
    rows = page.locator("#rows li")
    await expect(rows).to_have_count(len(EVENING), timeout=WAIT_MS)
    # Most severe first, then fastest growing.
    severities = ["info", "warning", "critical"]
    expected = sorted(
        zip(EVENING, alerts, strict=True),
        key=lambda pair: (severities.index(pair[1].severity), pair[0].growth),
        reverse=True,
    )
    assert [await row.get_attribute("data-id") for row in await rows.all()] == [s.id for s, _ in expected]

    await rows.first.locator("a").click()
    await expect(page.locator("#detail svg.chart")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#detail .posts .post").first).to_be_visible()
    await page.screenshot(path=screenshot_dir / "desk.png")

    await page.select_option("#language", "id")
    await expect(page.locator("#list-title")).to_have_text("Isu dan peringatan aktif")
    await expect(page.locator("#detail .numbers dt").first).to_have_text("unggahan")
    await page.select_option("#language", "en")
    await expect(page.locator("#list-title")).to_have_text("Live issues and alerts")

    await page.goto(desk.url + "#wall")  # a fresh load: the key is kept for the tab
    await expect(page.locator("body")).to_have_class(re.compile("wall-mode"), timeout=WAIT_MS)
    tiles = page.locator("#wall-rows li")
    await expect(tiles).to_have_count(len(EVENING), timeout=WAIT_MS)
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert sum(int(v) for v in re.findall(r"\d+", background)[:3]) < 3 * 60, background
    title_size = await tiles.first.locator(".title").evaluate(
        "el => parseFloat(getComputedStyle(el).fontSize)"
    )
    assert title_size >= 28

    await publish(desk.harness, HOAX_WAVE)
    await expect(tiles).to_have_count(len(EVENING) + 1, timeout=WAIT_MS)
    await expect(page.locator(f'#wall-rows li[data-id="{HOAX_WAVE.id}"]')).to_be_visible(timeout=WAIT_MS)
    await page.screenshot(path=screenshot_dir / "wall.png")

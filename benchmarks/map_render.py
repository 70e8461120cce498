"""The staff map in headless Chromium over a registry of 25,000 buildings: first render and
filter times, as ratios to a baseline measured in the same run, with the raw milliseconds.

A demo world with ``--buildings`` buildings (generated into a temporary folder, not committed,
no model trained: the map needs none) is served by ``tenantmatch serve``; Debian's chromium
opens ``#/map`` through Playwright. The page records, per render, the time from the start of
the work to ECharts' ``finished`` event (``window.tmMap``):

- ``empty``: a filter no building passes: the district outlines alone (the baseline);
- ``first``: a page load in a fresh browser context (empty cache) to the first full render:
  both fetches (points and outlines), JSON parsing, clustering, drawing (from the map view's
  start; ``first_since_navigation`` adds loading the page, its scripts and ECharts, from the
  navigation's start);
- ``first_cached``: the same page reloaded: the points are revalidated (304, ETag of the data
  version) and read from the browser's cache;
- ``theme``: the theme filter (finance) over the loaded points;
- ``city``: the city filter (太原市), which also zooms to the city;
- ``all``: clearing the filters: every building drawn again.

Each is repeated ``--repeat`` times (``all`` twice per repetition); the JSON holds every run,
medians and ratios to the median ``empty`` render. ``python -m benchmarks.map_render`` writes
``benchmarks/results/map_render_<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from benchmarks.run import machine
from tests.web.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    add_keys,
    build_world,
    start_server,
    stop_server,
)

RESULTS = Path(__file__).resolve().parent / "results"
TIMEOUT_MS = 120_000


def _render(page: Any, action: str) -> float:
    """Runs the JS ``action`` (a filter change) and waits for the render it starts; ms."""
    page.evaluate("window.tmMap.filterMs = null")
    page.evaluate(action)
    _wait_js(page, "window.tmMap.filterMs !== null")
    return float(page.evaluate("window.tmMap.filterMs"))


def _wait_js(page: Any, expression: str) -> None:
    """Until ``expression`` is true, polled with ``page.evaluate`` (``wait_for_function`` builds
    its predicate with ``new Function`` in the page, which the page's CSP refuses)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression} still false after {TIMEOUT_MS} ms")
        page.wait_for_timeout(10)


def _set(field: str, value: str) -> str:
    """JS that sets a filter field of the map and fires its change event."""
    return (f"(() => {{ const f = document.getElementById('{field}'); f.value = '{value}';"
            " f.dispatchEvent(new Event('change', {bubbles: true})); })()")  # fmt: skip


def _first_render(page: Any, base: str, key: str, *, reload: bool) -> tuple[float, float]:
    """(ms from the map view's start, ms from the navigation's start) to the first render:
    the page opened with a stored key, or (``reload``) reloaded with its cache kept."""
    if reload:
        page.reload()
    else:
        page.goto(f"{base}/#/stats")  # any view: the key is stored for the tab
        page.evaluate(f"sessionStorage.setItem('tenantmatch.apiKey', '{key}')")
        page.goto(f"{base}/#/map")
        page.reload()
    _wait_js(page, "window.tmMap && window.tmMap.firstRenderMs !== null")
    return float(page.evaluate("window.tmMap.firstRenderMs")), float(
        page.evaluate("window.tmMap.sinceNavigationMs")
    )


def measure(
    base: str, key: str, *, repeat: int, width: int, screenshot: Path | None = None
) -> dict[str, Any]:
    """Every render ``repeat`` times, each repetition in a fresh browser context (empty cache);
    raw ms per kind (and a screenshot of the first full render)."""
    from playwright.sync_api import sync_playwright

    kinds = ("empty", "first", "first_since_navigation", "first_cached",
             "first_cached_since_navigation", "theme", "city", "all")  # fmt: skip
    runs: dict[str, list[float]] = {k: [] for k in kinds}
    errors: list[str] = []
    shown = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for _ in range(repeat):
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            view, nav = _first_render(page, base, key, reload=False)
            runs["first"].append(view)
            runs["first_since_navigation"].append(nav)
            shown = int(page.evaluate("window.tmMap.shown"))
            if screenshot is not None and len(runs["first"]) == 1:
                page.screenshot(path=str(screenshot))
            view, nav = _first_render(page, base, key, reload=True)
            runs["first_cached"].append(view)
            runs["first_cached_since_navigation"].append(nav)
            runs["empty"].append(_render(page, _set("f-vacant", "100000000")))
            assert page.evaluate("window.tmMap.shown") == 0
            runs["all"].append(_render(page, _set("f-vacant", "")))
            runs["theme"].append(_render(page, _set("f-theme", "finance")))
            runs["city"].append(_render(page, _set("f-theme", "") + ";" + _set("f-city", "太原市")))
            runs["all"].append(_render(page, "document.getElementById('f-reset').click()"))
            context.close()
        browser.close()
    assert not errors, errors
    return {"runs_ms": runs, "shown": shown}


def summarise(runs: dict[str, list[float]]) -> dict[str, Any]:
    medians = {k: round(statistics.median(v), 1) for k, v in runs.items()}
    base = medians["empty"]
    ratios = {k: round(v / base, 2) for k, v in medians.items() if k != "empty"}
    return {"median_ms": medians, "ratio_to_empty": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=25_000)
    parser.add_argument("--enterprises", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--width", type=int, default=1280, help="Browser viewport width (px).")
    parser.add_argument("--out", type=Path, default=RESULTS / f"map_render_{date.today()}.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        db = build_world(root, enterprises=args.enterprises, buildings=args.buildings, train=False)
        world_s = time.perf_counter() - started
        server = start_server(db, root / "store", root / "server.log", ready_path="/healthz")
        try:
            add_keys(server)
            key = server.keys["viewer"]
            payload = httpx.get(
                f"{server.base}/v1/map/buildings", headers={"X-API-Key": key}, timeout=120
            )
            payload.raise_for_status()
            outlines = httpx.get(f"{server.base}/v1/map/outlines", timeout=120)
            shot = RESULTS / "screenshots" / f"map_{args.buildings}.png"
            result = measure(
                server.base, key, repeat=args.repeat, width=args.width, screenshot=shot
            )
        finally:
            stop_server(server.process)
    assert result["shown"] == args.buildings, result["shown"]
    out = {
        "benchmark": "map_render",
        "date": date.today().isoformat(),
        "buildings": args.buildings,
        "viewport_width_px": args.width,
        "repeat": args.repeat,
        "points_payload_bytes": len(payload.content),
        "outlines_payload_bytes": len(outlines.content),
        "world_generation_s": round(world_s, 1),
        **summarise(result["runs_ms"]),
        "runs_ms": {k: [round(x, 1) for x in v] for k, v in result["runs_ms"].items()},
        "chromium": str(CHROMIUM),
        "machine": machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: out[k] for k in ("median_ms", "ratio_to_empty", "points_payload_bytes")},
                     ensure_ascii=False))  # fmt: skip


if __name__ == "__main__":
    main()

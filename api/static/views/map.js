// #/map: every building at its coordinates on the offline district outlines, coloured by theme,
// sized by vacant area, filtered in the browser (25,000 points: ECharts large-mode scatter, one
// series per theme and size class). A list of the filtered buildings gives keyboard users the
// same way in as a click on the map.
import {
  GRADES, THEMES, THEME_COLORS, api, buildingLink, el, fmt, input, qs, section, select, table, zh,
} from "../lib.js";

// buildings closer than this on screen are drawn as one symbol, re-clustered on zoom
const CLUSTER_PX = 26;
const LIST_ROWS = 20;

const cache = { outlines: null, points: null };
const filters = { city: "", district: "", theme: "", grade: "", min_vacant: "" };
let chart = null;
window.addEventListener("resize", () => {
  if (chart && !chart.isDisposed() && chart.getDom().isConnected) chart.resize();
});
// read by benchmarks/map_render.py and the browser tests
// (firstRenderMs: from the view's start; sinceNavigationMs: from the page's navigation start)
window.tmMap = { firstRenderMs: null, sinceNavigationMs: null, filterMs: null, shown: 0, total: 0 };

export async function renderMap(main, _arg, current, params = new URLSearchParams()) {
  const started = performance.now();
  for (const k of Object.keys(filters)) if (params.has(k)) filters[k] = params.get(k);
  history.replaceState(null, "", `#/map${qs(filters)}`); // the filters kept from before, shown
  const [outlines, points] = await Promise.all([
    cache.outlines || fetch("/v1/map/outlines").then((r) => r.json()),
    api("/v1/map/buildings"),
  ]);
  cache.outlines = outlines;
  cache.points = points;
  if (!current()) return;
  const b = points.buildings;
  const cities = [...new Set(b.city)].sort((x, y) => x.localeCompare(y, "zh-CN"));

  const count = el("p", { id: "map-count", role: "status", "aria-live": "polite" });
  const form = el("form", { id: "map-filters", class: "filters", onsubmit: (ev) => ev.preventDefault() },
    select("f-city", "城市", cities.map((c) => [c, c]), { value: filters.city }),
    select("f-district", "区县", districtOptions(b, filters.city), { value: filters.district }),
    select("f-theme", "主题", THEMES.map((t) => [t, zh(t)]), { value: filters.theme }),
    select("f-grade", "等级", GRADES.map((g) => [g, zh(g)]), { value: filters.grade }),
    input("f-vacant", "最小空置 ㎡", { type: "number", min: "0", step: "100", value: filters.min_vacant, inputmode: "numeric" }),
    el("button", { type: "button", id: "f-reset" }, "清除筛选"));
  const mapBox = el("div", { id: "map", class: "map", role: "img", "aria-label": "山西省楼宇分布图：点的颜色表示主题，大小表示空置面积；下方列表可用键盘打开楼宇" });
  const list = el("div", { id: "map-list" });
  const search = searchBox();
  main.replaceChildren(
    el("h2", { class: "view-title" }, "楼宇经济数字地图"),
    form, count,
    el("div", { class: "map-layout" },
      el("div", {}, mapBox, legend()),
      section(`空置面积最大的楼宇（前 ${LIST_ROWS} 栋）`, "map-top", list)),
    search);

  const field = (name) => form.querySelector(`#f-${name}`);
  const setDistricts = () => field("district").replaceChildren(el("option", { value: "" }, "全部"),
    districtOptions(b, field("city").value).map(([v, t]) => el("option", { value: v }, t)));
  const refilter = () => {
    filters.city = field("city").value;
    filters.district = field("district").value;
    filters.theme = field("theme").value;
    filters.grade = field("grade").value;
    filters.min_vacant = field("vacant").value;
    history.replaceState(null, "", `#/map${qs(filters)}`); // the filtered map is linkable
    apply(points, outlines, { count, list, timing: "filterMs" });
  };
  form.addEventListener("change", (ev) => {
    if (ev.target.id === "f-city") setDistricts();
    refilter();
  });
  field("reset").addEventListener("click", () => {
    for (const name of ["city", "theme", "grade", "vacant"]) field(name).value = "";
    setDistricts();
    refilter();
  });

  if (chart) chart.dispose();
  chart = window.echarts.init(mapBox, null, { renderer: "canvas" });
  window.echarts.registerMap("shanxi", outlines);
  chart.on("click", (p) => {
    if (p.seriesId !== "buildings" || !Array.isArray(p.value)) return;
    const [lon, lat, , , n, i] = p.value;
    if (n === 1) { location.hash = `#/building/${encodeURIComponent(b.id[i])}`; return; }
    const zoom = chart.getOption().geo[0].zoom;
    chart.setOption({ geo: { center: [lon, lat], zoom: Math.min(400, zoom * 4) } });
    recluster();
  });
  let pending = 0;
  chart.on("georoam", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(recluster);
  });
  apply(points, outlines, { count, list, timing: "firstRenderMs", started });
}

function districtOptions(b, city) {
  if (!city) return [];
  const seen = new Set();
  b.district.forEach((d, i) => { if (b.city[i] === city) seen.add(d); });
  return [...seen].sort((x, y) => x.localeCompare(y, "zh-CN")).map((d) => [d, d]);
}

function keep(b, i, theme, grade, minVacant) {
  return (!filters.city || b.city[i] === filters.city)
    && (!filters.district || b.district[i] === filters.district)
    && (theme < 0 || b.theme[i] === theme)
    && (grade < 0 || b.grade[i] === grade)
    && b.vacant_m2[i] >= minVacant
    && b.lon[i] !== null && b.lat[i] !== null;
}

/** Symbol diameter (px) for a vacant area (m²): 4 px for none, growing with its logarithm. */
function symbolPx(vacant) { return Math.min(40, 4 + 6 * Math.log10(1 + vacant / 1000)); }

let view = null; // what the map shows now: { points, shown } (kept for re-clustering on zoom)

function apply(points, outlines, { count, list, timing, started }) {
  const t0 = started ?? performance.now();
  const b = points.buildings;
  const theme = filters.theme ? points.themes.indexOf(filters.theme) : -1;
  const grade = filters.grade ? points.grades.indexOf(filters.grade) : -1;
  const minVacant = Number(filters.min_vacant) || 0;
  const shown = [];
  let vacant = 0;
  for (let i = 0; i < b.id.length; i++) {
    if (!keep(b, i, theme, grade, minVacant)) continue;
    shown.push(i);
    vacant += b.vacant_m2[i];
  }
  count.textContent = `显示 ${fmt(shown.length)} / ${fmt(points.total)} 栋楼宇，空置合计 ${fmt(vacant)} ㎡`;
  window.tmMap.shown = shown.length;
  window.tmMap.total = points.total;
  view = { points, shown };
  chart.off("finished");
  chart.on("finished", () => {
    chart.off("finished");
    window.tmMap[timing] = performance.now() - t0;
    if (timing === "firstRenderMs") window.tmMap.sinceNavigationMs = performance.now();
  });
  // the outlines first (the clusters need the map's scale), then the buildings
  chart.setOption(option(points, outlines, shown), { notMerge: true });
  chart.setOption({ series: [{ id: "buildings", data: clusters(points, shown) }] });
  renderList(list, b, shown);
}

/**
 * Buildings closer than CLUSTER_PX on screen as one symbol: [lon, lat, size px, theme index,
 * count, building index or -1, vacant m², theme counts]. A cluster sits at its members' mean
 * position, takes their most frequent theme's colour and the size of their summed vacancy.
 */
function clusters(points, shown) {
  const b = points.buildings;
  const a = chart.convertToPixel({ geoIndex: 0 }, [112, 37]);
  const c = chart.convertToPixel({ geoIndex: 0 }, [113, 38]);
  const cellLon = CLUSTER_PX / Math.max(1e-9, Math.abs(c[0] - a[0]));
  const cellLat = CLUSTER_PX / Math.max(1e-9, Math.abs(c[1] - a[1]));
  const cells = new Map();
  for (const i of shown) {
    const key = `${Math.floor(b.lon[i] / cellLon)},${Math.floor(b.lat[i] / cellLat)}`;
    let cell = cells.get(key);
    if (!cell) { cell = { n: 0, lon: 0, lat: 0, vacant: 0, first: i, themes: new Array(points.themes.length).fill(0) }; cells.set(key, cell); }
    cell.n += 1; cell.lon += b.lon[i]; cell.lat += b.lat[i]; cell.vacant += b.vacant_m2[i];
    cell.themes[b.theme[i]] += 1;
  }
  const out = [];
  for (const cell of cells.values()) {
    const top = cell.themes.indexOf(Math.max(...cell.themes));
    out.push([cell.lon / cell.n, cell.lat / cell.n, symbolPx(cell.vacant), top, cell.n,
      cell.n === 1 ? cell.first : -1, cell.vacant, cell.themes]);
  }
  return out.sort((x, y) => y[2] - x[2]); // small symbols drawn last, on top
}

function recluster() {
  if (!view || !chart || chart.isDisposed()) return;
  chart.setOption({ series: [{ id: "buildings", data: clusters(view.points, view.shown) }] });
}

function option(points, outlines, shown) {
  const b = points.buildings;
  const place = focus(b, shown);
  return {
    animation: false,
    tooltip: { trigger: "item", formatter: (p) => tooltip(points, p) },
    geo: {
      map: "shanxi", roam: true, center: place.center, zoom: place.zoom, aspectScale: 0.8,
      scaleLimit: { min: 0.8, max: 400 },
      itemStyle: { areaColor: "#eef2f7", borderColor: "#aab6c5", borderWidth: 0.6 },
      emphasis: { itemStyle: { areaColor: "#dde6f0" }, label: { show: true, color: "#1d2a3a" } },
      select: { disabled: true },
      label: { show: false },
    },
    series: [
      {
        id: "city-borders", type: "lines", coordinateSystem: "geo", silent: true, polyline: false,
        data: outlines.city_borders.map((coords) => ({ coords })),
        lineStyle: { color: "#5b6b80", width: 1.2, opacity: 0.9 }, z: 1,
      },
      {
        id: "buildings", type: "scatter", coordinateSystem: "geo", geoIndex: 0, data: [], z: 3,
        symbolSize: (v) => v[2],
        itemStyle: { color: (p) => THEME_COLORS[p.value[3] % THEME_COLORS.length], opacity: 0.85, borderColor: "#fff", borderWidth: 0.6 },
        label: { show: true, formatter: (p) => (p.value[4] > 1 && p.value[2] >= 16 ? fmt(p.value[4]) : ""), color: "#fff", textBorderColor: "rgba(0,0,0,0.8)", textBorderWidth: 2, fontSize: 10, fontWeight: "bold" },
        labelLayout: { hideOverlap: true },
        emphasis: { scale: 1.3 },
      },
      {
        id: "city-names", type: "scatter", coordinateSystem: "geo", silent: true, symbolSize: 0, z: 4,
        data: cityCenters(outlines),
        label: { show: true, formatter: "{b}", color: "#1d2a3a", fontSize: 12, fontWeight: "bold", textBorderColor: "#fff", textBorderWidth: 3, offset: [0, -14] },
      },
    ],
  };
}

function tooltip(points, p) {
  if (p.seriesId !== "buildings" || !Array.isArray(p.value)) return p.name ? escapeHtml(p.name) : "";
  const b = points.buildings;
  const [, , , , n, i, vacant, themes] = p.value;
  if (n === 1) {
    return `${escapeHtml(b.name[i])}<br>${escapeHtml(b.city[i])} ${escapeHtml(b.district[i])} · ${escapeHtml(zh(points.themes[b.theme[i]]))}`
      + `<br>空置 ${fmt(b.vacant_m2[i])} / ${fmt(b.total_m2[i])} ㎡<br>点击打开楼宇`;
  }
  const mix = themes.map((k, t) => [k, t]).filter(([k]) => k > 0).sort((x, y) => y[0] - x[0])
    .slice(0, 4).map(([k, t]) => `${escapeHtml(zh(points.themes[t]))} ${fmt(k)}`).join("、");
  return `${fmt(n)} 栋楼宇，空置 ${fmt(vacant)} ㎡<br>${mix}<br>点击放大`;
}

function focus(b, shown) {
  if (!(filters.city || filters.district) || !shown.length) return { center: undefined, zoom: 1.1 };
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const i of shown) {
    x0 = Math.min(x0, b.lon[i]); x1 = Math.max(x1, b.lon[i]);
    y0 = Math.min(y0, b.lat[i]); y1 = Math.max(y1, b.lat[i]);
  }
  const span = Math.max(x1 - x0, y1 - y0, 0.05);
  return { center: [(x0 + x1) / 2, (y0 + y1) / 2], zoom: Math.min(30, Math.max(1.1, 4 / span)) };
}

function cityCenters(outlines) {
  const sums = {};
  for (const f of outlines.features) {
    const s = (sums[f.properties.city] ||= [0, 0, 0]);
    s[0] += f.properties.center[0]; s[1] += f.properties.center[1]; s[2] += 1;
  }
  return Object.entries(sums).map(([name, [x, y, n]]) => ({ name, value: [x / n, y / n] }));
}

function renderList(list, b, shown) {
  const top = [...shown].sort((x, y) => b.vacant_m2[y] - b.vacant_m2[x]).slice(0, LIST_ROWS);
  list.replaceChildren(table(["楼宇", "区县", "主题", "空置 ㎡"],
    top.map((i) => [buildingLink(b.id[i], b.name[i]), b.district[i], zh(themeOf(b, i)), fmt(b.vacant_m2[i])]),
    { caption: "按空置面积排序", numeric: [3], empty: "没有符合条件的楼宇" }));
}

function themeOf(b, i) { return (cache.points && cache.points.themes[b.theme[i]]) || ""; }

function legend() {
  return el("div", { class: "legend", "aria-label": "图例" },
    el("ul", { class: "swatches" }, THEMES.map((t, i) =>
      el("li", {}, el("span", { class: "swatch", style: `background:${THEME_COLORS[i]}`, "aria-hidden": "true" }), zh(t)))),
    el("p", { class: "muted" }, "圆点大小表示空置面积（对数刻度）；相距很近的楼宇合并为一个圆点，颜色为其中最多的主题，数字为楼宇数，点击放大。区县边界为根据区县中心点生成的示意边界。"));
}

function searchBox() {
  const out = el("div", { id: "search-out" });
  const form = el("form", { class: "filters", role: "search" },
    input("b-search", "按名称或编号查找楼宇", { type: "search", placeholder: "例如：大厦 或 B0001" }),
    el("button", { type: "submit" }, "查找"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = form.querySelector("#b-search").value.trim();
    try {
      const page = await api(`/v1/buildings${qs({ q, limit: 20 })}`);
      out.replaceChildren(el("p", { class: "muted" }, `共 ${fmt(page.total)} 栋匹配`),
        table(["楼宇", "城市 / 区县", "主题", "空置 ㎡"], page.items.map((it) =>
          [buildingLink(it.building_id, it.name), `${it.city} ${it.district}`, it.theme_zh, fmt(it.vacant_area_m2)]),
        { numeric: [3], empty: "没有匹配的楼宇" }));
    } catch (err) { out.replaceChildren(el("p", { class: "error", role: "alert" }, err.message)); }
  });
  return section("查找楼宇", "map-search", form, out);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

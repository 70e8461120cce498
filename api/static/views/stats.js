// #/stats: occupancy and vacancy by city, district and theme; industry mix; moves per month;
// stale records; the attraction funnel per city and operator; the 12-month outlook; the tax note.
import { THEMES, api, el, fill, fmt, pct, qs, section, select, table, zh } from "../lib.js";

const filters = { city: "", theme: "" };
let cities = [];

export async function renderStats(main, _arg, current) {
  const stats = await api(`/v1/stats${qs(filters)}`);
  if (!current()) return;
  if (!filters.city && !filters.theme) cities = stats.by_city.map((c) => c.city);
  const form = el("form", { class: "filters", id: "stats-filters" },
    select("s-city", "城市", cities.map((c) => [c, c]), { value: filters.city }),
    select("s-theme", "主题", THEMES.map((t) => [t, zh(t)]), { value: filters.theme }));
  form.addEventListener("change", () => {
    filters.city = form.querySelector("#s-city").value;
    filters.theme = form.querySelector("#s-theme").value;
    renderStats(main, _arg, current);
  });
  const outlook = el("div");
  const t = stats.totals;
  main.replaceChildren(
    el("h2", { class: "view-title" }, `统计（截至 ${stats.as_of}）`), form,
    el("ul", { class: "kpis", "aria-label": "总体指标" },
      kpi("楼宇", `${fmt(t.buildings)} 栋`), kpi("总面积", `${fmt(t.total_m2)} ㎡`), kpi("空置面积", `${fmt(t.vacant_m2)} ㎡`),
      kpi("出租率", pct(t.occupancy_rate)), kpi("在租企业", `${fmt(t.tenants)} 家`)),
    section("分城市出租与空置", "s-city-sec", chartBox("s-city-chart", "各城市出租率柱状图，数据见下表"), occupancyTable(stats.by_city, "城市", (r) => r.city)),
    section("分主题出租与空置", "s-theme-sec", occupancyTable(stats.by_theme, "主题", (r) => r.theme_zh || zh(r.theme))),
    section("分区县出租与空置", "s-district-sec", el("details", {}, el("summary", {}, `展开 ${stats.by_district.length} 个区县`),
      occupancyTable(stats.by_district, "区县", (r) => `${r.city} ${r.district}`))),
    section("在租企业行业构成", "s-industry", industryTable(stats.industry_mix)),
    section("每月迁入与迁出", "s-moves", chartBox("s-moves-chart", "每月迁入迁出柱状图，数据见下表"), movesTable(stats.moves)),
    section("待更新的台账", "s-stale", el("p", {}, `超过 ${stats.stale.stale_days} 天未更新：楼宇 ${fmt(stats.stale.buildings)} 栋，企业 ${fmt(stats.stale.enterprises)} 家。`)),
    section("招商漏斗（接洽 → 签约）", "s-funnel", funnel(stats.funnel)),
    section("未来 12 个月预期迁出与空置", "s-outlook", outlook),
    section("税收（亿元楼）", "s-tax", el("p", { class: stats.tax.available ? "" : "note" }, stats.tax.note_zh)),
  );
  drawCharts(stats);
  await fill(outlook, () => outlookBlock());
}

function kpi(label, value) { return el("li", {}, el("span", { class: "kpi-label" }, label), el("strong", {}, value)); }
function chartBox(id, label) { return el("div", { class: "chart", id, role: "img", "aria-label": label }); }

function occupancyTable(rows, label, name) {
  return table([label, "楼宇", "总面积 ㎡", "空置 ㎡", "出租率", "在租企业"], rows.map((r) =>
    [name(r), fmt(r.buildings), fmt(r.total_m2), fmt(r.vacant_m2), pct(r.occupancy_rate), fmt(r.tenants)]),
  { numeric: [1, 2, 3, 4, 5] });
}

function industryTable(rows) {
  const top = rows.slice(0, 20);
  const max = Math.max(...top.map((r) => r.tenants), 1);
  return table(["行业", "门类", "在租企业", "租用面积 ㎡", ""], top.map((r) =>
    [`${r.label_zh}（${r.division}）`, r.section_zh || r.section || "–", fmt(r.tenants), fmt(r.area_m2),
      el("span", { class: "bar", style: `width:${Math.round((100 * r.tenants) / max)}%`, "aria-hidden": "true" })]),
  { caption: "前 20 个行业（按在租企业数）", numeric: [2, 3] });
}

function movesTable(rows) {
  return el("details", {}, el("summary", {}, "逐月数据表"),
    table(["月份", "迁入", "迁出", "迁入面积 ㎡", "迁出面积 ㎡"], [...rows].reverse().map((m) =>
      [m.month, m.moved_in, m.moved_out, fmt(m.in_m2), fmt(m.out_m2)]), { numeric: [1, 2, 3, 4] }));
}

function funnelRow(name, f) {
  return [name, fmt(f.contacted), fmt(f.visited), fmt(f.negotiating), fmt(f.signed), fmt(f.declined), pct(f.signed_rate)];
}

function funnel(f) {
  const head = ["", ...f.stages.filter((s) => s.stage !== "declined").map((s) => s.label_zh), "已婉拒", "签约率"];
  return [
    table(head, [funnelRow("全部", f.total)], { caption: "各阶段企业数（签约者也计入此前各阶段）", numeric: [1, 2, 3, 4, 5, 6] }),
    table(["城市", ...head.slice(1)], f.by_city.map((c) => funnelRow(c.city, c)), { caption: "分城市", numeric: [1, 2, 3, 4, 5, 6] }),
    table(["运营方", ...head.slice(1)], f.by_operator.map((o) => funnelRow(o.operator_id || "无运营方", o)), { caption: "分运营方", numeric: [1, 2, 3, 4, 5, 6] }),
  ];
}

async function outlookBlock() {
  const [districts, themes] = await Promise.all([
    api(`/v1/stats/outlook${qs({ by: "district", limit: 20, city: filters.city })}`),
    api(`/v1/stats/outlook${qs({ by: "theme", limit: 20, city: filters.city })}`),
  ]);
  const t = districts.totals;
  const rows = (items, name) => items.map((r) => [name(r), fmt(r.tenants), fmt(r.expected_move_outs, 1), fmt(r.expected_vacated_m2),
    pct(r.vacancy_rate), pct(r.expected_vacancy_rate_12m)]);
  const head = ["在租企业", "预期迁出（家）", "预期腾退 ㎡", "当前空置率", "12 个月后空置率"];
  return [
    el("p", {}, `预计 12 个月内迁出 ${fmt(t.expected_move_outs, 1)} 家、腾退 ${fmt(t.expected_vacated_m2)} ㎡；空置率由 ${pct(t.vacancy_rate)} 升至约 ${pct(t.expected_vacancy_rate_12m)}（未计新迁入）。`),
    table(["区县", ...head], rows(districts.items, (r) => `${r.city} ${r.district}`), { caption: "预期腾退面积最大的区县", numeric: [1, 2, 3, 4, 5] }),
    table(["主题", ...head], rows(themes.items, (r) => r.theme_zh || zh(r.theme)), { caption: "分主题", numeric: [1, 2, 3, 4, 5] }),
  ];
}

function drawCharts(stats) {
  if (!window.echarts) return;
  const cityBox = document.getElementById("s-city-chart");
  const moveBox = document.getElementById("s-moves-chart");
  const grid = { left: 56, right: 16, top: 28, bottom: 56 };
  window.echarts.init(cityBox).setOption({
    animation: false, grid, tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: stats.by_city.map((c) => c.city), axisLabel: { interval: 0, rotate: 40 } },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    series: [{ type: "bar", name: "出租率", color: "#0b5cad",
      data: stats.by_city.map((c) => (c.occupancy_rate === null ? null : Math.round(1000 * c.occupancy_rate) / 10)) }],
  });
  window.echarts.init(moveBox).setOption({
    animation: false, grid, tooltip: { trigger: "axis" }, legend: { top: 0 },
    xAxis: { type: "category", data: stats.moves.map((m) => m.month), axisLabel: { rotate: 40 } },
    yAxis: { type: "value" },
    series: [
      { type: "bar", name: "迁入", color: "#0072b2", data: stats.moves.map((m) => m.moved_in) },
      { type: "bar", name: "迁出", color: "#d55e00", data: stats.moves.map((m) => m.moved_out) },
    ],
  });
}

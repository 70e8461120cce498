// #/building/ID: the building's card, tenants and industries, occupancy over time, tenants at
// risk of leaving (稳商预警), the attraction pipeline with a form to record progress, the
// shortlist with filters and exports, chain leads and the fill plan.
import {
  STAGES, api, el, enterpriseLink, fill, fmt, industryZh, pct, qs, section, select, table, today, zh,
} from "../lib.js";
import {
  chainTable, exportButtons, loadChain, loadShortlist, planBlock, reasonsCell, shortlistFilters, shortlistTable,
} from "./shortlist.js";

const PARTS = [
  ["b-card", "概况"], ["b-tenants", "在租企业"], ["b-occupancy", "出租率变化"], ["b-risk", "稳商预警"],
  ["b-pipeline", "招商进展"], ["b-moves", "入驻登记"], ["b-shortlist", "推荐企业"], ["b-chain", "以商招商"], ["b-plan", "楼宇规划"],
];

export async function renderBuilding(main, id, current) {
  const b = await api(`/v1/buildings/${encodeURIComponent(id)}`);
  if (!current()) return;
  const path = `/v1/buildings/${encodeURIComponent(id)}`;
  const body = {
    tenants: el("div"), occupancy: el("div"), risk: el("div"), pipeline: el("div"), shortlist: el("div"), chain: el("div"), plan: el("div"),
  };
  let shortlistQuery = { k: 10 };
  const refreshShortlist = () => fill(body.shortlist, async () =>
    shortlistTable(await loadShortlist(id, shortlistQuery), b.vacant_area_m2, recordFor));
  const refreshChain = () => fill(body.chain, async () => chainTable(await loadChain(id, { k: shortlistQuery.k, include_risky: shortlistQuery.include_risky }), recordFor));
  const refreshPipeline = () => fill(body.pipeline, () => pipeline(path));

  const form = eventForm(id, async (saved) => {
    await Promise.all([refreshPipeline(), refreshShortlist(), refreshChain()]);
    return saved;
  });
  function recordFor(item) {
    form.querySelector("#ev-enterprise").value = item.enterprise_id;
    form.querySelector("#ev-stage").focus();
    form.scrollIntoView({ block: "center" });
  }
  const filters = shortlistFilters((query) => { shortlistQuery = query; refreshShortlist(); refreshChain(); });
  const planButton = el("button", { type: "button", id: "plan-run", onclick: () => fill(body.plan, async () => planBlock(await api(`${path}/plan`, { method: "POST", json: {} }))) }, "生成规划");

  main.replaceChildren(
    el("p", { class: "crumbs" }, el("a", { href: "#/map" }, "地图"), " › ", `${b.city} ${b.district}`),
    el("h2", { class: "view-title", id: "b-title" }, b.name),
    el("nav", { class: "toc", "aria-label": "本页目录" }, el("ul", {}, PARTS.map(([anchor, text]) =>
      el("li", {}, el("a", { href: `#/building/${encodeURIComponent(id)}`, "data-target": anchor, onclick: (ev) => { ev.preventDefault(); jump(anchor); } }, text))))),
    section("概况", "b-card", card(b)),
    section("在租企业", "b-tenants", body.tenants),
    section("出租率变化", "b-occupancy", body.occupancy),
    section("稳商预警：未来 12 个月可能迁出的在租企业", "b-risk", body.risk),
    section("招商进展", "b-pipeline", form, body.pipeline),
    section("入驻登记", "b-moves", el("p", { class: "muted" }, "签约企业入驻或在租企业迁出后在此登记，空置面积随之更新（本楼运营方或管理员）。"),
      moveForm(id, () => renderBuilding(main, id, current))),
    section("推荐企业", "b-shortlist", filters.form,
      exportButtons("导出推荐企业", `${path}/shortlist`, () => shortlistQuery, `推荐企业_${id}`), body.shortlist),
    section("以商招商", "b-chain",
      exportButtons("导出以商招商线索", `${path}/chain-leads`, () => ({ k: shortlistQuery.k }), `以商招商_${id}`), body.chain),
    section("楼宇规划", "b-plan", el("p", { class: "muted" }, "主题适配度与空置面积的填充方案（仅本楼运营方或管理员）。"),
      el("div", { class: "row" }, planButton, exportButtons("导出填充方案", `${path}/plan`, () => ({}), `楼宇规划_${id}`, { method: "POST", body: {} })),
      body.plan),
  );
  await Promise.all([
    fill(body.tenants, () => tenants(path)),
    fill(body.occupancy, () => occupancy(path)),
    fill(body.risk, () => atRisk(path)),
    refreshPipeline(), refreshShortlist(), refreshChain(),
  ]);
}

function jump(anchor) {
  const target = document.getElementById(anchor);
  target.scrollIntoView({ block: "start" });
  const heading = target.querySelector("h2");
  heading.setAttribute("tabindex", "-1");
  heading.focus({ preventScroll: true });
}

function card(b) {
  const vacancy = b.total_area_m2 > 0 ? b.vacant_area_m2 / b.total_area_m2 : null;
  const facts = [
    ["编号", b.building_id], ["位置", `${b.city} ${b.district}`], ["主题", b.theme_zh || zh(b.theme)],
    ["等级", b.grade ? zh(b.grade) : "未评级"], ["总面积", `${fmt(b.total_area_m2)} ㎡`],
    ["空置面积", `${fmt(b.vacant_area_m2)} ㎡（空置率 ${pct(vacancy)}）`],
    ["最小分割单元", b.min_unit_m2 ? `${fmt(b.min_unit_m2)} ㎡` : "–"],
    ["租金", b.rent_cny_m2_day ? `${fmt(b.rent_cny_m2_day, 2)} 元/㎡·天` : "–"],
    ["楼层", b.floors ? `${b.floors} 层` : "–"], ["建成年份", b.completed_year || "–"],
    ["智能化（5A）", b.smart_5a === null || b.smart_5a === undefined ? "–" : `${b.smart_5a} / 5`],
    ["配套", (b.amenities || []).map(zh).join("、") || "–"], ["运营方", b.operator_id || "–"],
    ["更新时间", `${String(b.updated_at).slice(0, 10)}${b.stale ? "（台账待更新）" : ""}`],
  ];
  return el("dl", { class: "facts" }, facts.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", { class: k === "更新时间" && b.stale ? "stale" : null }, v))));
}

async function tenants(path) {
  const page = await api(`${path}/tenants${qs({ limit: 200 })}`);
  const mix = {};
  for (const t of page.items) mix[t.industry_zh || industryZh(t.industry_code)] = (mix[t.industry_zh || industryZh(t.industry_code)] || 0) + 1;
  const chips = Object.entries(mix).sort((a, b) => b[1] - a[1]).map(([k, n]) => el("li", {}, `${k} ${n} 家`));
  return [
    el("p", {}, `在租企业 ${fmt(page.total)} 家，已登记租用面积 ${fmt(page.occupied_m2)} ㎡。`),
    chips.length ? el("ul", { class: "chips", "aria-label": "行业构成" }, chips) : null,
    table(["企业", "行业", "规模", "租用面积 ㎡", "入驻日期", "总部类型", "信用预警"], page.items.map((t) => [
      enterpriseLink(t.enterprise_id, t.name), t.industry_zh || industryZh(t.industry_code), `${fmt(t.employees)} 人`,
      fmt(t.area_m2), t.since, t.hq_type_zh || zh(t.hq_type) || "–",
      el("td", {}, (t.risk_flags || []).map((f) => el("span", { class: "warn" }, zh(f)))),
    ]), { caption: "当前租户（按面积排序）", numeric: [3], empty: "本楼暂无在租企业" }),
  ];
}

async function occupancy(path) {
  const r = await api(`${path}/occupancy${qs({ months: 36 })}`);
  const box = el("div", { class: "chart", role: "img", "aria-label": "出租率逐月变化折线图，数据见下方表格" });
  const last = r.months[r.months.length - 1];
  const details = el("details", {}, el("summary", {}, "逐月数据表"),
    table(["月份", "出租率", "已租 ㎡", "空置 ㎡", "租户数"], [...r.months].reverse().map((m) =>
      [m.month, pct(m.occupancy_rate), fmt(m.occupied_m2), fmt(m.vacant_m2), m.tenants]), { numeric: [1, 2, 3, 4] }));
  setTimeout(() => {
    if (!box.isConnected || !window.echarts) return;
    const chart = window.echarts.init(box);
    chart.setOption({
      animation: false, grid: { left: 48, right: 16, top: 24, bottom: 32 },
      tooltip: { trigger: "axis", valueFormatter: (v) => `${fmt(v, 1)}%` },
      xAxis: { type: "category", data: r.months.map((m) => m.month) },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: [{ type: "line", name: "出租率", showSymbol: false, color: "#0b5cad",
        data: r.months.map((m) => (m.occupancy_rate === null ? null : Math.round(1000 * m.occupancy_rate) / 10)) }],
    });
  }, 0);
  return [el("p", {}, last ? `${last.month} 出租率 ${pct(last.occupancy_rate)}，租户 ${last.tenants} 家。` : "暂无数据"), box, details];
}

async function atRisk(path) {
  const r = await api(`${path}/at-risk-tenants${qs({ k: 10 })}`);
  return [
    el("p", {}, `在租企业 ${fmt(r.tenants)} 家，预计未来 ${r.horizon_months} 个月迁出 ${fmt(r.expected_move_outs, 1)} 家（按模型估计的迁出概率求和）。`),
    table(["企业", "迁出概率", "租约预计到期", "在楼年限", "租用面积 ㎡", "主要原因"], r.items.map((t) => [
      enterpriseLink(t.enterprise_id, t.name), pct(t.probability), t.lease_end_estimate || "无法推断",
      `${fmt(t.tenure_years, 1)} 年`, fmt(t.area_m2), reasonsCell(t),
    ]), { caption: "迁出风险最高的租户", numeric: [1, 4], empty: "本楼暂无在租企业" }),
  ];
}

const PIPELINE_ROWS = 15;

async function pipeline(path) {
  // the counts per stage come from one small page per stage (its total), the table from the newest events
  const [page, ...perStage] = await Promise.all([
    api(`${path}/events${qs({ limit: 200 })}`),
    ...STAGES.map((stage) => api(`${path}/events${qs({ stage, limit: 1 })}`)),
  ]);
  const rows = (items) => items.map((e) => ({
    cls: e.stage === "declined" ? "declined-row" : "",
    cells: [e.date, enterpriseLink(e.enterprise_id, e.enterprise_name || e.enterprise_id), e.stage_zh || zh(e.stage)],
  }));
  const head = ["日期", "企业", "阶段"];
  const older = page.items.slice(PIPELINE_ROWS);
  return [
    el("ul", { class: "chips", "aria-label": "各阶段记录数" }, STAGES.map((s, i) => el("li", { class: `stage-${s}` }, `${zh(s)} ${fmt(perStage[i].total)}`))),
    table(head, rows(page.items.slice(0, PIPELINE_ROWS)), { caption: `招商记录（最新在前，共 ${fmt(page.total)} 条）`, empty: "暂无招商记录" }),
    older.length ? el("details", {}, el("summary", {}, `更早的 ${older.length} 条`), table(head, rows(older))) : null,
  ];
}

function moveForm(buildingId, onSaved) {
  const status = el("p", { role: "status", class: "muted", id: "mv-status" });
  const form = el("form", { class: "filters", id: "move-form" },
    el("label", { for: "mv-enterprise", class: "field" }, el("span", {}, "企业编号"),
      el("input", { id: "mv-enterprise", required: true, size: "20" })),
    el("label", { for: "mv-date", class: "field" }, el("span", {}, "日期"), el("input", { id: "mv-date", type: "date", value: today(), required: true })),
    el("label", { for: "mv-area", class: "field" }, el("span", {}, "面积 ㎡（入驻时可选）"),
      el("input", { id: "mv-area", type: "number", min: "1", step: "1", inputmode: "numeric", placeholder: "默认按企业规模估算" })),
    el("button", { type: "submit", value: "in" }, "登记入驻"),
    el("button", { type: "submit", value: "out", class: "secondary" }, "登记迁出"), status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = ev.submitter && ev.submitter.value === "out";
    const enterprise = form.querySelector("#mv-enterprise").value.trim();
    const day = form.querySelector("#mv-date").value;
    const area = form.querySelector("#mv-area").value;
    const json = out ? { enterprise_id: enterprise, building_id: buildingId, end_date: day }
      : { enterprise_id: enterprise, building_id: buildingId, start_date: day, ...(area ? { area_m2: Number(area) } : {}) };
    status.className = "muted";
    status.textContent = "正在保存…";
    try {
      await api(`/v1/tenancies/${out ? "move-out" : "move-in"}`, { method: "POST", json });
      await onSaved();
      const again = document.getElementById("mv-status");
      if (again) {
        again.textContent = `已登记${out ? "迁出" : "入驻"}：${enterprise}（${day}）`;
        again.setAttribute("tabindex", "-1");
        again.focus();
      }
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
    }
  });
  return form;
}

function eventForm(buildingId, onSaved) {
  const status = el("p", { role: "status", class: "muted", id: "ev-status" });
  const form = el("form", { class: "filters event-form", id: "event-form" },
    el("label", { for: "ev-enterprise", class: "field" }, el("span", {}, "企业编号"),
      el("input", { id: "ev-enterprise", name: "enterprise_id", required: true, placeholder: "在推荐表中按“记录进展”可自动填入", size: "20" })),
    select("ev-stage", "阶段", STAGES.map((s) => [s, zh(s)]), { all: null }),
    el("label", { for: "ev-date", class: "field" }, el("span", {}, "日期"), el("input", { id: "ev-date", type: "date", value: today(), required: true })),
    el("button", { type: "submit" }, "记录"), status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {
      enterprise_id: form.querySelector("#ev-enterprise").value.trim(), building_id: buildingId,
      date: form.querySelector("#ev-date").value, stage: form.querySelector("#ev-stage").value,
    };
    status.className = "muted";
    status.textContent = "正在保存…";
    try {
      const saved = await api("/v1/events", { method: "POST", json: body });
      await onSaved(saved);
      status.textContent = `已记录：${saved.enterprise_id} ${zh(saved.stage)}（${saved.date}）`;
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
    }
  });
  return form;
}


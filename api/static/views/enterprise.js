// #/enterprise and #/enterprise/ID: one-stop query (search by name or code), the profile with
// credit warnings for roles allowed to see them, tenancy history, attraction events and the
// buildings that fit the enterprise.
import {
  api, buildingLink, el, enterpriseLink, fill, fmt, industryZh, input, qs, section, table, zh,
} from "../lib.js";
import { exportButtons, flagsCell, probabilityCell, reasonsCell } from "./shortlist.js";

let lastQuery = "";

export async function renderEnterprise(main, id, current, params = new URLSearchParams()) {
  const results = el("div", { id: "e-results" });
  const form = el("form", { class: "filters", role: "search", id: "e-search" },
    input("e-q", "企业名称或编号（统一社会信用代码）", { type: "search", value: params.get("q") || (id ? "" : lastQuery), size: "30" }),
    el("button", { type: "submit" }, "查询"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    lastQuery = form.querySelector("#e-q").value.trim();
    fill(results, () => search(lastQuery));
  });
  const parts = [el("h2", { class: "view-title" }, "企业一站式查询"), form, results];
  if (!id) {
    main.replaceChildren(...parts);
    if (lastQuery) await fill(results, () => search(lastQuery));
    return;
  }
  const e = await api(`/v1/enterprises/${encodeURIComponent(id)}`);
  if (!current()) return;
  const path = `/v1/enterprises/${encodeURIComponent(id)}`;
  const body = { links: el("div"), tenancies: el("div"), events: el("div"), fit: el("div") };
  main.replaceChildren(...parts,
    el("h2", { class: "view-title", id: "e-title" }, e.name),
    section("企业档案", "e-profile", profile(e)),
    section("上下游关联", "e-links", body.links),
    section("入驻历史", "e-tenancies", body.tenancies),
    section("招商记录", "e-events", body.events),
    section("适合的楼宇", "e-fit",
      exportButtons("导出适合的楼宇", `${path}/shortlist`, () => ({ k: 10 }), `适合楼宇_${id}`), body.fit));
  await Promise.all([
    fill(body.links, () => links(path)),
    fill(body.tenancies, () => tenancies(path)),
    fill(body.events, () => events(path)),
    fill(body.fit, () => fit(path)),
  ]);
}

async function search(q) {
  const page = await api(`/v1/enterprises${qs({ q, limit: 20 })}`);
  return [el("p", { class: "muted", role: "status" }, `共 ${fmt(page.total)} 家匹配${page.total > page.items.length ? `，显示前 ${page.items.length} 家` : ""}`),
    table(["企业", "编号", "行业", "规模", "所在地"], page.items.map((it) => [
      enterpriseLink(it.enterprise_id, it.name), it.enterprise_id, industryZh(it.industry_code), `${fmt(it.employees)} 人`,
      [it.city, it.district].filter(Boolean).join(" ") || "–",
    ]), { caption: "查询结果", empty: "没有匹配的企业" })];
}

function profile(e) {
  const credit = e.credit_score !== undefined && e.credit_score !== null;
  const flags = e.risk_flags || [];
  const facts = [
    ["编号", e.enterprise_id], ["行业", `${industryZh(e.industry_code)}（${e.industry_code}）`],
    ["规模", `${fmt(e.employees)} 人`], ["营业收入", e.revenue_10k_cny === null || e.revenue_10k_cny === undefined ? "–" : `${fmt(e.revenue_10k_cny)} 万元`],
    ["注册资本", e.registered_capital_10k_cny === null || e.registered_capital_10k_cny === undefined ? "–" : `${fmt(e.registered_capital_10k_cny)} 万元`],
    ["成立日期", e.founded || "–"], ["所在地", [e.city, e.district].filter(Boolean).join(" ") || "–"],
    ["总部类型", e.hq_type ? zh(e.hq_type) : "–"], ["企业标签", (e.tags || []).map(zh).join("、") || "–"],
  ];
  const creditBlock = e.risk_flags === undefined || e.risk_flags === null
    ? el("p", { class: "muted" }, "信用信息仅对运营方和管理员可见。")
    : el("div", {},
      el("p", {}, `信用评分：${credit ? fmt(e.credit_score, 1) : "–"}`),
      flags.length ? el("ul", { class: "warn-list", "aria-label": "风险预警" }, flags.map((f) => el("li", { class: "warn" }, `风险预警：${zh(f)}`)))
        : el("p", {}, "无风险记录"));
  return [el("dl", { class: "facts" }, facts.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v)))), creditBlock];
}

async function links(path) {
  const page = await api(`${path}/links`);
  return table(["关联企业", "关系", "关联类型", "关联强度", "所在楼宇"], page.items.map((l) => [
    enterpriseLink(l.partner_id, l.partner_name || l.partner_id), l.direction_zh, l.relation_zh,
    l.weight === null || l.weight === undefined ? "–" : fmt(l.weight, 2),
    l.building_id ? buildingLink(l.building_id, l.building_name || l.building_id) : "未入驻楼宇",
  ]), { caption: `上下游与投资关联（共 ${fmt(page.total)} 家，可据此以商招商）`, numeric: [3], empty: "暂无关联企业" });
}

async function tenancies(path) {
  const page = await api(`${path}/tenancies${qs({ limit: 100 })}`);
  return table(["楼宇", "所在地", "面积 ㎡", "入驻", "迁出", "状态"], page.items.map((t) => ({
    cls: t.current ? "current" : "",
    cells: [buildingLink(t.building_id, t.building_name || t.building_id), [t.city, t.district].filter(Boolean).join(" ") || "–",
      fmt(t.area_m2), t.start_date, t.end_date || "–", t.current ? "在租" : "已迁出"],
  })), { caption: `入驻历史（最新在前，共 ${fmt(page.total)} 条）`, numeric: [2], empty: "暂无入驻记录" });
}

async function events(path) {
  const page = await api(`${path}/events${qs({ limit: 100 })}`);
  return table(["日期", "楼宇", "阶段"], page.items.map((e) => ({
    cls: e.stage === "declined" ? "declined-row" : "",
    cells: [e.date, buildingLink(e.building_id, e.building_name || e.building_id), e.stage_zh || zh(e.stage)],
  })), { caption: "招商记录（最新在前）", empty: "暂无招商记录" });
}

async function fit(path) {
  const r = await api(`${path}/shortlist${qs({ k: 10 })}`);
  return table(["排名", "楼宇", "所在地", "主题", "空置 ㎡", "租金", "签约概率", "推荐理由", "状态"], r.items.map((it) => ({
    cls: it.declined_on ? "declined-row" : "",
    cells: [it.rank, buildingLink(it.building_id, it.name || it.building_id),
      [it.city, it.district].filter(Boolean).join(" ") || "–", it.theme_zh || zh(it.theme) || "–", fmt(it.vacant_m2),
      it.rent_cny_m2_day ? `${fmt(it.rent_cny_m2_day, 2)} 元/㎡·天` : "–", probabilityCell(it), reasonsCell(it), flagsCell(it)],
  })), { caption: "适合该企业的楼宇", numeric: [0, 4, 6], empty: "暂无合适的楼宇" });
}

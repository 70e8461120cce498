// The tables staff act on: a building's shortlist (with the API's filters and exports), its
// chain leads (以商招商) and its fill plan. Probabilities are shown as percentages.
import {
  HQ_TYPES, SECTIONS, TAGS, api, download, el, enterpriseLink, fmt, industryZh, input, pct, qs, select, table, zh,
} from "../lib.js";

/** Rank-ordered enterprise rows of a shortlist or chain-lead answer, with their flags. */
export function reasonsCell(item) {
  // a decline is a reason's text too (已婉拒 (日期)): shown once, as the flag
  const reasons = (item.reasons || []).filter((r) => !(item.declined_on && r.text.startsWith("已婉拒")));
  return el("td", {}, reasons.map((r) => el("span", { class: "reason" }, r.text)));
}

export function flagsCell(item) {
  return el("td", {},
    item.declined_on ? el("span", { class: "declined" }, `已婉拒（${item.declined_on}）`) : null,
    (item.risk_warnings || []).map((w) => el("span", { class: "warn" }, `风险预警：${w}`)));
}

function industryOf(item) {
  return item.industry_zh || industryZh(item.industry_division || item.industry_code) || "–";
}

function needCell(item, buildingVacant) {
  const need = item.need_m2;
  const vacant = item.vacant_m2 ?? buildingVacant;
  if (need === undefined || need === null) return "–";
  const share = vacant > 0 ? `（空置的 ${fmt((100 * need) / vacant, 0)}%）` : "";
  return `${fmt(need)} ㎡ / ${fmt(vacant)} ㎡${share}`;
}

/** Probability of signing: ``probability_pct`` (0-100) of shortlists, ``probability`` (0-1) of plans. */
export function probabilityCell(item) {
  if (item.probability_pct !== undefined && item.probability_pct !== null) return `${fmt(item.probability_pct, 1)}%`;
  return item.probability === undefined || item.probability === null ? "–" : pct(item.probability);
}

/** The shortlist's filter form; ``onApply(query)`` gets the query object. */
export function shortlistFilters(onApply, prefix = "sl") {
  const form = el("form", { class: "filters", id: `${prefix}-filters` },
    input(`${prefix}-k`, "条数", { type: "number", min: "1", max: "200", value: "10", inputmode: "numeric" }),
    input(`${prefix}-city`, "城市", { type: "text", placeholder: "如 太原市" }),
    input(`${prefix}-district`, "区县", { type: "text", placeholder: "如 小店区" }),
    select(`${prefix}-section`, "行业门类", SECTIONS.map((s) => [s, `${s} ${industryZh(s)}`])),
    input(`${prefix}-min-need`, "最小需求 ㎡", { type: "number", min: "0", step: "50", inputmode: "numeric" }),
    input(`${prefix}-max-need`, "最大需求 ㎡", { type: "number", min: "0", step: "50", inputmode: "numeric" }),
    select(`${prefix}-hq`, "总部类型", HQ_TYPES.map((h) => [h, zh(h)])),
    select(`${prefix}-tag`, "企业标签", TAGS.map((t) => [t, zh(t)])),
    el("label", { class: "check", for: `${prefix}-risky` },
      el("input", { type: "checkbox", id: `${prefix}-risky` }), "含风险企业（显示风险预警，需运营方或管理员）"),
    el("button", { type: "submit" }, "应用筛选"));
  const value = (id) => form.querySelector(`#${prefix}-${id}`).value.trim();
  const read = () => ({
    k: Math.max(1, Math.min(200, Number(value("k")) || 10)),
    city: value("city"), district: value("district"), industry_section: value("section"),
    min_need_m2: value("min-need"), max_need_m2: value("max-need"), hq_type: value("hq"), tag: value("tag"),
    include_risky: form.querySelector(`#${prefix}-risky`).checked ? "true" : "",
  });
  form.addEventListener("submit", (ev) => { ev.preventDefault(); onApply(read()); });
  return { form, read };
}

/** CSV and XLSX buttons that download ``path`` with ``format=...`` added. */
export function exportButtons(label, path, query, filename, { method = "GET", body } = {}) {
  const status = el("span", { class: "muted", role: "status" });
  const button = (format, text) => el("button", {
    type: "button", class: "secondary", "data-export": format,
    onclick: async () => {
      status.textContent = "正在导出…";
      try {
        const options = method === "GET" ? {} : { method, body: JSON.stringify(body || {}), headers: { "Content-Type": "application/json" } };
        await download(`${path}${qs({ ...query(), format })}`, `${filename}.${format}`, options);
        status.textContent = `已导出 ${filename}.${format}`;
      } catch (err) { status.textContent = err.message; }
    },
  }, text);
  return el("div", { class: "exports", role: "group", "aria-label": label }, button("csv", "导出 CSV"), button("xlsx", "导出 Excel"), status);
}

export function shortlistTable(answer, vacant, onRecord) {
  const rows = answer.items.map((it) => ({
    cls: it.declined_on ? "declined-row" : "",
    cells: [it.rank, enterpriseLink(it.enterprise_id, it.name || it.enterprise_id), industryOf(it),
      it.employees === undefined || it.employees === null ? "–" : `${fmt(it.employees)} 人`, needCell(it, vacant), probabilityCell(it),
      reasonsCell(it), flagsCell(it),
      onRecord ? el("button", { type: "button", class: "small", onclick: () => onRecord(it) }, "记录进展") : ""],
  }));
  return table(["排名", "企业", "行业", "规模", "需求面积 / 空置", "签约概率", "推荐理由", "状态与预警", "操作"], rows,
    { caption: "推荐企业（按签约可能性排序）", numeric: [0, 5], empty: "没有符合条件的企业" });
}

const DIRECTION_ZH = { upstream: "上游", downstream: "下游", investor: "投资方", investee: "被投资方", partner: "合作伙伴" };

export function chainTable(answer, onRecord) {
  // the probability column only when the API gives one for chain leads
  const withP = answer.items.some((it) => it.probability_pct !== undefined || it.probability !== undefined);
  const rows = answer.items.map((it) => ({
    cls: it.declined_on ? "declined-row" : "",
    cells: [it.rank, enterpriseLink(it.enterprise_id, it.name || it.enterprise_id),
      enterpriseLink(it.via_tenant_id, it.via_tenant_name || it.via_tenant_id),
      `${zh(it.relation)} · ${DIRECTION_ZH[it.direction] || it.direction}`, withP ? probabilityCell(it) : null,
      reasonsCell(it), flagsCell(it),
      onRecord ? el("button", { type: "button", class: "small", onclick: () => onRecord(it) }, "记录进展") : ""].filter((c) => c !== null),
  }));
  const head = ["排名", "企业", "关联租户", "关系", withP ? "签约概率" : null, "推荐理由", "状态与预警", "操作"].filter(Boolean);
  return table(head, rows, { caption: `以商招商线索（本楼在租企业 ${fmt(answer.tenants)} 家）`, numeric: withP ? [0, 4] : [0], empty: "暂无产业链线索" });
}

export function planBlock(answer) {
  const fit = answer.theme_fit;
  const plan = answer.fill_plan;
  const kind = plan.probability_kind === "platt" ? "校准后的签约概率" : "相对份额（未校准）";
  const top = Math.max(...fit.themes.map((t) => t.expected_signings || 0), 1e-9);
  const themes = table(["主题", "预期签约", "前 20 平均匹配", ""], fit.themes.map((t) => ({
    cls: t.current ? "current" : "",
    cells: [`${t.label_zh || zh(t.theme)}${t.current ? "（当前）" : ""}`, fmt(t.expected_signings, 2), fmt(t.mean_top20_score, 3),
      el("span", { class: "bar", style: `width:${Math.round((100 * (t.expected_signings || 0)) / top)}%`, "aria-hidden": "true" })],
  })), { caption: "主题适配度", numeric: [1, 2] });
  const summary = el("p", {}, `空置 ${fmt(plan.vacant_area_m2)} ㎡，方案占用 ${fmt(plan.total_area_m2)} ㎡（填充率 ${pct(plan.fill_ratio)}），`
    + `预期签约 ${fmt(plan.expected_signings, 2)} 家（${kind}）。`);
  const items = table(["#", "企业", "分配面积 ㎡", "需求 ㎡", "签约概率", "理由"], plan.items.map((it) =>
    [it.rank, enterpriseLink(it.enterprise_id, it.name), fmt(it.area_m2), fmt(it.need_m2), pct(it.probability), reasonsCell(it)]),
  { caption: "填充方案", numeric: [0, 2, 3, 4] });
  return [themes, summary, items];
}

export async function loadShortlist(buildingId, query) {
  return api(`/v1/buildings/${encodeURIComponent(buildingId)}/shortlist${qs(query)}`);
}
export async function loadChain(buildingId, query) {
  return api(`/v1/buildings/${encodeURIComponent(buildingId)}/chain-leads${qs(query)}`);
}

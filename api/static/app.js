// tenantmatch staff page: plain JS, no build step, nothing loaded from the internet.
"use strict";

const KEY_STORE = "tenantmatch.apiKey";
const state = { mode: "buildings", labels: {}, industries: {}, items: [], selected: null, panel: "shortlist" };
const $ = (id) => document.getElementById(id);

function zh(code) { return (code && state.labels[code]) || code || ""; }
function fmt(n, digits = 0) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("zh-CN", { maximumFractionDigits: digits });
}
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}
function showError(message) { $("error").textContent = message || ""; }

async function api(path, options = {}) {
  const headers = { "X-API-Key": sessionStorage.getItem(KEY_STORE) || "", ...(options.headers || {}) };
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const messages = { 401: "API 密钥无效或缺失", 403: "当前角色无此权限", 404: "未找到（或不属于您运营的楼宇）", 413: "请求过大", 503: "服务暂不可用（模型或数据库未就绪）" };
    const detail = body.error ? body.error.message : response.statusText;
    throw new Error(`${messages[response.status] || "请求失败"}（${response.status}）：${detail}`);
  }
  return body;
}

// ---- API key --------------------------------------------------------------------------------
function keyChanged() {
  const has = Boolean(sessionStorage.getItem(KEY_STORE));
  $("key-state").textContent = has ? "已保存（仅本标签页）" : "未设置";
  if (has) loadList(); else { $("list").replaceChildren(); showPlaceholder(); }
}
$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY_STORE, $("api-key").value.trim());
  $("api-key").value = "";
  keyChanged();
});
$("key-clear").addEventListener("click", () => { sessionStorage.removeItem(KEY_STORE); keyChanged(); });

// ---- picker ---------------------------------------------------------------------------------
document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll(".tabs button").forEach((x) => x.classList.toggle("active", x === b));
  state.mode = b.dataset.mode;
  $("search").value = "";
  showPlaceholder();
  loadList();
}));

let searchTimer = null;
$("search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => (state.mode === "buildings" ? renderList() : loadList()), 250);
});

async function loadList() {
  showError("");
  try {
    if (state.mode === "buildings") {
      const page = await api("/v1/buildings?limit=500");
      state.items = page.items;
      $("list-note").textContent = `共 ${page.total} 栋楼宇` + (page.total > page.items.length ? `，显示前 ${page.items.length} 栋` : "");
    } else {
      const q = encodeURIComponent($("search").value.trim());
      const page = await api(`/v1/enterprises?limit=200${q ? `&q=${q}` : ""}`);
      state.items = page.items;
      $("list-note").textContent = `匹配 ${page.total} 家企业` + (page.total > page.items.length ? `，显示前 ${page.items.length} 家` : "");
    }
    renderList();
  } catch (err) { showError(err.message); }
}

function renderList() {
  const q = $("search").value.trim().toLowerCase();
  const rows = state.items.filter((it) => state.mode !== "buildings" || !q ||
    [it.building_id, it.name, it.city, it.district, it.theme_zh].join(" ").toLowerCase().includes(q));
  $("list").replaceChildren(...rows.map((it) => {
    const sub = state.mode === "buildings"
      ? `${it.city} ${it.district} · ${it.theme_zh} · 空置 ${fmt(it.vacant_area_m2)} ㎡${it.stale ? " · 台账待更新" : ""}`
      : `${it.city || ""} · ${state.industries[(it.industry_code || "").slice(0, 2)] || it.industry_code} · ${fmt(it.employees)} 人`;
    const li = el("li", {}, it.name, el("span", { class: "sub" }, sub));
    li.addEventListener("click", () => select(it, li));
    return li;
  }));
}

function showPlaceholder() {
  $("placeholder").hidden = false;
  $("building-view").hidden = true;
  $("enterprise-view").hidden = true;
}

function select(item, li) {
  document.querySelectorAll(".list li").forEach((x) => x.classList.toggle("selected", x === li));
  state.selected = item;
  $("placeholder").hidden = true;
  $("building-view").hidden = state.mode !== "buildings";
  $("enterprise-view").hidden = state.mode === "buildings";
  if (state.mode === "buildings") {
    $("b-title").textContent = `${item.name}（${item.building_id}）`;
    $("b-facts").textContent = `${item.city} ${item.district} · ${item.theme_zh} · ${zh(item.grade)} · 总面积 ${fmt(item.total_area_m2)} ㎡ · 空置 ${fmt(item.vacant_area_m2)} ㎡`;
    $("plan-out").replaceChildren();
    loadPanel();
  } else {
    $("e-title").textContent = `${item.name}（${item.enterprise_id}）`;
    $("e-facts").textContent = `${state.industries[(item.industry_code || "").slice(0, 2)] || item.industry_code} · ${fmt(item.employees)} 人 · ${zh(item.hq_type)} ${(item.tags || []).map(zh).join("、")}`;
    loadFit();
  }
}

// ---- building panels --------------------------------------------------------------------------
document.querySelectorAll(".subtabs button").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll(".subtabs button").forEach((x) => x.classList.toggle("active", x === b));
  state.panel = b.dataset.panel;
  for (const p of ["shortlist", "chain", "plan"]) $(`panel-${p}`).hidden = p !== state.panel;
  loadPanel();
}));
$("refresh").addEventListener("click", () => loadPanel());
$("plan-run").addEventListener("click", () => loadPlan());

function query() {
  const k = Math.max(1, Math.min(200, Number($("k").value) || 10));
  return `k=${k}${$("risky").checked ? "&include_risky=true" : ""}`;
}

function reasonsCell(item) {
  // a decline is a reason's text too (已婉拒 (日期)): shown once, as the flag
  const reasons = (item.reasons || []).filter((r) => !(item.declined_on && r.text.startsWith("已婉拒")));
  return el("td", {}, item.declined_on ? el("span", { class: "declined" }, `已婉拒 (${item.declined_on})`) : null,
    reasons.map((r) => el("span", { class: "reason" }, r.text)),
    (item.risk_warnings || []).map((w) => el("span", { class: "warn" }, w)));
}

function itemRow(cells, item) { return item.declined_on ? { cells, cls: "declined-row" } : cells; }

// A registry without a tenancy or event in the last 90 days ranks badly: say so on every view.
async function loadFreshness() {
  try {
    const ready = await fetch("/readyz").then((r) => (r.ok ? r.json() : null));
    const registry = ready && ready.registry;
    $("stale-banner").hidden = !(registry && registry.stale);
    $("stale-banner").textContent = registry && registry.stale
      ? (registry.warning_zh || `台账数据已过期：最新记录为 ${registry.newest_record}，已超过 ${registry.stale_after_days} 天。`)
      : "";
  } catch (err) { $("stale-banner").hidden = true; }
}

function modelNote(result) { $("model").textContent = `模型版本 ${result.model_version}`; }

async function loadPanel() {
  showError("");
  const id = encodeURIComponent(state.selected.building_id);
  try {
    if (state.panel === "shortlist") {
      const r = await api(`/v1/buildings/${id}/shortlist?${query()}`);
      modelNote(r);
      $("panel-shortlist").replaceChildren(table(["排名", "企业", "匹配分", "推荐理由 / 风险预警"], r.items.map((it) =>
        itemRow([it.rank, `${it.name || ""}（${it.enterprise_id}）`, fmt(it.score, 3), reasonsCell(it)], it))));
    } else if (state.panel === "chain") {
      const r = await api(`/v1/buildings/${id}/chain-leads?${query()}`);
      modelNote(r);
      $("panel-chain").replaceChildren(table(["排名", "企业", "关联租户", "关系", "匹配分", "推荐理由 / 风险预警"], r.items.map((it, i) =>
        [it.rank || i + 1, `${it.name || ""}（${it.enterprise_id}）`, it.via_tenant_name || it.via_tenant_id,
          `${zh(it.relation)} · ${DIRECTION_ZH[it.direction] || it.direction}`, fmt(it.score, 3), reasonsCell(it)])));
    }
  } catch (err) { showError(err.message); }
}

const DIRECTION_ZH = { upstream: "上游", downstream: "下游", investor: "投资方", investee: "被投资方", partner: "合作伙伴" };

async function loadPlan() {
  showError("");
  const id = encodeURIComponent(state.selected.building_id);
  try {
    const r = await api(`/v1/buildings/${id}/plan`, { method: "POST", body: "{}" });
    modelNote(r);
    $("plan-out").replaceChildren(el("h3", {}, "主题适配度"), themeTable(r.theme_fit),
      el("h3", {}, "填充方案"), planBlock(r.fill_plan));
  } catch (err) { showError(err.message); }
}

function themeTable(fit) {
  const rows = fit.themes || [];
  const top = Math.max(...rows.map((t) => t.expected_signings || 0), 1e-9);
  return table(["主题", "预期签约", "前20平均匹配", ""], rows.map((t) => {
    const bar = el("span", { class: "bar", style: `width:${Math.round(120 * (t.expected_signings || 0) / top)}px` });
    return { cells: [zh(t.theme), fmt(t.expected_signings, 2), fmt(t.mean_top20_score, 3), bar], cls: t.current ? "current" : "" };
  }));
}

function planBlock(plan) {
  const summary = el("p", {}, `空置 ${fmt(plan.vacant_area_m2)} ㎡，方案占用 ${fmt(plan.total_area_m2)} ㎡（填充率 ${fmt(100 * (plan.fill_ratio || 0), 1)}%），预期签约 ${fmt(plan.expected_signings, 2)} 家`);
  const rows = (plan.items || []).map((it, i) => [i + 1, `${it.name || ""}（${it.enterprise_id}）`, fmt(it.area_m2), fmt(it.probability, 3), reasonsCell(it)]);
  return el("div", {}, summary, table(["#", "企业", "面积 ㎡", "签约概率", "理由"], rows));
}

// ---- enterprise view --------------------------------------------------------------------------
async function loadFit() {
  showError("");
  try {
    const r = await api(`/v1/enterprises/${encodeURIComponent(state.selected.enterprise_id)}/shortlist?k=10`);
    modelNote(r);
    $("panel-fit").replaceChildren(table(["排名", "楼宇", "匹配分", "推荐理由"], r.items.map((it) =>
      itemRow([it.rank, `${it.name || ""}（${it.building_id}）`, fmt(it.score, 3), reasonsCell(it)], it))));
  } catch (err) { showError(err.message); }
}

function table(headers, rows) {
  if (!rows.length) return el("p", { class: "muted" }, "暂无结果");
  const body = rows.map((r) => {
    const cells = Array.isArray(r) ? r : r.cells;
    const tr = el("tr", r.cls ? { class: r.cls } : {}, cells.map((c) => (c instanceof Node && c.tagName === "TD") ? c : el("td", {}, c)));
    return tr;
  });
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, body));
}

// ---- start ------------------------------------------------------------------------------------
(async function start() {
  try {
    const labels = await fetch("/v1/labels").then((r) => r.json());
    state.labels = labels.labels || {};
    state.industries = labels.industries || {};
  } catch (err) { showError("无法加载中文标签：" + err.message); }
  loadFreshness();
  setInterval(loadFreshness, 10 * 60 * 1000);  // the date moves on in a page left open
  keyChanged();
})();

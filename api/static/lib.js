// Shared helpers of the staff page: the API call, DOM building, Chinese labels, formatting.
// Plain ES module, no build step, nothing loaded from the internet.

export const KEY_STORE = "tenantmatch.apiKey";
export const state = { labels: {}, industries: {}, readyz: null };

export const $ = (id) => document.getElementById(id);
export const hasKey = () => Boolean(sessionStorage.getItem(KEY_STORE));

/** Chinese label of a contract code (theme, grade, stage, tag ...); the code itself if unknown. */
export function zh(code) { return (code && state.labels[code]) || code || ""; }

/** Chinese name of an industry: a 2-digit division or a section letter; codes of 3-4 digits by their division. */
export function industryZh(code) {
  if (!code) return "";
  const c = String(code);
  return state.industries[c] || state.industries[c.replace(/^[A-T]/, "").slice(0, 2)] || c;
}

export function fmt(n, digits = 0) {
  return n === null || n === undefined || Number.isNaN(Number(n))
    ? "–" : Number(n).toLocaleString("zh-CN", { maximumFractionDigits: digits });
}
export function pct(x, digits = 1) {
  return x === null || x === undefined ? "–" : `${fmt(100 * x, digits)}%`;
}
export function today() { return new Date().toISOString().slice(0, 10); }

/** An element: el("a", {href: "#/map"}, "地图"); attributes starting with "on" are listeners. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

const STATUS_ZH = {
  400: "输入有误", 401: "API 密钥无效或缺失", 403: "当前角色无此权限",
  404: "未找到（或不属于您运营的楼宇）", 409: "与现有数据冲突", 412: "数据已被他人修改",
  413: "请求或文件过大", 422: "输入有误", 503: "服务暂不可用（模型或数据库未就绪）",
};

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// The newest data version this tab has seen (a write's answer names it): shortlists are asked
// for on it or a later one, so staff see their own changes at once (X-Min-Data-Version).
const VERSION_STORE = "tenantmatch.dataVersion";

function headers(extra = {}) {
  const seen = sessionStorage.getItem(VERSION_STORE);
  const version = seen ? { "X-Min-Data-Version": seen } : {};
  return { "X-API-Key": sessionStorage.getItem(KEY_STORE) || "", ...version, ...extra };
}

function noteVersion(response) {
  const version = Number(response.headers.get("X-Data-Version"));
  if (version > Number(sessionStorage.getItem(VERSION_STORE) || 0)) {
    sessionStorage.setItem(VERSION_STORE, String(version));
  }
}

async function failure(response) {
  const body = await response.json().catch(() => ({}));
  const detail = body.error ? body.error.message : response.statusText;
  return new ApiError(response.status, `${STATUS_ZH[response.status] || "请求失败"}（${response.status}）：${detail}`);
}

/** JSON from the API with the stored key; throws ApiError with a Chinese message. */
export async function api(path, options = {}) {
  const init = { ...options, headers: headers(options.headers) };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
    delete init.json;
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  noteVersion(response);
  return response.json();
}

/** Fetches ``path`` (with the key) and saves the answer as a file named ``filename``. */
export async function download(path, filename, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  if (!response.ok) throw await failure(response);
  noteVersion(response);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A query string from an object; arrays repeat the key, empty values are left out. */
export function qs(params) {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const item of Array.isArray(v) ? v : [v]) {
      if (item !== "" && item !== null && item !== undefined && item !== false) out.append(k, item);
    }
  }
  const s = out.toString();
  return s ? `?${s}` : "";
}

/** A table in a horizontally scrolling wrapper; rows are arrays of cells or {cells, cls}. */
export function table(headers, rows, { caption, numeric = [], empty = "暂无数据" } = {}) {
  if (!rows.length) return el("p", { class: "muted" }, empty);
  const num = new Set(numeric);
  const body = rows.map((r) => {
    const cells = Array.isArray(r) ? r : r.cells;
    return el("tr", r.cls ? { class: r.cls } : {}, cells.map((c, i) =>
      (c instanceof Node && c.tagName === "TD") ? c : el("td", num.has(i) ? { class: "num" } : {}, c)));
  });
  return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption || headers.join("、") },
    el("table", {}, caption ? el("caption", {}, caption) : null,
      el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { scope: "col", class: num.has(i) ? "num" : null }, h)))),
      el("tbody", {}, body)));
}

/** A section with a heading and a body that reports its own errors. */
export function section(title, id, ...children) {
  return el("section", { class: "card", id, "aria-labelledby": `${id}-h` }, el("h2", { id: `${id}-h` }, title), ...children);
}

/** Replaces ``node``'s content with what ``load()`` returns; shows loading and errors in Chinese. */
export async function fill(node, load) {
  node.replaceChildren(el("p", { class: "muted", role: "status" }, "加载中…"));
  try {
    const content = await load();
    node.replaceChildren(...[content].flat().filter(Boolean));
  } catch (err) {
    node.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
  }
}

export function errorBox(err) { return el("p", { class: "error", role: "alert" }, err.message || String(err)); }

export function link(href, text) { return el("a", { href }, text); }
export function buildingLink(id, name) { return link(`#/building/${encodeURIComponent(id)}`, name || id); }
export function enterpriseLink(id, name) { return link(`#/enterprise/${encodeURIComponent(id)}`, name || id); }

/** A labelled <select> of [value, text] options (first: everything). */
export function select(id, label, options, { all = "全部", value = "" } = {}) {
  const s = el("select", { id, name: id },
    all === null ? null : el("option", { value: "" }, all),
    options.map(([v, t]) => el("option", { value: v, selected: String(v) === String(value) }, t)));
  return el("label", { for: id, class: "field" }, el("span", {}, label), s);
}
export function input(id, label, attrs = {}) {
  return el("label", { for: id, class: "field" }, el("span", {}, label), el("input", { id, name: id, ...attrs }));
}

/** Codes of an enum group in /v1/labels order (e.g. the themes are the labels before the grades). */
export function codes(list) { return list.map((c) => [c, zh(c)]); }

export const THEMES = ["finance", "professional_services", "tech_rnd", "information_services", "culture_creative",
  "commerce_trade", "electronics_it", "internet", "headquarters", "general"];
export const GRADES = ["super_a", "a", "b", "c"];
export const STAGES = ["contacted", "visited", "negotiating", "signed", "declined"];
export const HQ_TYPES = ["none", "regional_hq", "functional_hq", "procurement_center", "settlement_center",
  "operations_center", "experience_center", "independent_subsidiary"];
export const TAGS = ["fortune_global_500", "china_500", "listed", "unicorn", "high_tech", "specialized_sme",
  "leading_enterprise", "platform"];
// Colour-blind-friendlier palette (Okabe-Ito and Tableau hues), one per theme, readable on white.
export const THEME_COLORS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#8c564b",
  "#7f3c8d", "#b8860b", "#555555"];

export const SECTIONS = "ABCDEFGHIJKLMNOPQRST".split("");

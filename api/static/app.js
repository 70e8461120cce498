// The staff workbench: sign-in, hash routing (#/map, #/building/ID, #/enterprise/ID, #/stats,
// #/import) and the freshness banner. Each view lives in views/*.js and renders into <main>.
import { $, KEY_STORE, el, hasKey, state } from "./lib.js";
import { renderMap } from "./views/map.js";
import { renderBuilding } from "./views/building.js";
import { renderEnterprise } from "./views/enterprise.js";
import { renderStats } from "./views/stats.js";
import { renderImport } from "./views/import.js";

const ROUTES = {
  map: { title: "地图", render: renderMap },
  building: { title: "楼宇", render: renderBuilding },
  enterprise: { title: "企业查询", render: renderEnterprise },
  stats: { title: "统计", render: renderStats },
  import: { title: "数据导入", render: renderImport },
};

let rendering = 0;

async function route() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/");
  const params = new URLSearchParams(query || "");
  const view = ROUTES[name] || ROUTES.map;
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
  document.querySelectorAll("[data-nav]").forEach((a) => {
    const here = a.dataset.nav === (ROUTES[name] ? name : "map") || (name === "building" && a.dataset.nav === "map");
    if (here) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  document.title = `${view.title} · 楼宇经济数字地图`;
  const main = $("view");
  const token = ++rendering;
  if (!hasKey()) {
    main.replaceChildren(el("section", { class: "card signin" },
      el("h2", {}, "请先登录"),
      el("p", {}, "在页面上方输入管理员发放的 API 密钥，然后按“登录”。密钥只保存在本标签页中，关闭即清除。")));
    return;
  }
  main.replaceChildren(el("p", { class: "muted", role: "status" }, "加载中…"));
  try {
    await view.render(main, arg, () => token === rendering, params);
  } catch (err) {
    if (token === rendering) main.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
  }
  if (token === rendering && document.activeElement === document.body) main.focus({ preventScroll: true });
}

async function checkKey() {
  const key = sessionStorage.getItem(KEY_STORE);
  $("key-state").textContent = key ? "已登录（仅本标签页）" : "未登录";
  $("key-form").classList.toggle("signed-in", Boolean(key));
}

$("key-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) { $("key-state").textContent = "请输入密钥"; return; }
  const response = await fetch("/v1/buildings?limit=1", { headers: { "X-API-Key": key } }).catch(() => null);
  if (!response || !response.ok) {
    $("key-state").textContent = response && response.status === 401 ? "密钥无效，请检查后重试" : "暂时无法验证密钥";
    return;
  }
  sessionStorage.setItem(KEY_STORE, key);
  $("api-key").value = "";
  checkKey();
  route();
});
$("key-clear").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORE);
  checkKey();
  route();
});

// A registry without a tenancy or event in the last 90 days ranks badly: say so on every view.
async function loadFreshness() {
  try {
    const ready = await fetch("/readyz").then((r) => (r.ok ? r.json() : null));
    state.readyz = ready;
    const registry = ready && ready.registry;
    $("stale-banner").hidden = !(registry && registry.stale);
    $("stale-banner").textContent = registry && registry.stale
      ? (registry.warning_zh || `台账数据已过期：最新记录为 ${registry.newest_record}，已超过 ${registry.stale_after_days} 天。`)
      : "";
    if (ready) $("model").textContent = `模型版本 ${ready.model_version}`;
  } catch (err) { $("stale-banner").hidden = true; }
}

(async function start() {
  try {
    const labels = await fetch("/v1/labels").then((r) => r.json());
    state.labels = labels.labels || {};
    state.industries = labels.industries || {};
  } catch (err) { $("view").replaceChildren(el("p", { class: "error" }, `无法加载中文标签：${err.message}`)); }
  loadFreshness();
  setInterval(loadFreshness, 10 * 60 * 1000); // the date moves on in a page left open
  checkKey();
  window.addEventListener("hashchange", route);
  route();
})();

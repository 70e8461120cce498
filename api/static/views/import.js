// #/import: an admin uploads one data-contract file (CSV, xlsx or Parquet; Chinese headers and
// labels accepted) and reads the row-level report in Chinese.
import { KEY_STORE, el, fmt, table } from "../lib.js";

const TABLES = [["buildings", "楼宇"], ["enterprises", "企业"], ["tenancies", "租赁（入驻）记录"], ["events", "招商记录"], ["links", "产业链关系"]];
const COUNTS = [["rows_read", "读取行数"], ["inserted", "新增"], ["updated", "更新"], ["unchanged", "未变"], ["rejected", "拒绝"], ["duplicates_merged", "重复合并"]];

export async function renderImport(main) {
  const report = el("div", { id: "import-report", "aria-live": "polite" });
  const form = el("form", { id: "import-form", class: "stack", enctype: "multipart/form-data" },
    el("label", { for: "imp-table", class: "field" }, el("span", {}, "数据表"),
      el("select", { id: "imp-table", name: "table", required: true }, TABLES.map(([v, t]) => el("option", { value: v }, `${t}（${v}）`)))),
    el("label", { for: "imp-file", class: "field" }, el("span", {}, "文件（CSV、Excel 或 Parquet）"),
      el("input", { id: "imp-file", name: "file", type: "file", required: true, accept: ".csv,.xlsx,.parquet,text/csv" })),
    el("label", { class: "check", for: "imp-skip" }, el("input", { id: "imp-skip", type: "checkbox", name: "skip_invalid" }),
      "跳过有误的行，导入其余行（默认：有任何错误则整表不导入）"),
    el("button", { type: "submit" }, "上传并导入"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData();
    data.append("table", form.querySelector("#imp-table").value);
    data.append("file", form.querySelector("#imp-file").files[0]);
    data.append("skip_invalid", form.querySelector("#imp-skip").checked ? "true" : "false");
    report.replaceChildren(el("p", { class: "muted", role: "status" }, "正在导入…"));
    const response = await fetch("/v1/admin/import", { method: "POST", body: data, headers: { "X-API-Key": sessionStorage.getItem(KEY_STORE) || "" } });
    const body = await response.json().catch(() => ({}));
    report.replaceChildren(...renderReport(response, body));
  });
  main.replaceChildren(
    el("h2", { class: "view-title" }, "数据导入（仅管理员）"),
    el("p", {}, "上传一个符合数据规范的文件。表头可用英文字段名或中文名（如 楼宇编号），枚举可用中文（如 金融服务型），数字可带千位分隔符和单位（如 15,180、12365.92㎡）。"),
    form, report);
}

function renderReport(response, body) {
  if (response.status === 403 || response.status === 401) {
    return [el("p", { class: "error", role: "alert" }, response.status === 403 ? "只有管理员可以导入数据。" : "API 密钥无效或缺失。")];
  }
  const errors = body.errors || (body.error && body.error.errors) || [];
  const tables = body.tables || {};
  const ok = response.ok && !errors.length;
  const summary = el("p", { class: ok ? "ok" : response.ok ? "partial" : "error", role: "alert" },
    ok ? "导入完成。" : response.ok ? `已导入有效行，${fmt(errors.length)} 处错误未导入。`
      : `导入未完成：${(body.error && (body.error.message_zh || body.error.message)) || response.statusText}`);
  const names = Object.fromEntries(TABLES);
  const counts = Object.entries(tables).map(([name, t]) => [names[name] || name, ...COUNTS.map(([k]) => fmt(t[k] || 0))]);
  return [
    summary,
    counts.length ? table(["数据表", ...COUNTS.map(([, t]) => t)], counts, { caption: "导入结果", numeric: [1, 2, 3, 4, 5, 6] }) : null,
    errors.length ? table(["文件", "行号", "列", "值", "原因"], errors.map((e) =>
      [e.file, e.row, e.column_zh ? `${e.column_zh}（${e.column}）` : e.column, e.value, e.reason_zh || e.reason]),
    { caption: `逐行错误（${fmt(errors.length)} 处）` }) : null,
  ];
}

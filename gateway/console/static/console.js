// The console's behaviour beyond htmx: sorting and filtering tables and the debtor list (in the
// page, so no name or ID number ever goes into a URL), live alerts, the dashboard's charts, print.
"use strict";

function sortRows(tbody, index, ascending) {
  const value = (row) => {
    const cell = row.children[index];
    const raw = cell ? (cell.dataset.sort ?? cell.textContent.trim()) : "";
    const n = Number(raw);
    return raw !== "" && !Number.isNaN(n) ? n : raw;
  };
  const rows = Array.from(tbody.rows);
  rows.sort((a, b) => {
    const x = value(a), y = value(b);
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN");
    return ascending ? c : -c;
  });
  rows.forEach((r) => tbody.appendChild(r));
}

function sortableTables() {
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("thead th").forEach((th, index) => {
      th.addEventListener("click", () => {
        const ascending = th.dataset.dir !== "asc";
        th.dataset.dir = ascending ? "asc" : "desc";
        sortRows(table.tBodies[0], index, ascending);
      });
    });
  });
}

function debtorList() {
  const list = document.getElementById("debtors");
  if (!list) return;
  const filter = document.getElementById("debtor-filter");
  const onlyFound = document.getElementById("only-found");
  const apply = () => {
    const needle = filter.value.trim().toLowerCase();
    list.querySelectorAll("details.debtor").forEach((d) => {
      const hit = !needle || d.dataset.search.toLowerCase().includes(needle);
      const found = !onlyFound.checked || Number(d.dataset.total) > 0;
      d.classList.toggle("hidden", !(hit && found));
    });
  };
  filter.addEventListener("input", apply);
  onlyFound.addEventListener("change", apply);
  document.querySelectorAll("button.sort-debtors").forEach((button) => {
    button.addEventListener("click", () => {
      const key = button.dataset.key;
      const items = Array.from(list.querySelectorAll("details.debtor"));
      items.sort((a, b) => key === "name" ? a.dataset.name.localeCompare(b.dataset.name, "zh-CN")
        : Number(b.dataset[key]) - Number(a.dataset[key]));
      items.forEach((d) => list.appendChild(d));
    });
  });
}

function liveAlerts() {
  const live = document.getElementById("alerts-live");
  if (!live) return;
  const tbody = document.querySelector("#alerts tbody");
  const source = new EventSource(live.dataset.stream);
  source.addEventListener("alert", (event) => {
    const a = JSON.parse(event.data);
    tbody.querySelectorAll("tr.empty").forEach((r) => r.remove());
    const row = document.createElement("tr");
    row.className = "fresh";
    for (const text of [a.when?.replace("T", " ").slice(0, 19), a.case_number, a.kind_label, a.summary, a.where ?? "",
                        a.auto_freeze?.order_id ?? ""]) {
      const cell = document.createElement("td");
      cell.textContent = text ?? "";  // text, never markup
      row.appendChild(cell);
    }
    tbody.prepend(row);
  });
}

function charts() {
  const holder = document.getElementById("charts");
  if (!holder || typeof uPlot === "undefined") return;
  const plots = {};
  // One minute of data would otherwise stretch over years: show at least ten minutes around it.
  const padded = (u, min, max) => (max - min < 600 ? [min - 300, max + 300] : [min, max]);
  const draw = (id, series, data) => {
    const el = document.getElementById(id);
    const opts = { width: el.clientWidth || 560, height: 240, series: [{}, ...series], scales: { x: { time: true, range: padded } },
                   tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai") };  // as officers read time
    if (plots[id]) { plots[id].setData(data); return; }
    plots[id] = new uPlot(opts, data, el);
  };
  const load = async () => {
    const response = await fetch(holder.dataset.src, { credentials: "same-origin" });
    if (!response.ok) return;
    const points = (await response.json()).timeline.points;
    const x = points.map((p) => p.at_ms / 1000);
    draw("chart-answers", [{ label: "答复 answered", stroke: "#1b7f3b" }, { label: "失败 failed", stroke: "#a4161a" }],
         [x, points.map((p) => p.answered), points.map((p) => p.failed)]);
    draw("chart-latency", [{ label: "平均时延 ms", stroke: "#0b4f9c" }], [x, points.map((p) => p.mean_latency_ms)]);
  };
  load();
  setInterval(load, 10000);
}

function printButton() {
  const button = document.getElementById("print");
  if (button) button.addEventListener("click", () => window.print());
}

document.addEventListener("DOMContentLoaded", () => {
  sortableTables();
  debtorList();
  liveAlerts();
  charts();
  printButton();
});

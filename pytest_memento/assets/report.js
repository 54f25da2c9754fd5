// pytest-memento report: builds the tables and draws the charts (inline SVG)
// from the JSON in #memento-data. Values are inserted as text, never markup.
(function () {
  "use strict";
  var started = performance.now();
  var data = JSON.parse(document.getElementById("memento-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function fmt(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "number") return String(value);
    if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)) return value.toExponential(3);
    return String(parseFloat(value.toPrecision(4)));
  }
  function sortValue(text) {
    var number = parseFloat(text);
    return isNaN(number) || !/^\s*[-+]?(\d|\.\d)/.test(text) ? null : number;
  }
  function compare(a, b) {
    if (a === b) return 0;
    if (a === null) return 1; // blanks last
    if (b === null) return -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  // -- status counts ---------------------------------------------------------
  var counts = document.getElementById("counts");
  var total = 0;
  Object.keys(data.counts).forEach(function (status) {
    total += data.counts[status];
    counts.appendChild(el("span", { class: status }, data.counts[status] + " " + status));
  });
  counts.insertBefore(document.createTextNode(total + " configurations: "), counts.firstChild);

  // -- sorting (any table): click a header ------------------------------------
  function sortable(table, keyOf, rowsOf, place) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, column) {
      th.addEventListener("click", function () {
        var direction = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        Array.prototype.forEach.call(heads, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", direction);
        var rows = rowsOf();
        var keys = new Map();
        rows.forEach(function (row) { keys.set(row, keyOf(row, column)); });
        rows.sort(function (a, b) {
          var ka = keys.get(a), kb = keys.get(b);
          if ((ka === null) !== (kb === null)) return ka === null ? 1 : -1; // blanks last, either way
          var order = compare(ka, kb);
          return direction === "ascending" ? order : -order;
        });
        place(rows);
      });
    });
  }
  function sortByText(table) {
    var body = table.tBodies[0];
    sortable(
      table,
      function (row, column) {
        var text = row.cells[column] ? row.cells[column].textContent : "";
        var number = sortValue(text);
        return number === null ? (text === "-" || text === "" ? null : text) : number;
      },
      function () { return Array.prototype.slice.call(body.rows); },
      function (rows) {
        var fragment = document.createDocumentFragment();
        rows.forEach(function (row) { fragment.appendChild(row); });
        body.appendChild(fragment);
      }
    );
  }

  // -- the table of configurations --------------------------------------------
  // Rows are built when first shown and shown a page at a time, so a grid of
  // 10,000 configurations opens quickly; sorting and filtering work on all rows.
  var PAGE_SIZES = [100, 500, 2000, 0]; // 0: all
  function configTable(section, exp) {
    var box = section.querySelector(".configs");
    var shownColumns = [];
    var constants = [];
    exp.columns.forEach(function (name, i) {
      var seen = {};
      exp.rows.forEach(function (row) { seen[row[4][i]] = true; });
      if (Object.keys(seen).length > 1 || exp.rows.length === 1) shownColumns.push(i);
      else constants.push(name + "=" + (exp.values[name][exp.rows[0][4][i]] || ""));
    });
    var tools = el("div", { class: "tools" });
    var filter = el("input", { type: "search", placeholder: "filter: words all rows must contain", "aria-label": "filter configurations" });
    var status = el("select", { "aria-label": "status" });
    status.appendChild(el("option", { value: "" }, "every status"));
    var statuses = {};
    exp.rows.forEach(function (row) { statuses[row[1]] = true; });
    Object.keys(statuses).forEach(function (s) { status.appendChild(el("option", { value: s }, s)); });
    var size = el("select", { "aria-label": "rows per page", class: "page-size" });
    PAGE_SIZES.forEach(function (n) { size.appendChild(el("option", { value: n }, n ? n + " per page" : "all rows")); });
    size.value = "500";
    var previous = el("button", { type: "button", class: "previous" }, "‹");
    var next = el("button", { type: "button", class: "next" }, "›");
    var shown = el("span", { class: "shown" });
    [filter, status, size, previous, next, shown].forEach(function (node) { tools.appendChild(node); });
    box.appendChild(tools);
    if (constants.length) box.appendChild(el("p", { class: "constants" }, "All rows: " + constants.join(", ")));

    var table = el("table", { class: "configs-table" });
    var head = el("tr");
    var kinds = [];
    function column(label, kind, numeric) {
      head.appendChild(el("th", numeric ? { class: "num" } : {}, label));
      kinds.push(kind);
    }
    column("id", ["id"], false);
    shownColumns.forEach(function (i) { column(exp.columns[i], ["config", i], false); });
    exp.metrics.forEach(function (metric, i) {
      var goal = exp.goals[metric] === "max" ? " ↑" : exp.goals[metric] === "min" ? " ↓" : "";
      column(metric + goal, ["metric", i], true);
    });
    column("status", ["status"], false);
    column("duration", ["duration"], true);
    column("key", ["key"], false);
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    var scroll = el("div", { class: "scroll" });
    scroll.appendChild(table);
    box.appendChild(scroll);

    function label(row, i) { return row[4][i] < 0 ? "" : exp.values[exp.columns[i]][row[4][i]]; }
    var built = [];
    function rowElement(index) {
      if (built[index]) return built[index];
      var row = exp.rows[index];
      var tr = el("tr", { class: "row" });
      tr.dataset.index = index;
      tr.appendChild(el("td", {}, row[0]));
      shownColumns.forEach(function (i) { tr.appendChild(el("td", {}, label(row, i))); });
      row[5].forEach(function (value) { tr.appendChild(el("td", { class: "num" }, fmt(value))); });
      tr.appendChild(el("td", { class: "status " + row[1] }, row[1]));
      tr.appendChild(el("td", { class: "num" }, row[3].toFixed(2) + "s"));
      tr.appendChild(el("td", { class: "key" }, row[2].slice(0, 12)));
      built[index] = tr;
      return tr;
    }
    var texts = exp.rows.map(function (row) {
      var parts = [row[0], row[1], row[2]];
      shownColumns.forEach(function (i) { parts.push(label(row, i)); });
      row[5].forEach(function (value) { parts.push(fmt(value)); });
      return parts.join(" ").toLowerCase();
    });
    var order = exp.rows.map(function (_, index) { return index; });
    var page = 0;
    function render() {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var wanted = status.value;
      var kept = order.filter(function (index) {
        return (!wanted || exp.rows[index][1] === wanted) &&
          words.every(function (w) { return texts[index].indexOf(w) >= 0; });
      });
      var per = Number(size.value) || kept.length || 1;
      var pages = Math.max(1, Math.ceil(kept.length / per));
      page = Math.min(page, pages - 1);
      var fragment = document.createDocumentFragment();
      kept.slice(page * per, page * per + per).forEach(function (index) { fragment.appendChild(rowElement(index)); });
      body.replaceChildren(fragment);
      previous.disabled = page === 0;
      next.disabled = page >= pages - 1;
      previous.hidden = next.hidden = pages === 1;
      shown.textContent = kept.length + " of " + exp.rows.length + " configurations shown" +
        (pages > 1 ? "; page " + (page + 1) + " of " + pages : "");
    }

    body.addEventListener("click", function (event) {
      var tr = event.target.closest("tr.row");
      if (!tr) return;
      if (tr.nextSibling && tr.nextSibling.classList.contains("prov")) { tr.nextSibling.remove(); return; }
      var row = exp.rows[Number(tr.dataset.index)];
      var list = el("dl");
      function add(name, value) {
        if (value === null || value === undefined || value === "") return;
        list.appendChild(el("dt", {}, name));
        list.appendChild(el("dd", {}, typeof value === "object" ? JSON.stringify(value) : value));
      }
      function heading(text) {
        list.appendChild(el("dt", { class: "section" }, text));
        list.appendChild(el("dd", { class: "section" }));
      }
      heading("provenance");
      add("key", row[2]);
      add("status", row[1]);
      var common = exp.shared[row[6]];
      data.shared_names.forEach(function (name, i) { add(name, common[i]); });
      data.own_names.forEach(function (name, i) { add(name, row[7][i]); });
      add("duration", row[3] + " s");
      heading("config");
      exp.columns.forEach(function (name, i) { if (row[4][i] >= 0) add(name, exp.values[name][row[4][i]]); });
      heading("metrics");
      exp.metrics.forEach(function (metric, i) { add(metric, row[5][i]); });
      var detail = el("tr", { class: "prov" });
      var cell = el("td", { colspan: kinds.length });
      cell.appendChild(list);
      detail.appendChild(cell);
      tr.parentNode.insertBefore(detail, tr.nextSibling);
    });

    sortable(
      table,
      function (index, column) {
        var row = exp.rows[index];
        var kind = kinds[column];
        if (kind[0] === "id") return row[0];
        if (kind[0] === "config") {
          var text = row[4][kind[1]] < 0 ? null : label(row, kind[1]);
          var number = text === null ? null : sortValue(text);
          return number === null ? text : number;
        }
        if (kind[0] === "metric") {
          var value = row[5][kind[1]];
          return typeof value === "number" ? value : null;
        }
        if (kind[0] === "status") return row[1];
        if (kind[0] === "duration") return row[3];
        return row[2];
      },
      function () { return order.slice(); },
      function (sorted) { order = sorted; page = 0; render(); }
    );
    var timer = null;
    filter.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(function () { page = 0; render(); }, 120); });
    status.addEventListener("change", function () { page = 0; render(); });
    size.addEventListener("change", function () { page = 0; render(); });
    previous.addEventListener("click", function () { page--; render(); });
    next.addEventListener("click", function () { page++; render(); });
    render();
  }

  // -- charts: one point per group, replicate spread as an error bar ---------
  function ticks(low, high) {
    var span = high - low;
    var raw = span / 4;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * power; }).find(function (s) { return span / s <= 5; }) || raw;
    var out = [];
    for (var v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function chart(exp, metric, param, spreadName) {
    var W = 380, H = 240, left = 56, right = 12, top = 24, bottom = 62;
    var position = param === null ? -1 : exp.varying.indexOf(param);
    var spreadIndex = { std: 2, sem: 3, ci95: 4 }[spreadName];
    var points = exp.groups.filter(function (g) {
      var s = g.stats[metric];
      return s && typeof s[1] === "number";
    });
    var categories = [];
    points.forEach(function (g) {
      var c = position < 0 ? "all" : exp.values[param][g.at[position]];
      if (categories.indexOf(c) < 0) categories.push(c);
    });
    var numeric = categories.every(function (c) { return sortValue(c) !== null; });
    categories.sort(function (a, b) { return numeric ? sortValue(a) - sortValue(b) : compare(a, b); });
    var seriesKeys = [];
    var seriesOf = points.map(function (g) {
      var key = g.at.filter(function (_, i) { return i !== position; }).join(",");
      var found = seriesKeys.indexOf(key);
      if (found < 0) { seriesKeys.push(key); found = seriesKeys.length - 1; }
      return found;
    });
    var colored = seriesKeys.length <= COLORS.length;
    var low = Infinity, high = -Infinity;
    points.forEach(function (g) {
      var s = g.stats[metric], spread = typeof s[spreadIndex] === "number" ? s[spreadIndex] : 0;
      low = Math.min(low, s[1] - spread);
      high = Math.max(high, s[1] + spread);
    });
    if (!isFinite(low)) { low = 0; high = 1; }
    if (high === low) { var pad0 = Math.abs(high) * 0.1 || 1; low -= pad0; high += pad0; }
    var pad = (high - low) * 0.06;
    low -= pad; high += pad;
    var plotW = W - left - right, plotH = H - top - bottom;
    var band = plotW / Math.max(categories.length, 1);
    function y(v) { return top + plotH - ((v - low) / (high - low)) * plotH; }
    function x(category, series) {
      var width = Math.min(band * 0.6, 14 * seriesKeys.length);
      var offset = seriesKeys.length > 1 ? (series / (seriesKeys.length - 1) - 0.5) * width : 0;
      return left + (categories.indexOf(category) + 0.5) * band + offset;
    }
    var root = svg("svg", { class: "chart", width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "data-metric": metric, "data-param": param === null ? "" : param });
    var goal = exp.goals[metric] === "max" ? " (higher is better)" : exp.goals[metric] === "min" ? " (lower is better)" : "";
    root.appendChild(svg("text", { class: "title", x: left, y: 14 }, metric + " vs " + (param === null ? "all" : param) + goal));
    ticks(low, high).forEach(function (v) {
      root.appendChild(svg("line", { class: "grid", x1: left, x2: W - right, y1: y(v), y2: y(v) }));
      root.appendChild(svg("text", { x: left - 5, y: y(v) + 3, "text-anchor": "end" }, fmt(v)));
    });
    root.appendChild(svg("line", { class: "axis", x1: left, x2: left, y1: top, y2: top + plotH }));
    root.appendChild(svg("line", { class: "axis", x1: left, x2: W - right, y1: top + plotH, y2: top + plotH }));
    var every = Math.ceil(categories.length / 14);
    categories.forEach(function (c, i) {
      if (i % every) return;
      var cx = left + (i + 0.5) * band, label = c.length > 14 ? c.slice(0, 13) + "…" : c;
      root.appendChild(svg("text", { x: cx, y: top + plotH + 12, "text-anchor": "end", transform: "rotate(-30 " + cx + " " + (top + plotH + 12) + ")" }, label));
    });
    root.appendChild(svg("text", { x: left + plotW / 2, y: H - 4, "text-anchor": "middle" }, param === null ? "" : param));
    if (colored && categories.length > 1) {
      seriesKeys.forEach(function (_, s) {
        var line = points.filter(function (g, i) { return seriesOf[i] === s; }).map(function (g) {
          var c = position < 0 ? "all" : exp.values[param][g.at[position]];
          return [x(c, s), y(g.stats[metric][1]), categories.indexOf(c)];
        }).sort(function (a, b) { return a[2] - b[2]; });
        if (line.length > 1) root.appendChild(svg("polyline", { fill: "none", stroke: COLORS[s], "stroke-opacity": 0.45, points: line.map(function (p) { return p[0] + "," + p[1]; }).join(" ") }));
      });
    }
    points.forEach(function (g, i) {
      var s = g.stats[metric], c = position < 0 ? "all" : exp.values[param][g.at[position]];
      var cx = x(c, seriesOf[i]), color = colored ? COLORS[seriesOf[i]] : "#1f77b4";
      var spread = s[spreadIndex];
      var mark = svg("g", { class: "point" });
      if (typeof spread === "number" && spread > 0) {
        mark.appendChild(svg("line", { x1: cx, x2: cx, y1: y(s[1] - spread), y2: y(s[1] + spread), stroke: color, "stroke-width": 1.2 }));
        mark.appendChild(svg("line", { x1: cx - 3, x2: cx + 3, y1: y(s[1] - spread), y2: y(s[1] - spread), stroke: color }));
        mark.appendChild(svg("line", { x1: cx - 3, x2: cx + 3, y1: y(s[1] + spread), y2: y(s[1] + spread), stroke: color }));
      }
      mark.appendChild(svg("circle", { cx: cx, cy: y(s[1]), r: 3, fill: color, "fill-opacity": colored ? 1 : 0.6 }));
      var tip = g.label + ": " + fmt(s[1]) + (typeof spread === "number" ? " ± " + fmt(spread) + " " + spreadName : "") + " (n = " + s[0] + ")" + (g.note ? "; incomplete: " + g.note : "");
      mark.appendChild(svg("title", {}, tip));
      root.appendChild(mark);
    });
    var legend = null;
    if (colored && seriesKeys.length > 1) {
      legend = el("div", { class: "legend" });
      seriesKeys.forEach(function (key, s) {
        var first = points[seriesOf.indexOf(s)];
        var names = exp.varying.filter(function (_, i) { return i !== position; });
        var text = names.map(function (name) { return name + "=" + exp.values[name][first.at[exp.varying.indexOf(name)]]; }).join(", ");
        var item = el("span");
        var swatch = el("i");
        swatch.style.background = COLORS[s];
        item.appendChild(swatch);
        item.appendChild(document.createTextNode(text));
        legend.appendChild(item);
      });
    }
    return [root, legend];
  }
  function charts(section, exp) {
    var box = section.querySelector(".charts");
    exp.metrics.forEach(function (metric) {
      var group = el("div", { class: "chart-group", "data-metric": metric });
      group.appendChild(el("h4", {}, metric));
      var row = el("div", { class: "chart-row" });
      var params = exp.varying.length ? exp.varying : [null];
      params.forEach(function (param) {
        var cell = el("div");
        var made = chart(exp, metric, param, exp.spread);
        cell.appendChild(made[0]);
        if (made[1]) cell.appendChild(made[1]);
        row.appendChild(cell);
      });
      group.appendChild(row);
      box.appendChild(group);
    });
  }

  data.experiments.forEach(function (exp, number) {
    var section = document.getElementById("e" + number);
    configTable(section, exp);
    section.querySelectorAll("table.aggregate").forEach(sortByText);
    charts(section, exp);
  });
  document.body.dataset.renderMs = String(Math.round(performance.now() - started));
  document.body.dataset.ready = "1";
})();

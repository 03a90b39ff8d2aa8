/* The plan page: draws the view model (chalicelib/workflows/plan_view.py) with uPlot.
   Text from the data always goes in as textContent, never as markup: event names are user input. */
(function () {
  "use strict";

  var TOKEN_KEY = "burst-assurance-api-token";
  var INK = "#1b1f24";
  var LINES = {
    forecast: { stroke: "#1f5fbf", width: 1.5 },
    threshold: { stroke: "#c0392b", width: 2, dash: [8, 4] },
    baseline: { stroke: "#444444", width: 1.5, dash: [2, 3] }
  };
  var MONTHLY_DASH = [14, 4, 3, 4]; // the monthly rule's threshold, told apart from the daily one
  var DAY = 86400;
  var NUMERIC = ["number", "deadline", "time_left", "peak", "value_threshold"];
  var WRAPPED = ["status", "rule", "burst_start", "lead_time", "event"];

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function setMessage(text, isError) {
    var box = document.getElementById("message");
    box.textContent = text;
    box.className = isError ? "notice error" : "notice";
    box.hidden = !text;
  }

  // -- getting the data ------------------------------------------------------------------------

  function start() {
    var embedded = document.getElementById("plan-data");
    if (embedded) {
      show(JSON.parse(embedded.textContent));
      return;
    }
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) load(token);
    else askForToken("");
  }

  function askForToken(why) {
    var form = document.getElementById("token-form");
    var input = document.getElementById("token");
    setMessage(why, Boolean(why));
    form.hidden = false;
    input.focus();
    form.onsubmit = function (event) {
      event.preventDefault();
      var token = input.value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      input.value = "";
      form.hidden = true;
      load(token);
    };
  }

  function load(token) {
    var now = new URLSearchParams(window.location.search).get("now");
    var url = "plan/view" + (now ? "?now=" + encodeURIComponent(now) : "");
    setMessage("Loading the plan…", false);
    fetch(url, { headers: { Authorization: "Bearer " + token }, cache: "no-store" })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          sessionStorage.removeItem(TOKEN_KEY);
          askForToken("The API token was not accepted. Enter it again.");
          return null;
        }
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
          return body;
        });
      })
      .then(function (view) {
        if (view) show(view);
      })
      .catch(function (error) {
        setMessage("The plan could not be loaded: " + error.message, true);
      });
  }

  // -- the page --------------------------------------------------------------------------------

  function show(view) {
    setMessage("", false);
    var main = document.getElementById("plan");
    main.replaceChildren();
    var count = view.rows.length;
    main.appendChild(el("p", { class: "lead" },
      "As of " + view.now_text + ", times in " + view.time_zone + ". " +
      (count ? count + " service-assurance request" + (count === 1 ? "" : "s") + " to file."
             : "No service-assurance request needed.")));
    view.charts.forEach(function (chart, index) {
      main.appendChild(chartSection(chart, index, view));
    });
    if (view.without_forecast.length) {
      main.appendChild(el("p", {}, "No forecast to draw for: " + view.without_forecast.join(", ")));
    }
    if (count) main.appendChild(requestTable(view.rows));
    if (view.warnings.length) main.appendChild(warningList(view.warnings));
    document.body.setAttribute("data-ready", "true");
  }

  function chartSection(chart, index, view) {
    var id = "chart-" + index;
    var section = el("section", { "aria-labelledby": id + "-title", class: "scope" });
    section.appendChild(el("h2", { id: id + "-title" }, chart.title));
    var figure = el("figure", {});
    var box = el("div", {
      class: "chart", id: id, role: "img",
      "aria-label": chart.title + ": forecast against thresholds, burst windows and deadlines. " +
        "The list below and the table of requests give the same figures."
    });
    figure.appendChild(box);
    var caption = el("figcaption", {});
    figure.appendChild(caption);
    section.appendChild(figure);
    // uPlot needs the box in the document to measure it; draw once the section is placed.
    requestAnimationFrame(function () {
      var plot = drawChart(chart, box, view);
      fillCaption(caption, chart, plot);
    });
    return section;
  }

  function fillCaption(caption, chart, plot) {
    caption.appendChild(keyLine(chart));
    var list = el("ul", {});
    chart.bursts.forEach(function (burst) {
      var item = el("li", {}, burst.caption);
      var zoom = el("button", { type: "button" }, "Zoom to #" + burst.number);
      zoom.addEventListener("click", function () {
        var pad = Math.max(DAY, (burst.end - burst.start) * 0.15);
        plot.setScale("x", { min: burst.start - pad, max: burst.end + pad });
      });
      item.appendChild(zoom);
      list.appendChild(item);
    });
    caption.appendChild(list);
    if (chart.events.length) {
      caption.appendChild(el("p", { class: "key" },
        "Major events: " + chart.events.map(function (e) { return e.caption; }).join("; ")));
    }
    var all = el("button", { type: "button" }, "Show the whole range");
    all.addEventListener("click", function () {
      plot.setScale("x", { min: chart.start, max: chart.end });
    });
    var line = el("p", { class: "key" }, "Drag across the chart to zoom in.");
    line.appendChild(all);
    caption.appendChild(line);
  }

  function keyLine(chart) {
    var key = el("p", { class: "key" });
    var minutes = chart.bucket_seconds / 60;
    [
      ["forecast", "solid line: forecast, highest point of each " + minutes + " min"],
      ["threshold", "dashed: threshold"],
      ["baseline", "dotted: baseline"],
      ["area burst", "hatched #n: burst window"],
      ["area event", "shaded band: major event"],
      ["deadline", "dashed vertical #n: deadline"]
    ].forEach(function (entry) {
      var item = el("span", {});
      item.appendChild(el("span", { class: "swatch " + entry[0], "aria-hidden": "true" }));
      item.appendChild(document.createTextNode(entry[1]));
      key.appendChild(item);
    });
    return key;
  }

  function requestTable(rows) {
    var tracked = rows.some(function (r) { return r.state !== null; });
    var columns = [
      ["#", "number"], ["Deadline", "deadline"], ["Left", "time_left"],
      [tracked ? "Status / state" : "Status", "status"], ["Rule", "rule"], ["Scope", "scope"],
      ["Peak", "peak"], ["Value / threshold", "value_threshold"], ["Burst", "burst_start"],
      ["Lead", "lead_time"], ["Event", "event"]
    ];
    var table = el("table", { id: "requests" });
    table.appendChild(el("caption", {},
      "Requests by deadline (* a deadline on an estimated working-day calendar; " +
      "Left: working days, or hours on the last day)"));
    var head = el("tr", {});
    columns.forEach(function (c) { head.appendChild(el("th", { scope: "col" }, c[0])); });
    table.appendChild(el("thead", {})).appendChild(head);
    var body = table.appendChild(el("tbody", {}));
    rows.forEach(function (row) {
      var tr = el("tr", { "data-id": row.id });
      columns.forEach(function (c) {
        var cell = el("td", {}, row[c[1]] === null ? "" : row[c[1]]);
        if (c[1] === "burst_start") burstCell(cell, row);
        if (c[1] === "status") statusCell(cell, row);
        if (NUMERIC.indexOf(c[1]) >= 0) cell.classList.add("number");
        if (WRAPPED.indexOf(c[1]) >= 0) cell.classList.add("wrap");
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
    var section = el("section", { "aria-labelledby": "requests-title" });
    section.appendChild(el("h2", { id: "requests-title" }, "Requests"));
    section.appendChild(el("div", { class: "table-wrap" })).appendChild(table);
    return section;
  }

  function statusCell(cell, row) {
    cell.replaceChildren(el("span", { class: "status " + row.status }, row.status));
    if (row.state !== null) {
      cell.appendChild(document.createTextNode(" / "));
      cell.appendChild(el("span", { class: "state" }, row.state));
    }
  }

  function burstCell(cell, row) {
    cell.replaceChildren(el("span", { class: "moment" }, row.burst_start), document.createTextNode(" "),
      el("span", { class: "moment" }, "to " + row.burst_end));
  }

  function warningList(warnings) {
    var section = el("section", { "aria-labelledby": "warnings-title", class: "warnings" });
    section.appendChild(el("h2", { id: "warnings-title" }, "Warnings"));
    var list = section.appendChild(el("ul", {}));
    warnings.forEach(function (w) { list.appendChild(el("li", {}, w)); });
    return section;
  }

  // -- the chart -------------------------------------------------------------------------------

  function chartData(chart) {
    var x = chart.forecast.map(function (_, i) { return chart.first + i * chart.bucket_seconds; });
    var forecast = chart.forecast.slice();
    // Points at the ends of the shown range (now, early deadlines) so the axis reaches them.
    if (chart.start < x[0]) { x.unshift(chart.start); forecast.unshift(null); }
    if (chart.end > x[x.length - 1]) { x.push(chart.end); forecast.push(null); }
    var levels = chart.levels.map(function (level) {
      return x.map(function (t) {
        for (var i = 0; i < level.spans.length; i++) {
          var span = level.spans[i];
          if (span.start <= t && t < span.end) return span.value;
        }
        return null;
      });
    });
    return [x, forecast].concat(levels);
  }

  function formatNumber(value) {
    if (value === null || value === undefined) return "–";
    return value.toLocaleString("en-US", { maximumFractionDigits: 1 });
  }

  function drawChart(chart, box, view) {
    var unit = chart.unit;
    var valueText = function (u, v) { return v === null || v === undefined ? "–" : formatNumber(v) + " " + unit; };
    var series = [
      { label: "time" },
      Object.assign({ label: "forecast", value: valueText, points: { show: false } }, LINES.forecast)
    ].concat(chart.levels.map(function (level) {
      var line = Object.assign({}, LINES[level.kind]);
      if (level.kind === "threshold" && level.rule === "monthly-charged-bandwidth") {
        line.dash = MONTHLY_DASH;
      }
      return Object.assign({ label: level.label, value: valueText, points: { show: false } }, line);
    }));
    var nowEpoch = Math.floor(Date.parse(view.now) / 1000);
    var options = {
      width: Math.max(320, box.clientWidth),
      height: 300,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), view.time_zone); },
      scales: { x: { time: true } },
      series: series,
      axes: [
        { stroke: INK },
        { stroke: INK, size: 70, label: unit, values: function (u, ticks) { return ticks.map(formatNumber); } }
      ],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        drawClear: [function (u) { drawAreas(u, chart); }],
        draw: [function (u) { drawMarks(u, chart, nowEpoch); }]
      }
    };
    var plot = new uPlot(options, chartData(chart), box);
    plot.setScale("x", { min: chart.start, max: chart.end });
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(320, box.clientWidth), height: 300 });
    });
    return plot;
  }

  function ratio() { return window.devicePixelRatio || 1; }

  function spanPixels(u, start, end) {
    var left = u.valToPos(start, "x", true);
    var right = u.valToPos(end, "x", true);
    var least = 4 * ratio(); // a three-hour burst on a quarter's axis is still seen
    if (right - left < least) {
      var middle = (left + right) / 2;
      left = middle - least / 2;
      right = middle + least / 2;
    }
    return [left, right];
  }

  var hatches = {};
  function hatch(ctx) {
    var size = Math.round(8 * ratio());
    if (!hatches[size]) {
      var tile = document.createElement("canvas");
      tile.width = tile.height = size;
      var t = tile.getContext("2d");
      t.fillStyle = "rgba(217,115,13,0.18)";
      t.fillRect(0, 0, size, size);
      t.strokeStyle = "rgba(217,115,13,0.75)";
      t.lineWidth = Math.max(1, ratio());
      t.beginPath();
      t.moveTo(0, size);
      t.lineTo(size, 0);
      t.stroke();
      hatches[size] = tile;
    }
    return ctx.createPattern(hatches[size], "repeat");
  }

  function clipped(u, paint) {
    var ctx = u.ctx;
    var box = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.left, box.top, box.width, box.height);
    ctx.clip();
    paint(ctx, box);
    ctx.restore();
  }

  function drawAreas(u, chart) {
    clipped(u, function (ctx, box) {
      chart.events.forEach(function (event) {
        var x = spanPixels(u, event.start, event.end);
        ctx.fillStyle = "rgba(111,66,193,0.14)";
        ctx.fillRect(x[0], box.top, x[1] - x[0], box.height);
        ctx.strokeStyle = "rgba(111,66,193,0.6)";
        ctx.lineWidth = ratio();
        ctx.strokeRect(x[0], box.top, x[1] - x[0], box.height);
      });
      chart.bursts.forEach(function (burst) {
        var x = spanPixels(u, burst.start, burst.end);
        ctx.fillStyle = hatch(ctx);
        ctx.fillRect(x[0], box.top, x[1] - x[0], box.height);
      });
    });
  }

  function drawMarks(u, chart, nowEpoch) {
    clipped(u, function (ctx, box) {
      var labels = [];
      vertical(u, ctx, box, nowEpoch, "#8c959f", []);
      labels.push({ at: nowEpoch, text: "now", colour: "#57606a", bottom: true });
      chart.bursts.forEach(function (burst) {
        vertical(u, ctx, box, burst.deadline, INK, [6 * ratio(), 4 * ratio()]);
        labels.push({ at: burst.deadline, text: "#" + burst.number + " deadline", colour: INK });
        labels.push({ at: burst.start, text: "#" + burst.number + " burst", colour: "#8a4b08" });
      });
      chart.events.forEach(function (event) {
        labels.push({ at: event.start, text: event.name, colour: "#5a32a3" });
      });
      placeLabels(u, ctx, box, labels);
    });
  }

  function vertical(u, ctx, box, at, colour, dash) {
    var x = Math.round(u.valToPos(at, "x", true));
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5 * ratio();
    ctx.setLineDash(dash);
    ctx.beginPath();
    ctx.moveTo(x, box.top);
    ctx.lineTo(x, box.top + box.height);
    ctx.stroke();
    ctx.setLineDash([]);
  }

  // Labels left to right, each on the first row where it does not overlap the one before.
  function placeLabels(u, ctx, box, labels) {
    var size = 11 * ratio();
    var pad = 3 * ratio();
    ctx.font = "600 " + size + "px system-ui, sans-serif";
    ctx.textBaseline = "top";
    ctx.textAlign = "left"; // uPlot leaves it as its last axis set it
    var rowsEnd = { top: [], bottom: [] };
    labels.sort(function (a, b) { return a.at - b.at; }).forEach(function (label) {
      var x = u.valToPos(label.at, "x", true) + pad;
      if (x < box.left || x > box.left + box.width) return;
      var text = label.text.length > 40 ? label.text.slice(0, 39) + "…" : label.text;
      var width = ctx.measureText(text).width;
      var ends = label.bottom ? rowsEnd.bottom : rowsEnd.top;
      var row = 0;
      while (ends[row] !== undefined && ends[row] > x) row++;
      ends[row] = x + width + 2 * pad;
      var y = label.bottom
        ? box.top + box.height - (row + 1) * (size + 2 * pad)
        : box.top + pad + row * (size + 2 * pad);
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(x - pad / 2, y - pad / 2, width + pad, size + pad);
      ctx.fillStyle = label.colour;
      ctx.fillText(text, x, y);
    });
  }

  start();
})();

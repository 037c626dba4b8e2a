// The reports page's charts, drawn with Apache ECharts 6.1.0 (vendor/echarts.min.js, from the npm
// package "echarts"; Apache-2.0, see vendor/echarts.LICENSE). The figures come from
// GET /api/reports/summary, rendered into <script id="report-data"> with every label already in
// the page's language; the table under each chart holds the same numbers for those without scripts.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var text = data.text;
  var colors = ["#c8102e", "#0b62c4", "#1a7f37", "#b35900", "#6f42c1", "#5b636e", "#0f8a8a", "#d4a017", "#8a3b12"];
  var font = getComputedStyle(document.body).fontFamily;
  var charts = [];

  function draw(id, option) {
    var box = document.getElementById(id);
    box.hidden = false;
    var chart = echarts.init(box);
    option.color = option.color || colors;
    option.textStyle = { fontFamily: font };
    option.tooltip = option.tooltip || { trigger: "axis" };
    chart.setOption(option);
    charts.push(chart);
    // Drawn: its table folds away under "the numbers".
    document.querySelector('details[data-chart="' + id + '"]').open = false;
  }

  function countAxis(name) {
    return { type: "value", name: name, minInterval: 1 };
  }

  // A value axis along the bottom of a horizontal bar chart: its name centred under it.
  function bottomAxis(name, counts) {
    return { type: "value", name: name, nameLocation: "middle", nameGap: 28, minInterval: counts ? 1 : 0 };
  }

  function sum(values) {
    return values.reduce(function (a, b) { return a + b; }, 0);
  }

  draw("chart-points", {
    legend: { top: 0 },
    grid: { left: 16, right: 16, top: 48, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: data.months },
    yAxis: countAxis(text.points_axis),
    series: [
      { name: text.issued, type: "bar", data: data.issued },
      { name: text.redeemed, type: "bar", data: data.redeemed }
    ]
  });

  if (data.statuses.length) {
    draw("chart-status", {
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { bottom: 0, type: "scroll" },
      series: [{
        name: text.status_title, type: "pie", radius: ["35%", "62%"], center: ["50%", "45%"],
        label: { formatter: "{b}: {c}" }, data: data.statuses
      }]
    });
  }

  if (data.categories.length) {
    draw("chart-categories", {
      grid: { left: 16, right: 32, top: 16, bottom: 36, containLabel: true },
      xAxis: bottomAxis(text.orders_axis, true),
      yAxis: { type: "category", inverse: true, data: data.categories.map(function (c) { return c.name; }) },
      series: [{
        name: text.orders_axis, type: "bar", label: { show: true, position: "right" },
        data: data.categories.map(function (c) { return c.value; })
      }]
    });
  }

  if (data.timings.some(function (v) { return v !== null; })) {
    draw("chart-timings", {
      color: [colors[1]],
      grid: { left: 24, right: 48, top: 16, bottom: 36, containLabel: true },
      xAxis: bottomAxis(text.minutes_axis, false),
      yAxis: { type: "category", inverse: true, data: [text.to_accept, text.to_finish] },
      series: [{
        name: text.minutes_axis, type: "bar", barWidth: "40%", label: { show: true, position: "right" },
        data: data.timings
      }]
    });
  }

  if (sum(data.ratings)) {
    draw("chart-ratings", {
      color: ["#d4a017"],
      grid: { left: 16, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.rating_labels },
      yAxis: countAxis(text.orders_axis),
      series: [{ name: text.ratings_title, type: "bar", label: { show: true, position: "top" }, data: data.ratings }]
    });
  }

  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();

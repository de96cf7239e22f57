/**
 * The report's drawing code, run in the browser: it reads the JSON in #report-data (the ChartSpec[] built by
 * charts.ts) and draws each chart with uPlot, plus the event markers, the "events under the cursor" line, synced
 * zoom and resizing. Inlined into the page after uPlot.
 *
 * It is kept as a string (plain ES2019, no modules, no backtick or dollar-brace inside) rather than a .js file read at
 * run time, so that the report also works from a bundled CLI. Text from the data is only ever set with
 * textContent (uPlot's legend does the same), never as HTML. test/report/browser.test.ts runs it in Chromium.
 */
export const CLIENT_JS = String.raw`(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var stepped = uPlot.paths.stepped({ align: 1 });
  var plots = [];
  var syncingScale = false;

  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }

  function formatTime(t) {
    var d = new Date(t * 1000);
    return d.getUTCFullYear() + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate()) + ' ' +
      pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes()) + ' UTC';
  }

  function formatDuration(s) {
    s = Math.round(Math.max(0, s));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + pad2(s % 60) + 's';
    var m = Math.round(s / 60);
    return Math.floor(m / 60) + 'h' + pad2(m % 60) + 'm';
  }

  function formatValue(unit, v) {
    if (v === null || v === undefined) return '–';
    switch (unit) {
      case 'usd_per_hour':
        return '$' + v.toFixed(4) + '/h';
      case 'usd':
        return '$' + v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      case 'seconds':
        return formatDuration(v);
      default:
        return Math.round(v).toLocaleString('en-US');
    }
  }

  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  // Time ticks as 24-hour UTC clock times, with the date under the first tick and under each midnight.
  function timeTicks(u, splits, axisIdx, space, incr) {
    return splits.map(function (t, i) {
      var d = new Date(t * 1000);
      var day = MONTHS[d.getUTCMonth()] + ' ' + d.getUTCDate();
      if (incr >= 86400) return day;
      var hm = pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes());
      return i === 0 || (d.getUTCHours() === 0 && d.getUTCMinutes() === 0) ? hm + '\n' + day : hm;
    });
  }

  // Round durations for a wait axis: 30s, 5m, 1h30m rather than 33m20s.
  var DURATION_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

  function formatDurationTick(s) {
    if (s < 60) return s + 's';
    if (s < 3600) return Math.round(s / 60) + 'm';
    var m = Math.round(s / 60);
    return Math.floor(m / 60) + 'h' + (m % 60 ? pad2(m % 60) + 'm' : '');
  }

  function formatAxis(unit, v) {
    if (v === null || v === undefined) return '';
    switch (unit) {
      case 'usd_per_hour':
        return '$' + (v < 1 ? v.toFixed(3) : v.toFixed(2));
      case 'usd':
        return '$' + (v >= 1000 ? Math.round(v).toLocaleString('en-US') : v < 10 ? v.toFixed(2) : v.toFixed(0));
      case 'seconds':
        return formatDurationTick(v);
      default:
        return Number.isInteger(v) ? v.toLocaleString('en-US') : '';
    }
  }

  function hexToRgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + alpha + ')';
  }

  // Markers: a thin vertical line per event over the plot, a small triangle at its top.
  function drawMarks(spec) {
    return function (u) {
      if (!spec.marks.length) return;
      var ctx = u.ctx;
      var box = u.bbox;
      var px = window.devicePixelRatio || 1;
      ctx.save();
      ctx.beginPath();
      ctx.rect(box.left, box.top, box.width, box.height);
      ctx.clip();
      for (var i = 0; i < spec.marks.length; i++) {
        var m = spec.marks[i];
        var x = Math.round(u.valToPos(m.t, 'x', true)) + 0.5;
        if (x < box.left || x > box.left + box.width) continue;
        var color = data.markStyle[m.kind].color;
        ctx.globalAlpha = 0.5;
        ctx.strokeStyle = color;
        ctx.lineWidth = px;
        ctx.setLineDash(m.kind === 'storm' ? [6 * px, 3 * px] : []);
        ctx.beginPath();
        ctx.moveTo(x, box.top);
        ctx.lineTo(x, box.top + box.height);
        ctx.stroke();
        ctx.globalAlpha = 1;
        ctx.fillStyle = color;
        ctx.beginPath();
        ctx.moveTo(x - 4 * px, box.top);
        ctx.lineTo(x + 4 * px, box.top);
        ctx.lineTo(x, box.top + 6 * px);
        ctx.closePath();
        ctx.fill();
      }
      ctx.restore();
    };
  }

  // Under each chart: the events within a few pixels of the cursor, as text.
  function showNearbyMarks(spec, hoverEl) {
    return function (u) {
      var left = u.cursor.left;
      if (left === undefined || left === null || left < 0 || !spec.marks.length) {
        hoverEl.textContent = '';
        return;
      }
      var near = [];
      for (var i = 0; i < spec.marks.length; i++) {
        var m = spec.marks[i];
        if (Math.abs(u.valToPos(m.t, 'x') - left) <= 5) near.push(m);
      }
      hoverEl.textContent = near.slice(0, 4).map(function (m) {
        return formatTime(m.t) + ' ' + data.markStyle[m.kind].label + ': ' + m.detail;
      }).join('  ·  ') + (near.length > 4 ? '  ·  +' + (near.length - 4) + ' more' : '');
    };
  }

  // Zoom one chart, zoom them all: they share the time axis.
  function syncScale(u, key) {
    if (key !== 'x' || syncingScale) return;
    syncingScale = true;
    var min = u.scales.x.min;
    var max = u.scales.x.max;
    for (var i = 0; i < plots.length; i++) {
      if (plots[i] !== u) plots[i].setScale('x', { min: min, max: max });
    }
    syncingScale = false;
  }

  function zeroBasedRange(unit) {
    return function (u, min, max) {
      var top = max === null || max === undefined || !(max > 0) ? 1 : max * 1.08;
      if (unit === 'count') top = Math.max(1, Math.ceil(top));
      return [0, top];
    };
  }

  function makePlot(spec) {
    var el = document.getElementById(spec.id);
    var hoverEl = document.querySelector('[data-hover-for="' + spec.id + '"]');
    // The legend shows the time under the cursor (rows are only kept where something changed).
    var series = [{
      label: 'time',
      value: function (u) {
        var left = u.cursor.left;
        return left === undefined || left === null || left < 0 ? '–' : formatTime(u.posToVal(left, 'x'));
      },
    }];
    spec.series.forEach(function (s) {
      series.push({
        label: s.label,
        stroke: s.color,
        width: s.width || 1.5,
        dash: s.dash,
        fill: s.fill ? hexToRgba(s.color, 0.18) : undefined,
        paths: s.pointsOnly ? function () { return null; } : stepped,
        points: s.pointsOnly ? { show: true, size: 10, fill: s.color, stroke: s.color } : { show: false },
        spanGaps: false,
        value: function (u, v) { return formatValue(spec.yUnit, v); },
      });
    });
    var opts = {
      width: Math.max(300, el.clientWidth),
      height: spec.height,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'); },
      scales: { x: { time: true }, y: spec.logScale ? { distr: 3, log: 10 } : { range: zeroBasedRange(spec.yUnit) } },
      series: series,
      axes: [
        { stroke: '#4b5563', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#d1d5db' }, values: timeTicks },
        {
          label: spec.yLabel,
          stroke: '#4b5563',
          size: 64,
          grid: { stroke: '#eef0f3' },
          ticks: { stroke: '#d1d5db' },
          values: function (u, vals) { return vals.map(function (v) { return formatAxis(spec.yUnit, v); }); },
        },
      ],
      cursor: {
        sync: { key: 'spotfarm-report' },
        // Every line is a step function: the value under the cursor is the row at or before it, not the nearest.
        dataIdx: function (u, seriesIdx, closestIdx, xValue) {
          var xs = u.data[0];
          var i = closestIdx;
          while (i > 0 && xs[i] > xValue) i--;
          return i;
        },
        points: { show: false },
        // A horizontal line would be synced to the other charts' pixels, where it means nothing.
        y: false,
      },
      legend: { live: true },
      hooks: {
        draw: [drawMarks(spec)],
        setCursor: hoverEl ? [showNearbyMarks(spec, hoverEl)] : [],
        setScale: [syncScale],
      },
    };
    if (spec.yUnit === 'seconds') opts.axes[1].incrs = DURATION_INCRS;
    var columns = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    var plot = new uPlot(opts, columns, el);
    plot.spotfarmSpec = spec;
    plots.push(plot);
  }

  data.charts.forEach(makePlot);

  // The frontier (with --sweep): cost against p95 wait, one line of points per policy in the order of the swept
  // values (uPlot's mode 2: each series has its own x values). Not synced with the time charts.
  var frontierPlot = null;

  function frontierRange(values, zeroBased) {
    var min = Infinity;
    var max = -Infinity;
    values.forEach(function (v) {
      if (v < min) min = v;
      if (v > max) max = v;
    });
    if (!isFinite(min)) return [0, 1];
    var pad = Math.max((max - min) * 0.12, Math.abs(max) * 0.05, 1);
    return [zeroBased ? 0 : Math.max(0, min - pad), max + pad];
  }

  // Each point: a dot, or a cross for a dominated baseline point, or an open diamond for spotfarm run at a baseline
  // point's p95 (a matched run, labelled with the point it matches; a swept point that matches one is ringed). Then
  // each label beside its point (points of one series on the same spot share one: 2m, 5m), at the first of a few
  // places around it that overlaps no label or point already there: matched runs sit in clusters by the baseline
  // points they match.
  function drawFrontierPoints(spec) {
    return function (u) {
      var ctx = u.ctx;
      var px = window.devicePixelRatio || 1;
      ctx.save();
      ctx.font = Math.round(11 * px) + 'px system-ui, sans-serif';
      ctx.textBaseline = 'middle';
      var taken = [];
      var labels = [];
      spec.series.forEach(function (s) {
        var mine = {};
        s.points.forEach(function (p) {
          var x = Math.round(u.valToPos(p.x, 'x', true));
          var y = Math.round(u.valToPos(p.y, 'y', true));
          var key = x + ',' + y;
          if (!mine[key]) {
            mine[key] = { x: x, y: y, text: [], color: s.color };
            labels.push(mine[key]);
          }
          var label = p.also ? p.value + ' [' + p.also + ']' : p.value;
          mine[key].text.push(p.matches ? label + ' (' + p.matches + ')' : label);
          taken.push({ x0: x - 7 * px, y0: y - 7 * px, x1: x + 7 * px, y1: y + 7 * px });
          ctx.fillStyle = s.color;
          ctx.strokeStyle = s.color;
          if (s.matched) {
            ctx.lineWidth = 2 * px;
            ctx.beginPath();
            ctx.moveTo(x, y - 7 * px);
            ctx.lineTo(x + 7 * px, y);
            ctx.lineTo(x, y + 7 * px);
            ctx.lineTo(x - 7 * px, y);
            ctx.closePath();
            ctx.stroke();
          } else if (p.dominated) {
            ctx.lineWidth = 2 * px;
            ctx.beginPath();
            ctx.moveTo(x - 5 * px, y - 5 * px);
            ctx.lineTo(x + 5 * px, y + 5 * px);
            ctx.moveTo(x + 5 * px, y - 5 * px);
            ctx.lineTo(x - 5 * px, y + 5 * px);
            ctx.stroke();
          } else {
            ctx.beginPath();
            ctx.arc(x, y, (s.label === 'spotfarm' ? 5 : 4) * px, 0, 2 * Math.PI);
            ctx.fill();
            if (p.matches) {
              ctx.lineWidth = 1.5 * px;
              ctx.beginPath();
              ctx.arc(x, y, 9 * px, 0, 2 * Math.PI);
              ctx.stroke();
            }
          }
        });
      });
      var left = u.bbox.left;
      var right = u.bbox.left + u.bbox.width;
      var h = 13 * px;
      var clash = function (r) {
        return taken.some(function (t) {
          return r.x0 < t.x1 && t.x0 < r.x1 && r.y0 < t.y1 && t.y0 < r.y1;
        });
      };
      labels.forEach(function (l) {
        var text = l.text.join(', ');
        var w = ctx.measureText(text).width;
        var places = [];
        [-9, 14, -23, 28, -37, 42, -51, 56].forEach(function (dy) {
          places.push({ x0: l.x + 7 * px, dy: dy });
          places.push({ x0: l.x - 7 * px - w, dy: dy });
        });
        var fits = places
          .map(function (c) {
            var cy = l.y + c.dy * px;
            return { x0: c.x0, y0: cy - h / 2, x1: c.x0 + w, y1: cy + h / 2, cy: cy };
          })
          .filter(function (r) {
            return r.x0 >= left && r.x1 <= right;
          });
        var at = fits.filter(function (r) { return !clash(r); })[0] || fits[0] || { x0: l.x + 7 * px, x1: l.x + 7 * px + w, y0: l.y - 9 * px - h / 2, y1: l.y - 9 * px + h / 2, cy: l.y - 9 * px };
        taken.push(at);
        // A label pushed away from its point gets a thin line back to it.
        if (Math.abs(at.cy - l.y) > 20 * px) {
          var ex = Math.max(at.x0, Math.min(l.x, at.x1));
          var ey = at.cy > l.y ? at.y0 : at.y1;
          ctx.strokeStyle = l.color;
          ctx.lineWidth = 0.75 * px;
          ctx.beginPath();
          ctx.moveTo(l.x, l.y + (ey > l.y ? 7 : -7) * px);
          ctx.lineTo(ex, ey);
          ctx.stroke();
        }
        ctx.fillStyle = l.color;
        ctx.textAlign = 'left';
        ctx.fillText(text, at.x0, at.cy);
      });
      ctx.restore();
    };
  }

  function makeFrontier(spec) {
    var el = document.getElementById(spec.id);
    var xs = [];
    var ys = [];
    spec.series.forEach(function (s) {
      s.points.forEach(function (p) {
        xs.push(p.x);
        ys.push(p.y);
      });
    });
    var xRange = frontierRange(xs, true);
    var yRange = frontierRange(ys, false);
    var series = [{}];
    var columns = [null];
    spec.series.forEach(function (s) {
      var line = {
        label: s.label,
        stroke: s.color,
        width: s.label === 'spotfarm' ? 2.5 : 1.5,
        points: { show: false },
      };
      // Matched runs are points of their own, not steps of a line: no path (drawFrontierPoints draws them).
      if (s.matched) line.paths = function () { return null; };
      series.push(line);
      columns.push([s.points.map(function (p) { return p.x; }), s.points.map(function (p) { return p.y; })]);
    });
    var opts = {
      mode: 2,
      width: Math.max(300, el.clientWidth),
      height: spec.height,
      scales: {
        x: { time: false, range: function () { return xRange; } },
        y: { range: function () { return yRange; } },
      },
      series: series,
      axes: [
        {
          label: 'wait, p95',
          stroke: '#4b5563',
          grid: { stroke: '#eef0f3' },
          ticks: { stroke: '#d1d5db' },
          incrs: DURATION_INCRS,
          values: function (u, vals) { return vals.map(formatDurationTick); },
        },
        {
          label: 'cost (USD)',
          stroke: '#4b5563',
          size: 64,
          grid: { stroke: '#eef0f3' },
          ticks: { stroke: '#d1d5db' },
          values: function (u, vals) { return vals.map(function (v) { return formatAxis('usd', v); }); },
        },
      ],
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      legend: { live: false },
      hooks: { draw: [drawFrontierPoints(spec)] },
    };
    frontierPlot = new uPlot(opts, columns, el);
    frontierPlot.spotfarmSpec = spec;
  }

  if (data.frontier) makeFrontier(data.frontier);

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      plots.concat(frontierPlot ? [frontierPlot] : []).forEach(function (p) {
        var el = document.getElementById(p.spotfarmSpec.id);
        p.setSize({ width: Math.max(300, el.clientWidth), height: p.spotfarmSpec.height });
      });
    }, 100);
  });

  // For tests and curious users: how many charts were drawn.
  window.spotfarmReport = {
    charts: plots.length,
    frontier: frontierPlot !== null,
    ready: true,
    xRanges: function () {
      return plots.map(function (p) { return [p.scales.x.min, p.scales.x.max]; });
    },
  };
})();
`;

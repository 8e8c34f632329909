// hpo dashboard: the studies list (index.html) and one study (study.html), over the
// coordinator's JSON API (docs/dashboard.md). Vanilla ES2017, no build step; charts are
// Chart.js 3.9 (global `Chart`, served as /static/chart.js). Everything that comes from the API
// reaches the DOM as textContent or as attributes, never as HTML.
//
// What rendered is exposed for tests: each plot's container has data-points (trials plotted),
// the trials table data-rows, <body> data-ready="1" after the first full render and
// data-live-events (SSE messages received).
'use strict';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Creates an element: el('td', {className: 'num', title: 'x'}, 'text', childNode, ...). */
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function $(id) {
  return document.getElementById(id);
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GETs JSON; a non-2xx answer throws ApiError carrying the server's {"error": ...} text. */
async function api(path) {
  const response = await fetch(path, {headers: {Accept: 'application/json'}});
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    if (response.ok) throw new ApiError(response.status, `${path}: the answer is not JSON`);
  }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return body;
}

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = !message;
}

/** The API writes non-finite values as "NaN", "Infinity", "-Infinity"; null means none. */
function toNumber(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return value;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  const n = Number(value);
  return Number.isNaN(n) ? null : n;
}

function isFiniteNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Short, exact-enough text for a number (6 significant digits), or the value as it is. */
function fmt(value) {
  if (value === null || value === undefined || value === '') return '—';
  // Strings stay as they are: a categorical "007" is not the number 7, and the API's "NaN",
  // "Infinity" and "-Infinity" read as they should.
  if (typeof value !== 'number') return String(value);
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e7)) return value.toExponential(4);
  return String(Number(value.toPrecision(6)));
}

function fmtTime(ms) {
  const n = toNumber(ms);
  if (!n) return '—';
  const d = new Date(n);
  const pad = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function fmtDuration(startMs, endMs) {
  const start = toNumber(startMs);
  if (!start) return '—';
  const end = toNumber(endMs) || Date.now();
  const s = Math.max(0, (end - start) / 1000);
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** Splits a long text into lines of at most `width` characters, for tooltips. */
function wrap(text, width = 64) {
  const lines = [];
  let line = '';
  for (const word of String(text).split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function stateBadge(node, state) {
  node.textContent = state || '';
  node.className = `badge state-${String(state || '').toLowerCase()}`;
}

function studyPath(name) {
  return `/study/${encodeURIComponent(name)}`;
}

function apiStudyPath(name) {
  return `/api/studies/${encodeURIComponent(name)}`;
}

// Colors: a viridis ramp cut before its pale yellow end (unreadable on white); 1 is best.
const RAMP = ['#b5de2b', '#6ece58', '#35b779', '#1f9e89', '#26828e', '#31688e', '#3e4989',
  '#482878', '#440154'];
const STATE_COLORS = {
  PENDING: '#9aa0a6', RUNNING: '#1a73e8', COMPLETED: '#188038', PRUNED: '#e37400',
  FAILED: '#d93025', LOST: '#80868b',
};

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The ramp's color at goodness g in [0, 1] (1 = best), with alpha. */
function rampColor(g, alpha = 1) {
  const x = Math.min(1, Math.max(0, g)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const a = hexToRgb(RAMP[i]);
  const b = hexToRgb(RAMP[i + 1]);
  const t = x - i;
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * t));
  return `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${alpha})`;
}

/** Goodness in [0, 1] of each value by rank (robust to outliers); direction-aware. */
function goodnessByRank(values, direction) {
  const order = values.map((v, i) => i).sort((i, j) =>
    direction === 'maximize' ? values[j] - values[i] : values[i] - values[j]);
  const goodness = new Array(values.length).fill(1);
  const n = values.length;
  order.forEach((index, rank) => {
    goodness[index] = n > 1 ? 1 - rank / (n - 1) : 1;
  });
  return goodness;
}

function isBetter(a, b, direction) {
  return direction === 'maximize' ? a > b : a < b;
}

// ---------------------------------------------------------------------------------------------
// Chart.js glue

const charts = new Map();  // key -> Chart

/** Creates the chart in `canvas`, or updates the one already there with the new config. */
function upsertChart(key, canvas, config) {
  const existing = charts.get(key);
  if (existing && existing.config.type === config.type && existing.canvas === canvas) {
    existing.data = config.data;
    existing.options = config.options;
    existing.update('none');
    return existing;
  }
  if (existing) existing.destroy();
  const chart = new Chart(canvas, config);
  charts.set(key, chart);
  return chart;
}

function destroyChart(key) {
  const chart = charts.get(key);
  if (chart) chart.destroy();
  charts.delete(key);
}

function configureChartDefaults() {
  if (typeof Chart === 'undefined') return;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family =
      'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  Chart.defaults.font.size = 11;
  Chart.defaults.plugins.tooltip.displayColors = false;
}

/** Shows `text` over a chart's container (an empty plot says why), or removes it. */
function setEmptyNote(container, text) {
  let note = container.querySelector(':scope > .empty');
  if (!text) {
    if (note) note.remove();
    return;
  }
  if (!note) {
    note = el('p', {className: 'muted empty'});
    container.append(note);
  }
  note.textContent = text;
}

function axisTitle(text) {
  return {display: true, text};
}

// ---------------------------------------------------------------------------------------------
// Studies list (index.html)

const INDEX_REFRESH_MS = 3000;

function studyRow(study) {
  const counts = study.counts || {};
  const best = study.best_trial;
  const progress = study.max_trials ? `${study.finished_trials} / ${study.max_trials}` :
                                      String(study.finished_trials);
  const objective = study.objective ?
      `${study.objective.direction === 'maximize' ? 'max' : 'min'} ${study.objective.metric}` : '';
  const bar = el('progress', {max: study.max_trials || 1, value: study.finished_trials || 0});
  const state = el('span');
  stateBadge(state, study.state);
  const waiting = study.state === 'RUNNING' && study.not_accepted ?
      el('span', {className: 'waiting', title: study.not_accepted}, ' waiting: ', study.not_accepted) :
      null;
  const num = (v) => el('td', {className: 'num'}, fmt(v || 0));
  return el('tr', {dataset: {study: study.name}},
      el('td', {}, el('a', {href: studyPath(study.name)}, study.name)),
      el('td', {}, state, waiting),
      el('td', {}, study.optimizer || ''),
      el('td', {}, objective),
      el('td', {className: 'progress-cell'}, bar, ' ', progress),
      el('td', {className: 'num', title: best ? `trial #${best.number}` : ''},
          best ? fmt(best.value) : '—'),
      num(counts.running), num(counts.pending), num(counts.completed), num(counts.pruned),
      num(counts.failed), num(counts.lost),
      el('td', {}, fmtTime(study.create_time_ms)));
}

async function refreshIndex() {
  try {
    const studies = await api('/api/studies');
    const body = document.querySelector('#studies tbody');
    body.replaceChildren(...studies.map(studyRow));
    $('studies').dataset.rows = String(studies.length);
    $('empty').hidden = studies.length > 0;
    $('updated').textContent = `updated ${fmtTime(Date.now())}`;
    showError('');
  } catch (e) {
    showError(`Cannot list studies: ${e.message}`);
  }
}

async function initIndex() {
  await refreshIndex();
  document.body.dataset.ready = '1';
  setInterval(refreshIndex, INDEX_REFRESH_MS);
}

// ---------------------------------------------------------------------------------------------
// The search space: how to place a parameter's value on a [0, 1] axis

function choiceValue(choice) {
  if ('string_value' in choice) return choice.string_value;
  if ('int_value' in choice) return Number(choice.int_value);
  if ('float_value' in choice) return toNumber(choice.float_value);
  if ('bool_value' in choice) return Boolean(choice.bool_value);
  return 0;  // proto3 JSON leaves a zero out
}

/**
 * One parameter of the spec as {name, kind: 'float'|'int'|'categorical', low, high, log,
 * choices}; parameters seen in trials but not in the spec are read off the data.
 */
function describeSpace(study, trials) {
  const params = [];
  const specParams = (study.spec && study.spec.space && study.spec.space.params) || [];
  for (const p of specParams) {
    const domain = p.float_domain || p.int_domain;
    if (domain) {
      params.push({
        name: p.name, kind: p.float_domain ? 'float' : 'int', log: Boolean(domain.log),
        low: toNumber(domain.low) || 0, high: toNumber(domain.high) || 0,
      });
    } else if (p.categorical) {
      params.push({
        name: p.name, kind: 'categorical',
        choices: (p.categorical.choices || []).map(choiceValue),
      });
    }
  }
  const known = new Set(params.map((p) => p.name));
  for (const t of trials) {
    for (const [name, value] of Object.entries(t.params || {})) {
      if (known.has(name)) continue;
      known.add(name);
      params.push(typeof value === 'number' ?
          {name, kind: 'float', log: false, low: null, high: null} :
          {name, kind: 'categorical', choices: []});
    }
  }
  // Fill what the spec did not give from the data.
  for (const p of params) {
    const values = trials.map((t) => (t.params || {})[p.name]).filter((v) => v !== undefined);
    if (p.kind === 'categorical') {
      for (const v of values) {
        if (!p.choices.some((c) => c === v)) p.choices.push(v);
      }
    } else if (p.low === null || p.high === null || !(p.high > p.low)) {
      const nums = values.map(toNumber).filter(isFiniteNumber);
      p.low = nums.length ? Math.min(...nums) : 0;
      p.high = nums.length ? Math.max(...nums) : 1;
      if (p.log && p.low <= 0) p.log = false;
    }
  }
  return params;
}

/** The value's position on the parameter's axis, in [0, 1]; null when absent. */
function normalize(param, value) {
  if (value === undefined || value === null) return null;
  if (param.kind === 'categorical') {
    const index = param.choices.findIndex((c) => c === value);
    if (index < 0) return null;
    return param.choices.length > 1 ? index / (param.choices.length - 1) : 0.5;
  }
  const v = toNumber(value);
  if (!isFiniteNumber(v)) return null;
  if (param.high === param.low) return 0.5;
  if (param.log && v > 0 && param.low > 0) {
    return (Math.log(v) - Math.log(param.low)) / (Math.log(param.high) - Math.log(param.low));
  }
  return (v - param.low) / (param.high - param.low);
}

function paramRangeText(param) {
  if (param.kind === 'categorical') return param.choices.map(String).join(' | ');
  return `${fmt(param.low)} … ${fmt(param.high)}${param.log ? ' (log)' : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Study page (study.html)

const view = {
  name: '',
  study: null,
  trials: new Map(),        // id -> trial (with measurements once known)
  space: [],
  sort: {key: 'number', descending: false},
  rowLimit: 1000,
  detailId: null,
  liveEvents: 0,
  source: null,             // EventSource while the study runs
  importanceAt: -1,         // completed count when importance was last fetched
  renderTimer: null,
  dirtyCurves: new Set(),   // trial ids whose measurements must be fetched again
};

function objective() {
  const o = (view.study && view.study.objective) || {};
  return {metric: o.metric || 'value', direction: o.direction === 'maximize' ? 'maximize' : 'minimize'};
}

function sortedTrials() {
  return [...view.trials.values()].sort((a, b) => a.number - b.number || a.attempt - b.attempt);
}

/** Completed trials with a finite objective value: what history, parallel and slices plot. */
function completedWithValue(trials) {
  return trials.filter((t) => t.state === 'COMPLETED' && isFiniteNumber(toNumber(t.value)));
}

/** A trial's learning curve: [{x: step, y: objective}] from its measurements. */
function curveOf(trial, metric) {
  const points = [];
  for (const m of trial.measurements || []) {
    const y = toNumber((m.metrics || {})[metric]);
    if (isFiniteNumber(y)) points.push({x: toNumber(m.step), y});
  }
  return points;
}

// --- Summary -----------------------------------------------------------------------------------

function renderSummary() {
  const s = view.study;
  const {metric, direction} = objective();
  document.title = `hpo — ${s.name}`;
  $('study-name').textContent = s.name;
  $('crumb-name').textContent = s.name;
  stateBadge($('study-state'), s.state);
  $('progress').max = s.max_trials || 1;
  $('progress').value = s.finished_trials || 0;
  $('progress-text').textContent =
      `${s.finished_trials} of ${s.max_trials} trials finished`;
  $('download-csv').href = `${apiStudyPath(s.name)}/trials.csv`;
  $('download-json').href = `${apiStudyPath(s.name)}/trials.json`;

  const counts = s.counts || {};
  const best = s.best_trial;
  const spec = s.spec || {};
  const stopper = spec.early_stopping && spec.early_stopping.name ? spec.early_stopping.name : 'none';
  const facts = [
    ['Objective', `${direction} ${metric}`],
    ['Best', best ? el('a', {href: '#detail', onclick: (e) => {
      e.preventDefault();
      openDetail(best.id);
    }}, `${fmt(best.value)} (trial #${best.number})`) : '—'],
    ['Optimizer', `${s.optimizer}${s.optimizer_revision ? ` (revision ${s.optimizer_revision})` : ''}`],
    ['Early stopping', stopper],
    ['Trials', ['running', 'pending', 'completed', 'pruned', 'failed', 'lost']
        .map((k) => `${counts[k] || 0} ${k}`).join(', ')],
    ['Workers', `${s.live_workers || 0} live, ${s.accepting_workers || 0} accepting this study`],
    ['Created', fmtTime(s.create_time_ms)],
    ['Ended', s.end_time_ms ? fmtTime(s.end_time_ms) : '—'],
  ];
  // Two warm starts: the optimizer's (optimizer.warm_start_from: earlier trials seed it) and
  // the stopper's (earlier studies' complete curves, e.g. learning_curve's warm_start: auto).
  const seededFrom = (spec.optimizer && spec.optimizer.warm_start_from) || [];
  if (s.warm_start_trials) {
    facts.push(['Optimizer seeded with', `${s.warm_start_trials} trials` +
        (seededFrom.length ? ` of ${[].concat(seededFrom).join(', ')}` : '')]);
  }
  const curvesFrom = s.warm_start_studies || [];
  if (s.warm_start_curves || curvesFrom.length) {
    facts.push(['Stopper learns from', `${s.warm_start_curves || 0} curves` +
        (curvesFrom.length ? ` of ${[].concat(curvesFrom).join(', ')}` : '')]);
  }
  $('facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  // Live workers exist but none takes this study's trials: say why, as `hpo watch` does.
  const warning = $('not-accepted');
  warning.textContent = s.not_accepted ? `Waiting: ${s.not_accepted}` : '';
  warning.hidden = !(s.not_accepted && s.state === 'RUNNING');
  $('live').hidden = !view.source;
}

// --- Optimization history ----------------------------------------------------------------------

function renderHistory(trials) {
  const {metric, direction} = objective();
  const done = completedWithValue(trials).sort((a, b) => a.number - b.number);
  const logScale = $('history-log').checked && done.every((t) => toNumber(t.value) > 0);
  const points = done.map((t) => ({x: t.number, y: toNumber(t.value), trial: t}));
  const bestLine = [];
  let best = null;
  for (const p of points) {
    if (best === null || isBetter(p.y, best, direction)) best = p.y;
    bestLine.push({x: p.x, y: best});
  }
  const container = $('history');
  container.dataset.points = String(points.length);
  setEmptyNote(container, points.length ? '' : 'No completed trial yet.');
  upsertChart('history', container.querySelector('canvas'), {
    type: 'scatter',
    data: {
      datasets: [
        {
          label: 'best so far', type: 'line', data: bestLine, stepped: true, borderColor: '#d93025',
          borderWidth: 2, pointRadius: 0, pointHitRadius: 0, order: 0,
        },
        {
          label: `${metric} of a trial`, data: points, pointRadius: 3, order: 1,
          backgroundColor: 'rgba(26, 115, 232, 0.6)', borderColor: 'rgba(26, 115, 232, 0.9)',
        },
      ],
    },
    options: {
      scales: {
        x: {type: 'linear', title: axisTitle('trial number'), ticks: {precision: 0}},
        y: {type: logScale ? 'logarithmic' : 'linear', title: axisTitle(`${metric} (${direction})`)},
      },
      plugins: {
        legend: {position: 'bottom'},
        tooltip: {
          callbacks: {
            label: (ctx) => ctx.raw.trial ? `trial #${ctx.raw.x}: ${metric} = ${fmt(ctx.raw.y)}` :
                                            `best so far after #${ctx.raw.x}: ${fmt(ctx.raw.y)}`,
          },
        },
      },
      onClick: (event, elements, chart) => clickTrialPoint(elements, chart),
    },
  });
}

/** Opens the detail of the trial under a clicked point that carries one. */
function clickTrialPoint(elements, chart) {
  for (const element of elements) {
    const dataset = chart.data.datasets[element.datasetIndex];
    const raw = dataset.data[element.index];
    const trial = (raw && raw.trial) || dataset.trial;
    if (trial) {
      openDetail(trial.id);
      return;
    }
  }
}

// --- Learning curves ---------------------------------------------------------------------------

function renderCurves(trials) {
  const {metric, direction} = objective();
  const withCurves = trials.map((t) => ({trial: t, points: curveOf(t, metric)}))
      .filter((c) => c.points.length > 0);
  const finals = withCurves.map((c) => c.points[c.points.length - 1].y);
  const goodness = goodnessByRank(finals, direction);
  const logScale = $('curves-log').checked && withCurves.every((c) => c.points.every((p) => p.y > 0));

  const lines = withCurves.map((c, i) => {
    const t = c.trial;
    let color = rampColor(goodness[i], 0.75);
    if (t.state === 'PRUNED' || t.state === 'LOST') color = 'rgba(128, 134, 139, 0.45)';
    if (t.state === 'FAILED') color = 'rgba(217, 48, 37, 0.6)';
    if (t.state === 'RUNNING') color = 'rgba(26, 115, 232, 0.95)';
    return {
      label: `trial #${t.number}`, trial: t, data: c.points, borderColor: color,
      backgroundColor: color, borderWidth: t.state === 'RUNNING' ? 2.5 : 1.5,
      pointRadius: c.points.length === 1 ? 2.5 : 0,  // a one-point curve is a dot
      pointHitRadius: 4, goodness: t.state === 'COMPLETED' ? goodness[i] : -1,
    };
  });
  // Chart.js draws the first dataset last, on top: best completed first.
  lines.sort((a, b) => b.goodness - a.goodness);

  const stops = withCurves
      .filter((c) => ['PRUNED', 'FAILED'].includes(c.trial.state))
      .map((c) => {
        const last = c.points[c.points.length - 1];
        const t = c.trial;
        const why = t.stop && t.stop.summary ? t.stop.summary : t.failure_reason;
        return {x: last.x, y: last.y, trial: t, why: why || t.state.toLowerCase()};
      });
  const markers = {
    label: 'stopped', type: 'scatter', data: stops, pointStyle: 'crossRot', pointRadius: 6,
    pointHoverRadius: 8, borderWidth: 2, borderColor: '#d93025', backgroundColor: '#d93025',
  };

  const container = $('curves');
  container.dataset.points = String(withCurves.length);
  setEmptyNote(container, withCurves.length ? '' : `No trial has reported ${metric} yet.`);
  container.dataset.stopped = String(stops.length);
  upsertChart('curves', container.querySelector('canvas'), {
    type: 'line',
    data: {datasets: [markers, ...lines]},
    options: {
      interaction: {mode: 'nearest', intersect: true},
      scales: {
        x: {type: 'linear', title: axisTitle('step'), ticks: {precision: 0}},
        y: {type: logScale ? 'logarithmic' : 'linear', title: axisTitle(metric)},
      },
      plugins: {
        legend: {display: false},
        tooltip: {
          callbacks: {
            title: (items) => items.length ? `trial #${(items[0].raw.trial || items[0].dataset.trial).number}` : '',
            label: (ctx) => {
              const trial = ctx.raw.trial || ctx.dataset.trial;
              const head = `${trial.state} · step ${ctx.raw.x}: ${metric} = ${fmt(ctx.raw.y)}`;
              return ctx.raw.why ? [head, ...wrap(ctx.raw.why)] : head;
            },
          },
        },
      },
      onClick: (event, elements, chart) => clickTrialPoint(elements, chart),
    },
  });
}

// --- Parallel coordinates ----------------------------------------------------------------------

function renderParallel(trials) {
  const {metric, direction} = objective();
  const done = completedWithValue(trials);
  const values = done.map((t) => toNumber(t.value));
  const goodness = goodnessByRank(values, direction);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const axes = view.space.map((p) => ({
    label: [p.name, paramRangeText(p)],
    name: p.name,
    position: (t) => normalize(p, (t.params || {})[p.name]),
    raw: (t) => (t.params || {})[p.name],
  }));
  axes.push({
    label: values.length ? [metric, `${fmt(lo)} … ${fmt(hi)}`] : metric,
    name: metric,
    position: (t) => (hi > lo ? (toNumber(t.value) - lo) / (hi - lo) : 0.5),
    raw: (t) => t.value,
  });
  const datasets = done.map((t, i) => ({
    label: `trial #${t.number}`, trial: t, goodness: goodness[i],
    data: axes.map((a) => a.position(t)),
    borderColor: rampColor(goodness[i], 0.55), backgroundColor: rampColor(goodness[i], 0.9),
    borderWidth: goodness[i] === 1 ? 3 : 1.2, pointRadius: 0, pointHitRadius: 4, spanGaps: false,
  })).sort((a, b) => b.goodness - a.goodness);

  const container = $('parallel');
  container.dataset.points = String(done.length);
  setEmptyNote(container, done.length ? '' : 'No completed trial yet.');
  upsertChart('parallel', container.querySelector('canvas'), {
    type: 'line',
    data: {labels: axes.map((a) => a.label), datasets},
    options: {
      interaction: {mode: 'nearest', intersect: false, axis: 'xy'},
      scales: {
        x: {type: 'category', grid: {color: 'rgba(0, 0, 0, 0.25)', lineWidth: 1}, offset: false},
        y: {type: 'linear', min: 0, max: 1, ticks: {display: false}, grid: {display: false}},
      },
      plugins: {
        legend: {display: false},
        tooltip: {
          callbacks: {
            title: (items) => items.length ? `trial #${items[0].dataset.trial.number}` : '',
            label: (ctx) => {
              const t = ctx.dataset.trial;
              return [`${axes[ctx.dataIndex].name} = ${fmt(axes[ctx.dataIndex].raw(t))}`,
                `${metric} = ${fmt(t.value)}`];
            },
          },
        },
      },
      onClick: (event, elements, chart) => clickTrialPoint(elements, chart),
    },
  });
}

// --- Slices ------------------------------------------------------------------------------------

function renderSlices(trials) {
  const {metric} = objective();
  const done = completedWithValue(trials).sort((a, b) => a.number - b.number);
  const container = $('slices');
  container.dataset.points = String(done.length);
  const maxNumber = done.length ? done[done.length - 1].number : 0;

  const names = view.space.map((p) => p.name);
  // One small chart per parameter, created once; the space does not change.
  if (container.dataset.params !== names.join('\n')) {
    for (const key of [...charts.keys()].filter((k) => k.startsWith('slice:'))) destroyChart(key);
    container.replaceChildren(...view.space.map((p) => el('div', {className: 'slice', dataset: {param: p.name}},
        el('div', {className: 'slice-title'}, p.name, el('span', {className: 'muted'}, ` ${paramRangeText(p)}`)),
        el('div', {className: 'chart small'}, el('canvas')))));
    container.dataset.params = names.join('\n');
  }

  for (const p of view.space) {
    const box = container.querySelector(`.slice[data-param="${CSS.escape(p.name)}"]`);
    const has = done.filter((t) => (t.params || {})[p.name] !== undefined);
    const points = has.map((t) => {
      const v = t.params[p.name];
      return {x: p.kind === 'categorical' ? String(v) : toNumber(v), y: toNumber(t.value), trial: t};
    });
    box.dataset.points = String(points.length);
    setEmptyNote(box.querySelector('.chart'), points.length ? '' :
        (done.length ? `No completed trial has ${p.name}.` : 'No completed trial yet.'));
    const colors = has.map((t) => rampColor(maxNumber ? 0.15 + 0.85 * t.number / maxNumber : 1, 0.75));
    let xScale;
    if (p.kind === 'categorical') {
      xScale = {type: 'category', labels: p.choices.map(String), offset: true};
    } else {
      xScale = {type: p.log ? 'logarithmic' : 'linear'};
      if (isFiniteNumber(p.low) && isFiniteNumber(p.high) && p.high > p.low) {
        xScale.min = p.low;
        xScale.max = p.high;
      }
    }
    xScale.title = axisTitle(p.name);
    upsertChart(`slice:${p.name}`, box.querySelector('canvas'), {
      type: 'scatter',
      data: {
        datasets: [{label: p.name, data: points, pointRadius: 3, backgroundColor: colors, borderColor: colors,
          clip: 6}],
      },
      options: {
        scales: {x: xScale, y: {title: axisTitle(metric)}},
        plugins: {
          legend: {display: false},
          tooltip: {
            callbacks: {
              label: (ctx) => `trial #${ctx.raw.trial.number}: ${p.name} = ${fmt(ctx.raw.trial.params[p.name])}, ` +
                  `${metric} = ${fmt(ctx.raw.y)}`,
            },
          },
        },
        onClick: (event, elements, chart) => clickTrialPoint(elements, chart),
      },
    });
  }
}

// --- Importance --------------------------------------------------------------------------------

async function refreshImportance() {
  const container = $('importance');
  const canvas = container.querySelector('canvas');
  const message = container.querySelector('.message');
  const completed = (view.study.counts || {}).completed || 0;
  view.importanceAt = completed;
  try {
    const result = await api(`${apiStudyPath(view.name)}/importance`);
    const rows = result.importance || [];
    container.dataset.state = 'chart';
    container.dataset.points = String(result.trials);
    container.dataset.params = String(rows.length);
    message.hidden = true;
    canvas.hidden = false;
    $('importance-method').textContent =
        `${result.method} over ${result.trials} completed trials: each parameter's share of the ` +
        'variance of the objective.';
    upsertChart('importance', canvas, {
      type: 'bar',
      data: {
        labels: rows.map((r) => r.param),
        datasets: [{label: 'importance', data: rows.map((r) => r.importance), backgroundColor: '#1a73e8',
          maxBarThickness: 28}],
      },
      options: {
        indexAxis: 'y',
        scales: {x: {min: 0, title: axisTitle('share of variance')}},
        plugins: {
          legend: {display: false},
          tooltip: {callbacks: {label: (ctx) => `${ctx.label}: ${(100 * ctx.raw).toFixed(1)}%`}},
        },
      },
    });
  } catch (e) {
    destroyChart('importance');
    canvas.hidden = true;
    message.hidden = false;
    message.textContent = e.message;
    container.dataset.state = 'message';
    container.dataset.points = '0';
    $('importance-method').textContent = '';
  }
}

// --- Trials table ------------------------------------------------------------------------------

/** The table's columns: key, header, value(trial) for sorting/filtering, and its text. */
function trialColumns() {
  const {metric} = objective();
  const reason = (t) => (t.stop && t.stop.summary) || t.failure_reason || '';
  const columns = [
    {key: 'number', title: '#', value: (t) => t.number, num: true},
    {key: 'id', title: 'ID', value: (t) => t.id, num: true},
    {key: 'attempt', title: 'Attempt', value: (t) => t.attempt, num: true},
    {key: 'state', title: 'State', value: (t) => t.state},
    {key: 'value', title: metric, value: (t) => toNumber(t.value), num: true, text: (t) => fmt(t.value)},
  ];
  for (const p of view.space) {
    columns.push({
      key: `param:${p.name}`, title: p.name, num: p.kind !== 'categorical',
      value: (t) => {
        const v = (t.params || {})[p.name];
        return v === undefined ? null : (p.kind === 'categorical' ? String(v) : toNumber(v));
      },
      text: (t) => ((t.params || {})[p.name] === undefined ? '' : fmt(t.params[p.name])),
    });
  }
  columns.push(
      {key: 'last_step', title: 'Step', value: (t) => (t.last_step >= 0 ? t.last_step : null), num: true},
      {key: 'worker', title: 'Worker', value: (t) => t.worker || ''},
      {key: 'start', title: 'Started', value: (t) => toNumber(t.start_time_ms) || null,
        text: (t) => fmtTime(t.start_time_ms)},
      {key: 'duration', title: 'Duration', num: true,
        value: (t) => (t.start_time_ms ? (toNumber(t.end_time_ms) || Date.now()) - t.start_time_ms : null),
        text: (t) => fmtDuration(t.start_time_ms, t.end_time_ms)},
      {key: 'reason', title: 'Why it ended', value: reason, className: 'reason-cell'});
  return columns;
}

function compareValues(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined || (typeof a === 'number' && Number.isNaN(a))) return 1;
  if (b === null || b === undefined || (typeof b === 'number' && Number.isNaN(b))) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, {numeric: true});
}

function renderTable(trials) {
  const table = $('trials');
  const columns = trialColumns();
  const {key, descending} = view.sort;

  const headerRow = table.querySelector('thead tr');
  headerRow.replaceChildren(...columns.map((c) => {
    const sorted = c.key === key;
    const sortBy = () => {
      view.sort = {key: c.key, descending: view.sort.key === c.key ? !view.sort.descending : false};
      renderTable(sortedTrials());
    };
    return el('th', {
      className: `${c.num ? 'num ' : ''}${sorted ? 'sorted' : ''}`,
      title: 'sort by this column',
      dataset: {key: c.key},
      tabIndex: 0,
      'aria-sort': sorted ? (descending ? 'descending' : 'ascending') : 'none',
      onclick: sortBy,
      onkeydown: (e) => {
        if (e.key === 'Enter') sortBy();
      },
    }, c.title, sorted ? (descending ? ' ▼' : ' ▲') : '');
  }));

  const stateFilter = $('state-filter').value;
  const text = $('text-filter').value.trim().toLowerCase();
  const textOf = (c, t) => (c.text ? c.text(t) : fmt(c.value(t)));
  let rows = trials.filter((t) => !stateFilter || t.state === stateFilter);
  if (text) {
    rows = rows.filter((t) => columns.some((c) => textOf(c, t).toLowerCase().includes(text)));
  }
  const column = columns.find((c) => c.key === key) || columns[0];
  rows.sort((a, b) => {
    const va = column.value(a);
    const vb = column.value(b);
    // Missing values stay last whichever the direction.
    const missingA = va === null || va === undefined || va === '';
    const missingB = vb === null || vb === undefined || vb === '';
    if (missingA !== missingB) return missingA ? 1 : -1;
    const c = compareValues(va, vb) || a.number - b.number || a.attempt - b.attempt;
    return descending ? -c : c;
  });
  const matching = rows.length;
  const shown = rows.slice(0, view.rowLimit);

  table.querySelector('tbody').replaceChildren(...shown.map((t) => el('tr', {
    className: `state-row-${t.state.toLowerCase()}${t.id === view.detailId ? ' selected' : ''}`,
    dataset: {trialId: String(t.id)},
    tabIndex: 0,
    onclick: () => openDetail(t.id),
    onkeydown: (e) => {
      if (e.key === 'Enter') openDetail(t.id);
    },
  }, ...columns.map((c) => {
    if (c.key === 'state') {
      const badge = el('span');
      stateBadge(badge, t.state);
      return el('td', {}, badge);
    }
    const content = textOf(c, t);
    return el('td', {className: `${c.num ? 'num' : ''} ${c.className || ''}`, title: content}, content);
  }))));
  table.dataset.rows = String(shown.length);
  const empty = $('trials-empty');
  empty.hidden = shown.length > 0;
  empty.textContent = trials.length ? 'No trial matches the filter.' : 'No trial yet.';
  table.dataset.matching = String(matching);
  $('rows-shown').textContent = matching === trials.length ? `${trials.length} trials` :
                                                              `${matching} of ${trials.length} trials`;
  const more = $('show-all');
  more.hidden = matching <= shown.length;
  more.textContent = `show all ${matching} rows (${shown.length} shown)`;
}

// --- Trial detail ------------------------------------------------------------------------------

/** Opens a trial's detail below the table; the address (#trial-ID) links to it. */
async function openDetail(id) {
  view.detailId = id;
  history.replaceState(null, '', `#trial-${id}`);
  for (const row of document.querySelectorAll('#trials tbody tr')) {
    row.classList.toggle('selected', row.dataset.trialId === String(id));
  }
  const panel = $('detail');
  panel.hidden = false;
  panel.dataset.trialId = String(id);
  const known = view.trials.get(id);
  if (known) renderDetail(known);
  try {
    const trial = await api(`/api/trials/${id}`);
    if (view.detailId !== id) return;
    mergeTrial(trial, true);
    renderDetail(view.trials.get(id) || trial);
  } catch (e) {
    if (!known) $('detail-title').textContent = `Trial ${id}: ${e.message}`;
  }
  panel.scrollIntoView({block: 'nearest'});
}

function closeDetail() {
  view.detailId = null;
  history.replaceState(null, '', location.pathname + location.search);
  $('detail').hidden = true;
  delete $('detail').dataset.trialId;
  destroyChart('detail');
  for (const row of document.querySelectorAll('#trials tbody tr.selected')) row.classList.remove('selected');
}

function renderDetail(t) {
  const {metric} = objective();
  $('detail-title').textContent = `Trial #${t.number} (id ${t.id}, attempt ${t.attempt})`;
  stateBadge($('detail-state'), t.state);
  const facts = [
    [metric, fmt(t.value)],
    ['Worker', t.worker || '—'],
    ['Started', fmtTime(t.start_time_ms)],
    ['Ended', fmtTime(t.end_time_ms)],
    ['Duration', fmtDuration(t.start_time_ms, t.end_time_ms)],
    ['Last step', t.last_step >= 0 ? String(t.last_step) : '—'],
    ['Enqueued by hand', t.enqueued ? 'yes' : 'no'],
  ];
  if (t.prediction) {
    const p = t.prediction;
    facts.push(['Forecast', `at step ${p.step}: final ${fmt(p.mean)} ± ${fmt(p.spread)}, ` +
        `P(beats ${fmt(p.incumbent)}) = ${fmt(p.p_better)}`]);
  }
  $('detail-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));

  const reason = $('detail-reason');
  const why = t.stop && t.stop.summary ? `Stopped: ${t.stop.summary}` :
      (t.failure_reason ? `${t.state === 'FAILED' ? 'Failed' : 'Reason'}: ${t.failure_reason}` : '');
  reason.textContent = why;
  reason.hidden = !why;

  const pairs = (obj) => Object.entries(obj || {}).map(([k, v]) =>
      el('tr', {}, el('th', {}, k), el('td', {className: 'num'}, fmt(v))));
  const params = pairs(t.params);
  $('detail-params').querySelector('tbody').replaceChildren(
      ...(params.length ? params : [el('tr', {}, el('td', {className: 'muted'}, 'none'))]));
  const metrics = pairs(t.metrics);
  $('detail-metrics').querySelector('tbody').replaceChildren(
      ...(metrics.length ? metrics : [el('tr', {}, el('td', {className: 'muted'}, 'none yet'))]));

  // The curve: every metric the trial reported, one at a time (the objective first).
  const names = new Set([metric]);
  for (const m of t.measurements || []) Object.keys(m.metrics || {}).forEach((k) => names.add(k));
  const select = $('detail-metric');
  const chosen = names.has(select.value) && select.dataset.trialId === String(t.id) ? select.value : metric;
  select.replaceChildren(...[...names].map((n) => el('option', {value: n, selected: n === chosen}, n)));
  select.dataset.trialId = String(t.id);
  renderDetailCurve(t, chosen);
}

function renderDetailCurve(t, name) {
  const container = $('detail-curve');
  const message = container.querySelector('.message');
  const canvas = container.querySelector('canvas');
  const points = curveOf(t, name);
  container.dataset.points = String(points.length);
  if (!points.length) {
    destroyChart('detail');
    canvas.hidden = true;
    message.hidden = false;
    message.textContent = t.measurements ? 'No measurement of this metric.' : 'Loading the curve…';
    return;
  }
  canvas.hidden = false;
  message.hidden = true;
  const color = STATE_COLORS[t.state] || '#1a73e8';
  upsertChart('detail', canvas, {
    type: 'line',
    data: {datasets: [{label: name, data: points, borderColor: color, backgroundColor: color,
      pointRadius: points.length > 60 ? 0 : 2, borderWidth: 2}]},
    options: {
      scales: {x: {type: 'linear', title: axisTitle('step'), ticks: {precision: 0}},
        y: {title: axisTitle(name)}},
      plugins: {legend: {display: false},
        tooltip: {callbacks: {label: (ctx) => `step ${ctx.raw.x}: ${name} = ${fmt(ctx.raw.y)}`}}},
    },
  });
}

// --- Data flow ---------------------------------------------------------------------------------

/** Stores a trial; one without measurements keeps the curve already known. */
function mergeTrial(trial, withMeasurements) {
  const old = view.trials.get(trial.id);
  const merged = Object.assign({}, trial);
  if (!withMeasurements || !Array.isArray(trial.measurements)) {
    merged.measurements = old ? old.measurements : undefined;
  }
  view.trials.set(trial.id, merged);
  return {old, merged};
}

async function loadTrials() {
  const trials = await api(`${apiStudyPath(view.name)}/trials`);
  view.trials = new Map();
  for (const t of trials) mergeTrial(t, true);
  // A list without curves (an older server): fetch them one by one.
  for (const t of trials) {
    if (!Array.isArray(t.measurements)) view.dirtyCurves.add(t.id);
  }
}

function renderAll() {
  const trials = sortedTrials();
  view.space = describeSpace(view.study, trials);
  renderSummary();
  const panels = [renderHistory, renderCurves, renderParallel, renderSlices, renderTable];
  for (const panel of panels) {
    try {
      panel(trials);
    } catch (e) {
      console.error(panel.name, e);  // one panel's failure leaves the others standing
    }
  }
  if (view.detailId !== null && view.trials.has(view.detailId)) {
    renderDetail(view.trials.get(view.detailId));
  }
}

/** Fetches the curves of trials marked dirty, a few at a time. */
async function fetchDirtyCurves() {
  const ids = [...view.dirtyCurves];
  view.dirtyCurves.clear();
  const parallel = 8;
  for (let i = 0; i < ids.length; i += parallel) {
    await Promise.all(ids.slice(i, i + parallel).map(async (id) => {
      try {
        mergeTrial(await api(`/api/trials/${id}`), true);
      } catch (e) {
        console.warn(`trial ${id}: ${e.message}`);
      }
    }));
  }
}

const RENDER_DELAY_MS = 250;
const IMPORTANCE_EVERY = 10;  // completed trials between importance refreshes while running

/** Coalesces bursts of events into one render every RENDER_DELAY_MS. */
function scheduleRender() {
  if (view.renderTimer) return;
  view.renderTimer = setTimeout(async () => {
    try {
      await fetchDirtyCurves();
    } finally {
      view.renderTimer = null;
      renderAll();
    }
    // Events that came while the curves were fetched: their turn now.
    if (view.dirtyCurves.size) scheduleRender();
    const completed = (view.study.counts || {}).completed || 0;
    const ended = view.study.state !== 'RUNNING';
    if (completed !== view.importanceAt && (ended || completed - view.importanceAt >= IMPORTANCE_EVERY)) {
      refreshImportance();
    }
  }, RENDER_DELAY_MS);
}

function progressKey(study) {
  return JSON.stringify([study.state, study.finished_trials, study.counts]);
}

function onStudyEvent(message) {
  view.liveEvents += 1;
  document.body.dataset.liveEvents = String(view.liveEvents);
  let event;
  try {
    event = JSON.parse(message.data);
  } catch (e) {
    return;
  }
  const before = view.study;
  if (event.study) view.study = event.study;
  switch (event.kind || message.type) {
    case 'SNAPSHOT':
      // The stream starts (or restarts after a dropped connection): reload the trials if any
      // changed state since they were fetched. (A running trial's new reports come as events.)
      if (!before || progressKey(before) !== progressKey(view.study)) {
        loadTrials().then(scheduleRender, (e) => showError(`Cannot load trials: ${e.message}`));
        return;
      }
      break;
    case 'TRIAL_UPDATED':
      if (event.trial) {
        const {old, merged} = mergeTrial(event.trial, false);
        if (!old || old.last_step !== merged.last_step || old.state !== merged.state ||
            merged.measurements === undefined) {
          view.dirtyCurves.add(merged.id);
        }
      }
      break;
    case 'STUDY_ENDED':
      stopLive();
      break;
    default:
      break;
  }
  scheduleRender();
}

function startLive() {
  if (view.source || typeof EventSource === 'undefined') return;
  const source = new EventSource(`${apiStudyPath(view.name)}/events`);
  for (const kind of ['SNAPSHOT', 'TRIAL_UPDATED', 'STUDY_UPDATED', 'STUDY_ENDED']) {
    source.addEventListener(kind, onStudyEvent);
  }
  source.onmessage = onStudyEvent;  // a message without an event: line
  source.onerror = () => {
    // EventSource reconnects by itself (and the new SNAPSHOT reloads the trials); a closed
    // stream of an ended study is not reopened.
    if (source.readyState === EventSource.CLOSED) stopLive();
  };
  view.source = source;
  $('live').hidden = false;
}

function stopLive() {
  if (view.source) view.source.close();
  view.source = null;
  $('live').hidden = true;
}

function studyNameFromPath() {
  const match = location.pathname.match(/\/study\/([^/]+)\/?$/);
  return match ? decodeURIComponent(match[1]) : '';
}

async function initStudy() {
  configureChartDefaults();
  document.body.dataset.liveEvents = '0';
  view.name = studyNameFromPath();
  $('study-name').textContent = view.name;
  $('crumb-name').textContent = view.name;

  $('state-filter').addEventListener('change', () => renderTable(sortedTrials()));
  $('text-filter').addEventListener('input', () => renderTable(sortedTrials()));
  $('show-all').addEventListener('click', () => {
    view.rowLimit = Infinity;
    renderTable(sortedTrials());
  });
  $('detail-close').addEventListener('click', closeDetail);
  $('detail-metric').addEventListener('change', () => {
    const t = view.trials.get(view.detailId);
    if (t) renderDetailCurve(t, $('detail-metric').value);
  });
  $('history-log').addEventListener('change', () => renderHistory(sortedTrials()));
  $('curves-log').addEventListener('change', () => renderCurves(sortedTrials()));

  if (typeof Chart === 'undefined') showError('Chart.js did not load (/static/chart.js): plots are missing.');
  try {
    view.study = await api(apiStudyPath(view.name));
    await loadTrials();
    await fetchDirtyCurves();
  } catch (e) {
    showError(e.status === 404 ? e.message : `Cannot load study '${view.name}': ${e.message}`);
    document.body.dataset.ready = '1';
    return;
  }
  renderAll();
  const linked = location.hash.match(/^#trial-(\d+)$/);
  if (linked) openDetail(Number(linked[1]));
  await refreshImportance();
  document.body.dataset.ready = '1';
  if (view.study.state === 'RUNNING') startLive();
}

// ---------------------------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  const page = document.body.dataset.page;
  if (page === 'index') initIndex();
  else if (page === 'study') initStudy();
});

// Overview: customers by band now and over the scoring runs, band changes
// since the last run, open alerts, lost customers by reason, the win-back
// funnel and connector health; all from GET /api/v1/overview.
import * as api from './api.js';
import { h, clear } from './dom.js';
import { t, label, formatNumber, formatDate, formatDateTime, formatPercent } from './i18n.js';
import { lineChart, colorOf } from './chart.js';
import { section, stat, dataTable, band, level } from './ui.js';

const BAND_ORDER = ['red', 'orange', 'yellow', 'green'];

export function orderedBands(names) {
  return [...new Set(names)].sort((a, b) => {
    const ia = BAND_ORDER.indexOf(a) < 0 ? 99 : BAND_ORDER.indexOf(a);
    const ib = BAND_ORDER.indexOf(b) < 0 ? 99 : BAND_ORDER.indexOf(b);
    return ia - ib || a.localeCompare(b);
  });
}

function bandSection(overview) {
  const bands = overview.bands || {};
  const names = orderedBands([...Object.keys(bands), ...(overview.band_history || []).flatMap((run) => Object.keys(run.bands || {}))]);
  const total = Object.values(bands).reduce((sum, count) => sum + count, 0);
  const tiles = h('div', { class: 'stats', dataset: { test: 'band-counts' } },
    names.map((name) => h('a', {
      class: `stat band-tile band-${name}`, href: `/app/customers?band=${encodeURIComponent(name)}&view=all`,
      dataset: { band: name, count: String(bands[name] ?? 0) },
    }, h('span', { class: 'value' }, formatNumber(bands[name] ?? 0)), h('span', { class: 'caption' }, label('band', name)))),
    stat(formatNumber(total), t('overview.total'), 'total'));
  const history = (overview.band_history || []).slice().sort((a, b) => String(a.as_of).localeCompare(String(b.as_of)));
  let chart = null;
  if (history.length) {
    const x = history.map((run) => Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(run.as_of) ? `${run.as_of}T00:00:00Z` : run.as_of) / 1000);
    chart = lineChart({
      title: t('overview.history'),
      summary: t('overview.history_summary', { runs: history.length }),
      x,
      series: names.map((name, index) => ({ label: label('band', name), color: colorOf(name, index), values: history.map((run) => run.bands?.[name] ?? 0) })),
      yLabel: t('overview.customers'),
    });
  }
  const historyTable = history.length ? h('details', {}, h('summary', {}, t('overview.history_table')),
    dataTable([
      { title: t('overview.run'), render: (run) => `#${run.run_id} · ${formatDate(run.as_of)}` },
      ...names.map((name) => ({ title: label('band', name), numeric: true, render: (run) => formatNumber(run.bands?.[name] ?? 0) })),
    ], history)) : null;
  return section(t('overview.bands'), tiles, chart, historyTable);
}

function changeSection(changes) {
  if (!changes) return null;
  return section(t('overview.changes'),
    h('p', { class: 'muted' }, changes.since_run ? t('overview.since_run', { run: changes.since_run }) : t('overview.no_previous_run')),
    h('div', { class: 'stats' },
      h('a', { class: 'stat worse', href: '/app/customers?sort=score_change&order=asc&view=all' }, h('span', { class: 'value' }, formatNumber(changes.worse ?? 0)), h('span', { class: 'caption' }, t('overview.worse'))),
      h('a', { class: 'stat better', href: '/app/customers?sort=score_change&order=desc&view=all' }, h('span', { class: 'value' }, formatNumber(changes.better ?? 0)), h('span', { class: 'caption' }, t('overview.better')))),
    dataTable([
      { title: t('overview.from'), render: (row) => band(row.from) },
      { title: t('overview.to'), render: (row) => band(row.to) },
      { title: t('overview.count'), numeric: true, render: (row) => formatNumber(row.count) },
    ], changes.transitions || [], { empty: t('overview.no_changes') }));
}

function alertSection(alerts) {
  if (!alerts) return null;
  const levels = Object.entries(alerts.open_by_level || {});
  return section(t('overview.alerts'),
    h('div', { class: 'stats' },
      levels.map(([name, count]) => h('a', { class: `stat level-tile level-${name}`, href: '/app/alerts?view=all' },
        h('span', { class: 'value' }, formatNumber(count)), h('span', { class: 'caption' }, level(name)))),
      stat(formatNumber(alerts.past_deadline ?? 0), t('overview.past_deadline'), alerts.past_deadline ? 'warn' : ''),
      stat(formatNumber(alerts.due_within_hour ?? 0), t('overview.due_within_hour'))),
    levels.length ? null : h('p', { class: 'muted' }, t('overview.no_open_alerts')));
}

function lostSection(lost) {
  if (!lost) return null;
  const mass = lost.mass_churn || [];
  return section(t('overview.lost'),
    h('p', { class: 'muted' }, t('overview.period_since', { date: formatDate(lost.period_start) })),
    dataTable([
      { title: t('lost.reason'), render: (row) => label('reason', row.reason) },
      { title: t('overview.count'), numeric: true, render: (row) => formatNumber(row.count) },
    ], lost.by_reason || [], { empty: t('overview.no_lost') }),
    mass.length ? h('div', { class: 'notice', role: 'note' }, h('strong', {}, t('overview.mass_churn')),
      h('ul', {}, mass.map((event) => h('li', {}, t('overview.mass_churn_line', {
        date: formatDate(event.period_start), count: formatNumber(event.lost_count), reason: label('reason', event.reason),
        rate: formatPercent(event.rate),
      }))))) : null,
    h('p', {}, h('a', { href: '/app/lost' }, t('overview.open_lost'))));
}

function funnelSection(winback) {
  if (!winback) return null;
  const steps = [
    ['enrolled', winback.enrolled], ['contacted', winback.contacted], ['recovered', winback.recovered],
  ];
  const top = Math.max(1, winback.enrolled || 0, winback.holdout || 0);
  const bar = (key, value, modifier = '') => {
    const fill = h('span', { class: `fill ${modifier}` });
    fill.style.width = `${Math.max(0.5, (100 * (value || 0)) / top)}%`;
    return h('div', { class: 'funnel-row' }, h('span', { class: 'funnel-label' }, t(`winback.${key}`)),
      h('span', { class: 'funnel-bar' }, fill), h('span', { class: 'funnel-value' }, formatNumber(value ?? 0)));
  };
  const rate = (part, whole) => (whole ? formatPercent(part / whole) : '—');
  return section(t('overview.winback'),
    h('div', { class: 'funnel' }, steps.map(([key, value]) => bar(key, value)),
      bar('holdout', winback.holdout, 'holdout'), bar('holdout_recovered', winback.holdout_recovered, 'holdout')),
    h('p', { class: 'muted' }, t('overview.recovery_vs_holdout', {
      treated: rate(winback.recovered, winback.enrolled), holdout: rate(winback.holdout_recovered, winback.holdout),
    })),
    h('p', {}, h('a', { href: '/app/campaigns' }, t('overview.open_campaigns'))));
}

function connectorSection(connectors) {
  if (!connectors) return null;
  return section(t('overview.connectors'), dataTable([
    { title: t('plugins.connector'), render: (row) => row.id },
    { title: t('plugins.status'), render: (row) => h('span', { class: `badge state-${row.status}` }, label('status', row.status)) },
    { title: t('plugins.last_sync'), render: (row) => formatDateTime(row.last_sync) },
    { title: t('plugins.quarantined'), numeric: true, render: (row) => formatNumber(row.quarantined ?? 0) },
  ], connectors, { empty: t('plugins.no_connectors') }));
}

export async function render(main) {
  const overview = await api.get('/api/v1/overview');
  const latest = (overview.band_history || []).slice(-1)[0];
  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, t('nav.overview')),
      latest ? h('p', { class: 'muted' }, t('overview.as_of', { date: formatDate(latest.as_of), run: latest.run_id })) : null),
    h('div', { class: 'grid' },
      bandSection(overview),
      alertSection(overview.alerts),
      changeSection(overview.band_changes),
      lostSection(overview.lost),
      funnelSection(overview.winback),
      connectorSection(overview.connectors)));
  return t('nav.overview');
}

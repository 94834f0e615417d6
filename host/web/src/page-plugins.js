// Plugins and connectors: each plugin's state (loaded, disabled, refused with
// why), connectors' last sync, the last job runs, quarantined records with
// their reasons and, for those allowed, a retry.
import * as api from './api.js';
import { h, clear } from './dom.js';
import { t, label, formatDateTime, formatNumber } from './i18n.js';
import { dataTable, section, statusLine, submitting, errorBox } from './ui.js';

function value(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function connectorId(connector) {
  return connector.id || connector.connector || connector.plugin || connector.name;
}

async function quarantineSection(connector, context, reload) {
  const id = connectorId(connector);
  let list;
  try {
    list = await api.get(`/api/v1/connectors/${encodeURIComponent(id)}/quarantine`);
  } catch (error) {
    return section(t('plugins.quarantine_of', { id }), errorBox(error));
  }
  const items = list.items || [];
  const pending = items.filter((item) => item.reprocessed_ms == null);
  const status = statusLine();
  const form = context.can('plugins.write') && pending.length ? h('form', {
    class: 'actions',
    onsubmit: async (event) => {
      event.preventDefault();
      let result;
      const ok = await submitting(form, status, async () => {
        result = await api.post(`/api/v1/connectors/${encodeURIComponent(id)}/quarantine/retry`);
      });
      if (ok) await reload(t('plugins.retried', { released: result.released, still_bad: result.still_bad }));
    },
  }, h('button', { type: 'submit', class: 'primary', dataset: { retry: id } }, t('plugins.retry', { count: pending.length })), status) : null;
  return section(t('plugins.quarantine_of', { id }),
    h('p', { class: 'muted' }, t('plugins.pending', { count: pending.length, total: items.length })),
    form,
    dataTable([
      { title: t('plugins.when'), render: (q) => formatDateTime(q.created_ms) },
      { title: t('plugins.reason'), render: (q) => q.reason },
      { title: t('plugins.record'), render: (q) => h('code', { class: 'record' }, (q.raw_record || '').slice(0, 160)) },
      { title: t('plugins.status'), render: (q) => (q.reprocessed_ms ? t('plugins.reprocessed', { when: formatDateTime(q.reprocessed_ms) }) : t('plugins.waiting')) },
    ], items.slice(0, 50), { empty: t('plugins.no_quarantine') }));
}

export async function render(main, context) {
  const [plugins, connectors, runs] = await Promise.all([
    api.get('/api/v1/plugins'), api.get('/api/v1/connectors'), api.get(api.withQuery('/api/v1/runs', { limit: 10 })),
  ]);
  const reload = async (message) => {
    await render(main, context);
    const status = main.querySelector('.page-head .status');
    if (status) status.textContent = message;
  };
  const connectorItems = connectors.items || [];
  const quarantines = await Promise.all(connectorItems.map((connector) => quarantineSection(connector, context, reload)));
  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, t('nav.plugins')), h('p', { class: 'status', role: 'status' })),
    h('div', { class: 'grid' },
      section(t('plugins.plugins'), h('p', { class: 'muted' }, t('plugins.host_abi', { abi: plugins.host_abi })), dataTable([
        { title: t('plugins.plugin'), render: (p) => [h('strong', {}, p.id), h('div', { class: 'muted' }, `${p.kind} ${p.version}`)] },
        { title: t('plugins.status'), render: (p) => h('span', { class: `badge state-${p.state}` }, label('plugin_state', p.state)) },
        { title: t('plugins.reason'), render: (p) => p.reason || '—' },
      ], plugins.items || [])),
      section(t('plugins.connectors'), dataTable([
        { title: t('plugins.connector'), render: (c) => connectorId(c) },
        { title: t('plugins.last_sync'), render: (c) => formatDateTime(c.last_sync_ms ?? c.last_sync ?? c.last_run_ms) },
        { title: t('plugins.status'), render: (c) => label('status', c.status ?? c.state ?? c.last_status) },
        { title: t('plugins.quarantined'), numeric: true, render: (c) => formatNumber(c.quarantined ?? c.quarantine_pending ?? c.quarantine?.pending ?? 0) },
      ], connectorItems, { empty: t('plugins.no_connectors') })),
      section(t('plugins.runs'), dataTable([
        { title: t('plugins.run'), render: (r) => `#${r.id} ${r.kind || r.command || ''}` },
        { title: t('plugins.started'), render: (r) => formatDateTime(r.started_ms ?? r.started) },
        { title: t('plugins.status'), render: (r) => h('span', { class: `badge state-${r.status}` }, label('status', r.status)) },
        { title: t('plugins.error'), render: (r) => value(r.error) },
      ], runs.items || [], { empty: t('plugins.no_runs') })),
      quarantines));
  return t('nav.plugins');
}

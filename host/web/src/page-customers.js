// At-risk list: the customers of the latest scoring run, filtered (band,
// tier, owner, stage, value class), sorted (score, change, value) and paged by
// the API's cursor; exported as CSV. A manager starts on "Mine" (their own
// customers, the session's owner_ids); "All" shows everyone.
import * as api from './api.js';
import { h, clear, field, select } from './dom.js';
import { t, label, formatNumber } from './i18n.js';
import { band, dataTable } from './ui.js';

const BANDS = ['red', 'orange', 'yellow', 'green'];
const TIERS = ['strategic', 'key', 'potential', 'general'];
const STAGES = ['development', 'initial', 'stable', 'strategic'];
const CLASSES = ['A', 'B', 'C'];
const SORTS = ['score', 'score_change', 'value', 'name'];
const PAGE_SIZE = 25;

// Cursors of the pages before this one, for "Previous" (the API's cursors only go forward).
let previousCursors = [];
let listKey = '';

function options(group, codes) {
  return [['', t('filter.any')], ...codes.map((code) => [code, label(group, code)])];
}

export async function render(main, { user, route, navigate }) {
  const query = route.query;
  const owners = user.owner_ids || [];
  const view = query.get('view') || (owners.length ? 'mine' : 'all');
  const filters = {
    band: query.get('band') || '',
    tier: query.get('tier') || '',
    stage: query.get('stage') || '',
    value_class: query.get('value_class') || '',
    owner: view === 'mine' ? (query.get('owner') || owners.join(',')) : (query.get('owner') || ''),
    sort: query.get('sort') || 'score',
    order: query.get('order') || 'asc',
  };
  const cursor = query.get('cursor') || '';
  const key = JSON.stringify({ view, ...filters });
  if (key !== listKey || !cursor) previousCursors = [];
  listKey = key;

  const page = await api.get(api.withQuery('/api/v1/customers', { ...filters, limit: PAGE_SIZE, cursor }));

  const go = (changes) => {
    const next = new URLSearchParams({ view, ...filters, ...changes });
    for (const [name, value] of [...next]) if (!value) next.delete(name);
    navigate(`/app/customers?${next}`);
  };

  const ownerControl = view === 'mine' && owners.length > 1
    ? field(t('filter.owner'), select('owner', owners.map((o) => [o, o]), filters.owner))
    : view === 'all' ? field(t('filter.owner'), h('input', { name: 'owner', value: filters.owner, placeholder: t('filter.owner_hint') })) : null;
  const form = h('form', {
    class: 'filters card', 'aria-label': t('customers.filters'),
    onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(form);
      go(Object.fromEntries([...data].map(([name, value]) => [name, String(value).trim()])));
    },
    onchange: (event) => { if (event.target.tagName === 'SELECT') form.requestSubmit(); },
  },
  field(t('filter.band'), select('band', options('band', BANDS), filters.band)),
  field(t('filter.tier'), select('tier', options('tier', TIERS), filters.tier)),
  field(t('filter.stage'), select('stage', options('stage', STAGES), filters.stage)),
  field(t('filter.value_class'), select('value_class', options('class', CLASSES), filters.value_class)),
  ownerControl,
  field(t('filter.sort'), select('sort', SORTS.map((code) => [code, t(`sort.${code}`)]), filters.sort)),
  field(t('filter.order'), select('order', [['asc', t('sort.asc')], ['desc', t('sort.desc')]], filters.order)),
  h('div', { class: 'field' }, h('span', { 'aria-hidden': 'true' }, ' '), h('button', { type: 'submit', class: 'primary' }, t('filter.apply'))));

  const viewLink = (name) => {
    const next = new URLSearchParams({ view: name });
    return h('a', { href: `/app/customers?${next}`, 'aria-current': String(view === name) }, t(`customers.view_${name}`));
  };
  const csv = api.withQuery('/api/v1/customers', { ...filters, format: 'csv' });
  // The export is fetched first so that a refusal (more customers than an export holds) is said
  // on the page, in the user's language, rather than saved as the file.
  const exportStatus = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', dataset: { test: 'csv-status' } });
  const exportCsv = async (event) => {
    event.preventDefault();
    exportStatus.textContent = t('customers.exporting');
    exportStatus.className = 'status';
    try {
      const response = await fetch(csv, { credentials: 'same-origin', cache: 'no-store' });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        throw Object.assign(new Error(problem.detail || `HTTP ${response.status}`), { status: response.status });
      }
      const url = URL.createObjectURL(await response.blob());
      const link = h('a', { href: url, download: 'customers.csv', hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      exportStatus.textContent = t('customers.exported');
    } catch (error) {
      exportStatus.className = 'status error';
      exportStatus.textContent = error.status === 422 ? t('customers.export_too_large') : t('customers.export_failed', { detail: error.message });
    }
  };
  const rows = page.items || [];
  const table = dataTable([
    { title: t('customers.name'), render: (row) => h('a', { href: `/app/customers/${row.customer_id}` }, row.name || row.known_as) },
    { title: t('customers.band'), render: (row) => band(row.band) },
    { title: t('customers.score'), numeric: true, render: (row) => formatNumber(row.score, 1) },
    { title: t('customers.change'), numeric: true, render: (row) => (row.score_change == null ? '—' : formatNumber(row.score_change, 1)) },
    { title: t('customers.tier'), render: (row) => label('tier', row.tier) },
    { title: t('customers.stage'), render: (row) => label('stage', row.stage) },
    { title: t('customers.value_class'), render: (row) => row.abc_class || '—' },
  ], rows, { caption: t('customers.caption', { count: rows.length }), empty: t('customers.none') });

  const pager = h('div', { class: 'pager' },
    h('button', {
      type: 'button', class: 'secondary', disabled: !cursor,
      onclick: () => go({ cursor: previousCursors.pop() || '' }),
    }, t('pager.previous')),
    h('button', {
      type: 'button', class: 'secondary', disabled: !page.next_cursor,
      onclick: () => { previousCursors.push(cursor); go({ cursor: page.next_cursor }); },
    }, t('pager.next')));

  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, t('nav.customers'))),
    h('div', { class: 'actions' },
      owners.length ? h('nav', { class: 'segmented', 'aria-label': t('customers.view') }, viewLink('mine'), viewLink('all')) : null,
      h('a', { href: csv, download: 'customers.csv', class: 'button-link', dataset: { test: 'csv' }, onclick: exportCsv }, t('customers.export'))),
    exportStatus,
    form,
    h('section', { class: 'card', 'aria-label': t('customers.results') }, table, pager));
  return t('nav.customers');
}

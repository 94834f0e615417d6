// Lost customers: each one's reason (confirm or change, with a note), its
// 5 Why chain (add a why), value and win-back eligibility; root causes grouped.
import * as api from './api.js';
import { h, clear, field, select } from './dom.js';
import { t, label, formatNumber, formatDate } from './i18n.js';
import { dataTable, section, statusLine, submitting, facts } from './ui.js';

const REASONS = ['abandoned_by_us', 'forced_to_leave', 'bought_off', 'attracted_away', 'left_dissatisfied', 'other'];
const PAGE_SIZE = 20;
const MAX_WHYS = 5;

function lostCard(lost, context, reload) {
  const canWrite = context.can('churn.write');
  const reasonSelect = select('reason', REASONS.map((code) => [code, label('reason', code)]), REASONS.includes(lost.reason) ? lost.reason : 'other');
  const note = h('textarea', { name: 'note', rows: 2 });
  const reasonStatus = statusLine();
  const reasonForm = h('form', {
    class: 'inline-form', dataset: { form: 'reason' },
    onsubmit: async (event) => {
      event.preventDefault();
      const ok = await submitting(reasonForm, reasonStatus, () => api.put(`/api/v1/churn/${lost.customer_id}/reason`, {
        reason: reasonSelect.value, note: note.value.trim(), by: context.user.name,
      }));
      if (ok) await reload(lost.customer_id, t('lost.reason_saved'));
    },
  }, field(t('lost.reason'), reasonSelect), field(t('lost.note'), note),
  h('button', { type: 'submit', class: 'primary' }, reasonSelect.value === lost.reason ? t('lost.confirm') : t('lost.change')), reasonStatus);
  const submitButton = reasonForm.querySelector('button');
  reasonSelect.addEventListener('change', () => {
    submitButton.textContent = reasonSelect.value === lost.reason ? t('lost.confirm') : t('lost.change');
  });
  const why = h('input', { name: 'why', required: true, maxlength: 500 });
  const whyStatus = statusLine();
  const whyForm = h('form', {
    class: 'inline-form', dataset: { form: 'why' },
    onsubmit: async (event) => {
      event.preventDefault();
      if (!why.value.trim()) return;
      const ok = await submitting(whyForm, whyStatus, () => api.post(`/api/v1/churn/${lost.customer_id}/whys`, { why: why.value.trim() }));
      if (ok) await reload(lost.customer_id, t('lost.why_saved'));
    },
  }, field(t('lost.add_why', { n: (lost.why_chain || []).length + 1 }), why), h('button', { type: 'submit', class: 'secondary' }, t('lost.add_why_button')), whyStatus);
  return h('article', { class: 'card', id: `lost-${lost.customer_id}`, dataset: { customer: String(lost.customer_id) } },
    h('h2', {}, h('a', { href: `/app/customers/${lost.customer_id}` }, lost.name || `#${lost.customer_id}`)),
    facts([
      [t('lost.churn_date'), formatDate(lost.churn_date)],
      [t('lost.reason'), h('span', { dataset: { test: 'reason' } }, label('reason', lost.reason), ' ', h('span', { class: 'muted' }, `(${label('reason_source', lost.reason_source)})`))],
      lost.reason_note ? [t('lost.note'), lost.reason_note] : null,
      lost.reason_evidence ? [t('lost.evidence'), lost.reason_evidence] : null,
      [t('lost.value'), `${formatNumber(lost.expected_value, 2)} · ${t('customers.value_class')} ${lost.abc_class || '—'}`],
      [t('lost.eligible'), lost.eligible ? t('app.yes') : `${t('app.no')} — ${lost.exclusion || ''}`],
      lost.recovered ? [t('lost.recovered'), formatDate(lost.recovered)] : null,
    ]),
    h('h3', {}, t('lost.why_chain')),
    (lost.why_chain || []).length ? h('ol', { class: 'why-chain', dataset: { test: 'whys' } }, lost.why_chain.map((answer) => h('li', {}, answer)))
      : h('p', { class: 'empty' }, t('lost.no_whys')),
    canWrite ? h('div', { class: 'lost-forms' }, reasonForm, (lost.why_chain || []).length < MAX_WHYS ? whyForm : null) : null);
}

export async function render(main, context) {
  const query = context.route.query;
  const only = query.get('customer');
  const eligible = query.get('eligible') || '';
  const pageNumber = Math.max(1, Number(query.get('page')) || 1);
  const [list, causes] = await Promise.all([
    api.get(api.withQuery('/api/v1/churn', { eligible })),
    api.get('/api/v1/churn/root-causes'),
  ]);
  let items = (list.items || []).slice().sort((a, b) => b.expected_value - a.expected_value || a.customer_id - b.customer_id);
  if (only) items = items.filter((item) => String(item.customer_id) === only);
  const pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE));
  const shown = items.slice((pageNumber - 1) * PAGE_SIZE, pageNumber * PAGE_SIZE);
  const reload = async (customerId, message) => {
    await render(main, context);
    const card = document.getElementById(`lost-${customerId}`);
    if (card) {
      const status = card.querySelector('.status');
      if (status) status.textContent = message;
      card.querySelector('h2 a')?.focus();
    }
  };
  const link = (changes, text, current) => h('a', { href: `/app/lost?${new URLSearchParams({ eligible, ...changes })}`, 'aria-current': String(current) }, text);
  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, t('nav.lost')), h('p', { class: 'muted' }, t('lost.count', { count: items.length }))),
    h('div', { class: 'actions' }, h('nav', { class: 'segmented', 'aria-label': t('lost.filter') },
      link({ eligible: '' }, t('lost.all'), !eligible), link({ eligible: 'true' }, t('lost.eligible_only'), eligible === 'true')),
    only ? h('a', { href: '/app/lost' }, t('lost.show_all')) : null),
    section(t('lost.root_causes'), dataTable([
      { title: t('lost.cause'), render: (c) => c.cause },
      { title: t('lost.customers'), numeric: true, render: (c) => formatNumber((c.customers || []).length) },
      { title: t('lost.by_reason'), render: (c) => Object.entries(c.by_reason || {}).map(([code, n]) => `${label('reason', code)}: ${n}`).join(', ') },
      { title: t('lost.value'), numeric: true, render: (c) => formatNumber(c.expected_value, 2) },
    ], causes.items || [], { empty: t('lost.no_causes') })),
    h('div', { class: 'grid lost-list' }, shown.map((lost) => lostCard(lost, context, reload))),
    shown.length ? null : h('p', { class: 'empty' }, t('lost.none')),
    pages > 1 ? h('div', { class: 'pager' },
      pageNumber > 1 ? h('a', { href: `/app/lost?${new URLSearchParams({ eligible, page: pageNumber - 1 })}` }, t('pager.previous')) : h('span'),
      h('span', {}, t('pager.page', { page: pageNumber, pages })),
      pageNumber < pages ? h('a', { href: `/app/lost?${new URLSearchParams({ eligible, page: pageNumber + 1 })}` }, t('pager.next')) : h('span')) : null);
  return t('nav.lost');
}

// Customer 360: profile, contacts and owners, the score history against the
// band thresholds, the reasons with their weight, alerts (acknowledge,
// resolve), win-back state, the timeline and the follow-up form.
import * as api from './api.js';
import { h, clear, field, select, uid } from './dom.js';
import { t, label, formatNumber, formatPercent, formatDate, formatDateTime, formatCountdown } from './i18n.js';
import { lineChart, colorOf } from './chart.js';
import { band, level, dataTable, facts, section, statusLine, submitting, alertTitle } from './ui.js';
import { alertActions } from './alert-actions.js';

const CHANNELS = ['phone', 'visit', 'email', 'wecom', 'meeting', 'other'];
const TIMELINE_SHOWN = 40;
// The default band thresholds of the scoring settings (host/scoring/settings.hpp),
// used when the API does not send the configured ones.
const DEFAULT_THRESHOLDS = [{ name: 'green', min_score: 80 }, { name: 'yellow', min_score: 70 }, { name: 'orange', min_score: 60 }];

function header(view) {
  const name = view.profile?.name || view.known_as?.[0] || `#${view.customer_id}`;
  return h('div', { class: 'page-head' },
    h('p', { class: 'muted' }, h('a', { href: '/app/customers' }, t('nav.customers')), ' / ', (view.known_as || []).join(', ')),
    h('h1', {}, name),
    h('div', { class: 'actions' }, band(view.band),
      h('span', {}, t('customer.score'), ': ', h('strong', { dataset: { test: 'score' } }, formatNumber(view.score, 1))),
      view.previous_band ? h('span', { class: 'muted' }, t('customer.previous_band'), ': ', band(view.previous_band)) : null,
      h('span', { class: 'muted' }, t('customer.as_of', { date: formatDate(view.as_of) }))),
    churnLine(view));
}

// "38 % likely to stop buying within 90 days": the run's calibrated churn probability (crmhost train).
function churnLine(view) {
  const known = view.churn_probability !== null && view.churn_probability !== undefined;
  let text;
  if (known) text = t('customer.churn', { percent: formatPercent(view.churn_probability, 0), days: view.churn_horizon_days });
  else if (view.churn_horizon_days) text = t('customer.churn_unscored');
  else text = t('customer.churn_uncalibrated');
  return h('p', { class: known ? 'churn' : 'churn muted', dataset: { test: 'churn-probability' } }, text);
}

function profileSection(view) {
  const profile = view.profile || {};
  const orders = view.orders;
  return section(t('customer.profile'), facts([
    [t('customers.tier'), label('tier', view.tier)],
    [t('customers.stage'), label('stage', view.stage)],
    [t('customers.value_class'), view.abc_class || '—'],
    [t('customer.owner'), view.owner ? label('role', view.owner) : '—'],
    view.response_hours ? [t('customer.response_hours'), t('customer.hours', { hours: view.response_hours })] : null,
    [t('customer.country'), profile.country || '—'],
    [t('customer.industry'), profile.industry || '—'],
    [t('customer.since'), formatDate(profile.created)],
    orders ? [t('customer.orders'), `${formatNumber(orders.count)} · ${formatDate(orders.first_order)} – ${formatDate(orders.last_order)}`] : null,
    orders ? [t('customer.revenue_12m'), `${formatNumber(orders.revenue_last_12_months, 2)} ${orders.currency || ''}`] : null,
  ]));
}

function contactsSection(view) {
  return section(t('customer.contacts'), dataTable([
    { title: t('customer.contact'), render: (c) => [c.name || '—', c.key_contact ? h('span', { class: 'badge' }, t('customer.key_contact')) : null] },
    { title: t('customer.role'), render: (c) => c.role || '—' },
    { title: t('customer.email'), render: (c) => (c.email ? h('a', { href: `mailto:${c.email}` }, c.email) : '—') },
    { title: t('customer.phone'), render: (c) => (c.phone ? h('a', { href: `tel:${c.phone}` }, c.phone) : '—') },
    { title: t('customer.contact_owner'), render: (c) => c.owner || '—' },
    { title: t('customer.left'), render: (c) => (c.left ? formatDate(c.left) : '—') },
  ], view.contacts || [], { empty: t('customer.no_contacts') }));
}

function reasonsSection(view) {
  const drivers = view.top_contributions || [];
  const reasons = view.reasons || [];
  return section(t('customer.reasons'),
    reasons.length ? h('ul', { class: 'reasons' }, reasons.map((reason) => h('li', {}, reason.text || reason.code))) : h('p', { class: 'empty' }, t('customer.no_reasons')),
    drivers.length ? [h('h3', {}, t('customer.drivers')), dataTable([
      { title: t('customer.driver'), render: (d) => d.text || d.feature },
      { title: t('customer.weight'), numeric: true, render: (d) => `${d.points > 0 ? '+' : ''}${formatNumber(d.points, 1)}` },
    ], drivers)] : null);
}

function historySection(view) {
  const history = (view.score_history || []).filter((point) => point.score !== null && point.score !== undefined);
  if (!history.length) return section(t('customer.history'), h('p', { class: 'empty' }, t('customer.no_history')));
  const thresholds = (view.band_thresholds || DEFAULT_THRESHOLDS).filter((rule) => rule.min_score > 0);
  const chart = lineChart({
    title: t('customer.history_chart'),
    summary: t('customer.history_summary', { runs: history.length, first: formatNumber(history[0].score, 1), last: formatNumber(history[history.length - 1].score, 1) }),
    x: history.map((point) => Date.parse(`${point.as_of}T00:00:00Z`) / 1000),
    series: [{ label: t('customer.score'), color: '#1d4ed8', values: history.map((point) => point.score) }],
    thresholds: thresholds.map((rule, index) => ({ value: rule.min_score, color: colorOf(rule.name, index), label: `${label('band', rule.name)} ≥ ${rule.min_score}` })),
    yRange: [0, 100],
    height: 220,
  });
  return section(t('customer.history'), chart, h('details', {}, h('summary', {}, t('customer.history_table')), dataTable([
    { title: t('overview.run'), render: (p) => `#${p.run_id} · ${formatDate(p.as_of)}` },
    { title: t('customer.score'), numeric: true, render: (p) => formatNumber(p.score, 1) },
    { title: t('customers.band'), render: (p) => band(p.band) },
  ], history)));
}

function alertsSection(view, context, reload) {
  const alerts = view.alerts || [];
  const now = Date.now();
  const by = context.user.name;
  return section(t('customer.alerts'), alerts.length ? alerts.map((alert) => h('article', { class: 'alert-card', dataset: { alert: String(alert.id) } },
    h('h3', {}, h('a', { href: `/app/alerts/${alert.id}` }, alertTitle(alert))),
    h('div', { class: 'meta' }, level(alert.level), h('span', { class: `badge state-${alert.state}` }, label('state', alert.state)),
      h('span', {}, t('alerts.opened', { when: formatDateTime(alert.opened_ms) })),
      alert.state === 'open' && alert.deadline_ms ? h('span', { class: alert.deadline_ms < now ? 'overdue' : '' }, formatCountdown(alert.deadline_ms, now)) : null,
      alert.acked_by ? h('span', {}, t('alerts.acked_by', { who: alert.acked_by })) : null),
    context.can('alerts.write') ? alertActions(alert, by, reload) : null)) : h('p', { class: 'empty' }, t('customer.no_alerts')));
}

function winbackSection(view) {
  const winback = view.winback;
  if (!winback) return null;
  const loss = winback.loss;
  return section(t('customer.winback'),
    facts([
      [t('customer.lost'), winback.lost ? t('app.yes') : t('app.no')],
      loss ? [t('lost.churn_date'), formatDate(loss.churn_date)] : null,
      loss ? [t('lost.reason'), label('reason', loss.reason)] : null,
      loss ? [t('lost.value'), formatNumber(loss.expected_value, 2)] : null,
      loss ? [t('lost.eligible'), loss.eligible ? t('app.yes') : `${t('app.no')} (${loss.exclusion || '—'})`] : null,
      winback.do_not_contact ? [t('customer.do_not_contact'), `${winback.do_not_contact.reason} (${winback.do_not_contact.added_by})`] : null,
    ]),
    (winback.enrolments || []).length ? dataTable([
      { title: t('campaigns.playbook'), render: (e) => h('a', { href: '/app/campaigns' }, `${e.playbook} #${e.campaign_id}`) },
      { title: t('plugins.status'), render: (e) => [label('enrolment', e.state), e.holdout ? ` (${t('winback.holdout')})` : ''] },
      { title: t('customer.enrolled'), render: (e) => formatDate(e.enrolled) },
      { title: t('customer.next_step'), render: (e) => (e.next_step_ms ? formatDateTime(e.next_step_ms) : '—') },
    ], winback.enrolments) : null,
    loss ? h('p', {}, h('a', { href: `/app/lost?customer=${view.customer_id}` }, t('customer.open_lost'))) : null);
}

function timelineSection(view) {
  const events = (view.timeline || []).slice().sort((a, b) => b.at_ms - a.at_ms);
  const list = (items) => h('ol', { class: 'timeline', dataset: { test: 'timeline' } }, items.map((event) => h('li', { dataset: { kind: event.kind } },
    h('span', { class: 'when' }, formatDateTime(event.at_ms)),
    h('span', { class: 'kind' }, label('event', event.kind)), ' ', h('span', {}, event.summary || ''))));
  const more = events.length > TIMELINE_SHOWN
    ? h('details', {}, h('summary', {}, t('customer.timeline_more', { count: events.length - TIMELINE_SHOWN })), list(events.slice(TIMELINE_SHOWN)))
    : null;
  return section(t('customer.timeline'), events.length ? [list(events.slice(0, TIMELINE_SHOWN)), more] : h('p', { class: 'empty' }, t('customer.no_events')));
}

function followUpSection(view, context, reload) {
  if (!context.can('followups.write')) return null;
  const by = h('input', { name: 'by', required: true, value: context.user.display_name || context.user.name, autocomplete: 'name' });
  const channel = select('channel', CHANNELS.map((code) => [code, label('channel', code)]), 'phone', { required: true });
  const note = h('textarea', { name: 'note', rows: 3, required: true });
  const status = statusLine();
  const form = h('form', {
    id: 'follow-up', class: 'inline-form',
    onsubmit: async (event) => {
      event.preventDefault();
      const ok = await submitting(form, status, () => api.post(`/api/v1/customers/${view.customer_id}/follow-ups`, {
        by: by.value.trim(), channel: channel.value, note: note.value.trim(),
      }), t('customer.follow_up_saved'));
      if (ok) await reload(t('customer.follow_up_saved'));
    },
  },
  field(t('customer.follow_up_by'), by),
  field(t('customer.follow_up_channel'), channel),
  field(t('customer.follow_up_note'), note, t('customer.follow_up_hint')),
  h('button', { type: 'submit', class: 'primary wide' }, t('customer.follow_up_save')),
  status);
  const box = section(t('customer.follow_up'), form);
  box.classList.add('follow-up-card');
  return box;
}

export async function render(main, context) {
  const id = context.route.rest[0];
  const view = await api.get(`/api/v1/customers/${encodeURIComponent(id)}`);
  const reload = async (message) => {
    const focusId = document.activeElement?.id;
    await render(main, context);
    if (message) {
      const status = main.querySelector('#follow-up .status');
      if (status) status.textContent = message;
    }
    if (focusId) document.getElementById(focusId)?.focus();
  };
  const followUp = followUpSection(view, context, reload);
  const jump = followUp ? h('div', { class: 'thumb' }, h('a', { href: '#follow-up', class: 'button-like primary', onclick: (event) => {
    event.preventDefault();
    document.getElementById('follow-up').scrollIntoView({ block: 'center' });
    document.querySelector('#follow-up textarea').focus({ preventScroll: true });
  } }, t('customer.follow_up'))) : null;
  clear(main,
    header(view),
    h('div', { class: 'grid' },
      alertsSection(view, context, reload),
      followUp,
      reasonsSection(view),
      historySection(view),
      profileSection(view),
      contactsSection(view),
      winbackSection(view),
      timelineSection(view)),
    jump);
  return view.profile?.name || `#${view.customer_id}`;
}

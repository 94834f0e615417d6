// Alerts: mine (sent to me) or all, by state; a live countdown to each
// response deadline; acknowledge and resolve with a note; one alert's page
// (/app/alerts/{id}, where alert messages link) shows its escalation history.
import * as api from './api.js';
import { h, clear } from './dom.js';
import { t, label, formatDateTime, formatCountdown } from './i18n.js';
import { level, dataTable, section, errorBox, alertTitle } from './ui.js';
import { alertActions } from './alert-actions.js';

const STATES = ['open', 'acknowledged', 'resolved'];
const PAGE_SIZE = 20;

// Keeps every [data-deadline] countdown under `root` current, once a second, while it is shown.
function startCountdowns(root) {
  const tick = () => {
    if (!root.isConnected) {
      clearInterval(timer);
      return;
    }
    const now = Date.now();
    for (const element of root.querySelectorAll('[data-deadline]')) {
      const deadline = Number(element.dataset.deadline);
      element.textContent = formatCountdown(deadline, now);
      element.classList.toggle('overdue', deadline < now);
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
}

function alertCard(alert, context, reload) {
  const live = alert.state === 'open' && alert.deadline_ms;
  return h('article', { class: 'alert-card', dataset: { alert: String(alert.id) } },
    h('h3', {}, h('a', { href: `/app/alerts/${alert.id}` }, alertTitle(alert))),
    h('div', { class: 'meta' },
      level(alert.level),
      h('span', { class: `badge state-${alert.state}` }, label('state', alert.state)),
      h('a', { href: `/app/customers/${alert.customer_id}` }, t('alerts.customer', { id: alert.customer_id })),
      live ? h('span', { dataset: { deadline: String(alert.deadline_ms) }, 'aria-label': t('alerts.deadline') }) : null,
      alert.escalation_level > 0 ? h('span', { class: 'badge level-red' }, t('alerts.escalated', { level: alert.escalation_level })) : null),
    h('p', { class: 'muted' }, t('alerts.opened', { when: formatDateTime(alert.opened_ms) }),
      alert.deadline_ms ? [' · ', t('alerts.deadline_at', { when: formatDateTime(alert.deadline_ms) })] : null,
      alert.acked_by ? [' · ', t('alerts.acked_by', { who: alert.acked_by })] : null,
      alert.resolved_by ? [' · ', t('alerts.resolved_by', { who: alert.resolved_by })] : null),
    alert.resolution_note ? h('p', {}, alert.resolution_note) : null,
    context.can('alerts.write') ? alertActions(alert, context.user.name, reload) : null);
}

async function renderOne(main, context, id) {
  const alert = await api.get(`/api/v1/alerts/${encodeURIComponent(id)}`);
  const reload = () => renderOne(main, context, id);
  // The alert's own escalation history when the API sends it; else the notifications the outbox holds for it.
  let history = alert.escalation_history || null;
  if (!history) {
    try {
      const outbox = await api.get('/api/v1/outbox');
      history = (outbox.items || []).filter((item) => item.alert_id === alert.id)
        .map((item) => ({ channel: item.channel, state: item.state, event: item.title, recipients: [], at: null, error: item.last_error }));
    } catch (error) {
      history = error;
    }
  }
  // People's acknowledgement and resolution, with their notes, among the notifications by time.
  if (!(history instanceof Error)) {
    const actions = (alert.actions || []).map((action) => ({
      at: action.at, event: action.action, recipients: [action.by], note: action.note, action: true,
    }));
    history = history.concat(actions).sort((x, y) => String(x.at || '').localeCompare(String(y.at || '')));
  }
  clear(main,
    h('div', { class: 'page-head' }, h('p', { class: 'muted' }, h('a', { href: '/app/alerts' }, t('nav.alerts'))),
      h('h1', {}, alertTitle(alert))),
    alertCard(alert, context, reload),
    section(t('alerts.escalation'),
      h('p', {}, t('alerts.escalation_level', { level: alert.escalation_level })),
      history instanceof Error ? errorBox(history) : dataTable([
        { title: t('plugins.when'), render: (n) => formatDateTime(n.at) },
        { title: t('alerts.event'), render: (n) => [label('alert_event', n.event), n.level ? [' ', level(n.level)] : null] },
        { title: t('alerts.recipients'), render: (n) => (n.recipients || []).join(', ') || '—' },
        { title: t('alerts.channel'), render: (n) => (n.action ? '—' : n.channel) },
        { title: t('plugins.status'), render: (n) => n.action
          ? h('span', { class: 'action-note', dataset: { action: n.event } }, n.note || t('alerts.no_note'))
          : [h('span', { class: `badge state-${n.state}` }, label('delivery', n.state)),
          n.sent_at ? h('div', { class: 'muted' }, formatDateTime(n.sent_at)) : null, n.error ? h('div', { class: 'muted' }, n.error) : null] },
      ], history, { empty: t('alerts.no_notifications') })));
  startCountdowns(main);
  return alertTitle(alert);
}

export async function render(main, context) {
  const { route, user } = context;
  if (route.rest[0]) return renderOne(main, context, route.rest[0]);
  const owners = user.owner_ids || [];
  const view = route.query.get('view') || (owners.length ? 'mine' : 'all');
  const state = route.query.get('state') || 'open';
  const list = await api.get(api.withQuery('/api/v1/alerts', {
    state, owner: view === 'mine' ? owners.join(',') : undefined,
  }));
  const alerts = (list.items || []).slice().sort((a, b) => (a.deadline_ms || Infinity) - (b.deadline_ms || Infinity));
  const link = (changes, text, current) => h('a', { href: `/app/alerts?${new URLSearchParams({ view, state, ...changes })}`, 'aria-current': String(current) }, text);
  const pages = Math.max(1, Math.ceil(alerts.length / PAGE_SIZE));
  const pageNumber = Math.min(pages, Math.max(1, Number(route.query.get('page')) || 1));
  const shown = alerts.slice((pageNumber - 1) * PAGE_SIZE, pageNumber * PAGE_SIZE);
  const pageLink = (number, text) => h('a', { href: `/app/alerts?${new URLSearchParams({ view, state, page: number })}` }, text);
  const reload = () => render(main, context);
  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, t('nav.alerts')),
      list.median_time_to_acknowledge_minutes != null
        ? h('p', { class: 'muted' }, t('alerts.median_ack', { minutes: Math.round(list.median_time_to_acknowledge_minutes) })) : null),
    h('div', { class: 'actions' },
      owners.length ? h('nav', { class: 'segmented', 'aria-label': t('alerts.whose') },
        link({ view: 'mine' }, t('alerts.mine'), view === 'mine'), link({ view: 'all' }, t('alerts.all'), view === 'all')) : null,
      h('nav', { class: 'segmented', 'aria-label': t('alerts.state') },
        STATES.map((code) => link({ state: code }, label('state', code), state === code)))),
    h('section', { 'aria-label': t('alerts.list') },
      h('p', { class: 'muted' }, t('alerts.count', { count: alerts.length })),
      shown.length ? shown.map((alert) => alertCard(alert, context, reload)) : h('p', { class: 'empty' }, t('alerts.none'))),
    pages > 1 ? h('nav', { class: 'pager', 'aria-label': t('pager.label') },
      pageNumber > 1 ? pageLink(pageNumber - 1, t('pager.previous')) : h('span'),
      h('span', {}, t('pager.page', { page: pageNumber, pages })),
      pageNumber < pages ? pageLink(pageNumber + 1, t('pager.next')) : h('span')) : null);
  startCountdowns(main);
  return t('nav.alerts');
}

// Campaigns: each playbook version's report (recovery against its holdout,
// with the uplift's 95 % interval drawn, cost, benefit/cost) and the owners'
// tasks the playbooks created, closed here with their outcome.
import * as api from './api.js';
import { h, svg, clear, field, select } from './dom.js';
import { t, formatNumber, formatPercent, formatDate } from './i18n.js';
import { dataTable, section, facts, statusLine, submitting } from './ui.js';

const OUTCOMES = ['reached', 'no_answer', 'recovered', 'declined', 'other'];
const TASK_PAGE_SIZES = [10, 25, 50, 100];  // tasks a page shows, as the user chooses (25 first)

// Two bars (recovery rate of the treated, of the holdout) and the uplift with its interval, in an SVG.
function upliftChart(report) {
  const width = 340;
  const rowHeight = 34;
  const left = 110;
  const plot = width - left - 50;
  const treated = report.recovery_rate ?? 0;
  const holdout = report.holdout_recovery_rate ?? 0;
  const interval = report.uplift_95;
  const top = Math.max(0.05, treated, holdout, interval ? Math.abs(interval[1]) : 0, interval ? Math.abs(interval[0]) : 0);
  const scale = (value) => (plot * value) / top;
  const zero = left;
  const bar = (row, value, text, color) => [
    svg('text', { x: left - 6, y: row * rowHeight + 21, 'text-anchor': 'end' }, text),
    svg('rect', { x: zero, y: row * rowHeight + 8, width: Math.max(1, scale(value)), height: 18, fill: color, rx: 2 }),
    svg('text', { x: zero + Math.max(1, scale(value)) + 4, y: row * rowHeight + 21 }, formatPercent(value)),
  ];
  const parts = [bar(0, treated, t('campaigns.treated'), '#1d4ed8'), bar(1, holdout, t('campaigns.holdout'), '#6b7280')];
  if (report.uplift !== null && report.uplift !== undefined) {
    const y = 2 * rowHeight + 17;
    const uplift = report.uplift;
    parts.push(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, t('campaigns.uplift')));
    if (interval) {
      const lo = zero + scale(Math.max(-top, interval[0]));
      const hi = zero + scale(interval[1]);
      parts.push(svg('line', { x1: Math.max(0, lo), x2: hi, y1: y, y2: y, stroke: '#111827', 'stroke-width': 2 }),
        svg('line', { x1: Math.max(0, lo), x2: Math.max(0, lo), y1: y - 6, y2: y + 6, stroke: '#111827', 'stroke-width': 2 }),
        svg('line', { x1: hi, x2: hi, y1: y - 6, y2: y + 6, stroke: '#111827', 'stroke-width': 2 }));
    }
    parts.push(svg('circle', { cx: zero + scale(uplift), cy: y, r: 5, fill: uplift >= 0 ? '#15803d' : '#b91c1c' }));
  }
  parts.push(svg('line', { x1: zero, x2: zero, y1: 0, y2: 3 * rowHeight, stroke: '#9ca3af' }));
  const summary = t('campaigns.chart_summary', {
    treated: formatPercent(treated), holdout: formatPercent(holdout),
    uplift: report.uplift == null ? '—' : formatPercent(report.uplift),
    low: interval ? formatPercent(interval[0]) : '—', high: interval ? formatPercent(interval[1]) : '—',
  });
  return h('figure', { class: 'chart' }, h('figcaption', {}, t('campaigns.chart_title')),
    svg('svg', { class: 'bars', viewBox: `0 0 ${width} ${3 * rowHeight + 4}`, role: 'img', 'aria-label': summary }, parts),
    h('p', { class: 'muted' }, summary));
}

function campaignSection(campaign, report) {
  return section(`${campaign.playbook} v${campaign.version} (#${campaign.id})`,
    report ? upliftChart(report) : null,
    facts([
      report ? [t('winback.enrolled'), `${formatNumber(report.enrolled)} (${t('winback.holdout')}: ${formatNumber(report.holdout)})`] : null,
      report ? [t('winback.contacted'), formatNumber(report.contacted)] : null,
      report ? [t('winback.recovered'), `${formatNumber(report.recovered)} · ${t('winback.holdout_recovered')}: ${formatNumber(report.holdout_recovered)}`] : null,
      [t('campaigns.budget'), `${formatNumber(campaign.spent, 2)} / ${formatNumber(campaign.budget, 2)}`],
      report ? [t('campaigns.cost'), formatNumber(report.cost, 2)] : null,
      report ? [t('campaigns.revenue'), formatNumber(report.revenue_recovered, 2)] : null,
      [t('campaigns.benefit_cost'), campaign.benefit_cost_ratio == null ? '—' : formatNumber(campaign.benefit_cost_ratio, 2)],
    ]));
}

function taskTable(tasks, context, reload) {
  const owners = context.user.owner_ids || [];
  const mayClose = (task) => context.can('tasks.close_any')
    || (context.can('tasks.close_own') && (owners.includes(task.owner) || task.owner === context.user.name));
  return dataTable([
    { title: t('tasks.title'), render: (task) => [h('span', { dataset: { taskRow: String(task.id) } }, task.title), h('div', { class: 'muted' }, h('a', { href: `/app/customers/${task.customer_id}` }, t('alerts.customer', { id: task.customer_id })))] },
    { title: t('tasks.owner'), render: (task) => task.owner },
    { title: t('tasks.due'), render: (task) => formatDate(task.due) },
    { title: t('plugins.status'), render: (task) => (task.state === 'done' ? `${t('tasks.done')}: ${task.outcome} (${task.done_by})` : t('tasks.open')) },
    { title: t('tasks.close'), render: (task) => (task.state === 'open' && mayClose(task) ? closeForm(task, context, reload) : '—') },
  ], tasks, { empty: t('tasks.none') });
}

function closeForm(task, context, reload) {
  const outcome = select('outcome', OUTCOMES.map((code) => [code, t(`outcome.${code}`)]), 'reached');
  const status = statusLine();
  const form = h('form', {
    class: 'inline-form', dataset: { task: String(task.id) },
    onsubmit: async (event) => {
      event.preventDefault();
      const ok = await submitting(form, status, () => api.post(`/api/v1/tasks/${task.id}/close`, { outcome: outcome.value, by: context.user.name }));
      if (ok) await reload(t('tasks.closed'));
    },
  }, field(t('tasks.outcome'), outcome), h('button', { type: 'submit', class: 'primary' }, t('tasks.close_button')), status);
  return form;
}

export async function render(main, context) {
  const query = context.route.query;
  const owners = context.user.owner_ids || [];
  const view = query.get('view') || (owners.length ? 'mine' : 'all');
  const state = query.get('state') || 'open';
  const [campaigns, tasks] = await Promise.all([api.get('/api/v1/campaigns'), api.get(api.withQuery('/api/v1/tasks', { state }))]);
  const reports = await Promise.all((campaigns.items || []).map((campaign) => api.get(`/api/v1/campaigns/${campaign.id}/report`).catch(() => null)));
  let taskItems = tasks.items || [];
  if (view === 'mine') taskItems = taskItems.filter((task) => owners.includes(task.owner) || task.owner === context.user.name);
  const reload = async (message) => {
    await render(main, context);
    const status = main.querySelector('#tasks .status');
    if (status) status.textContent = message;
  };
  const link = (changes, text, current) => h('a', { href: `/app/campaigns?${new URLSearchParams({ view, state, ...changes })}`, 'aria-current': String(current) }, text);
  // Every task, a page at a time (the API answers them all; a team has hundreds).
  const chosen = Number(query.get('per_page'));
  const TASK_PAGE_SIZE = TASK_PAGE_SIZES.includes(chosen) || (chosen >= 1 && chosen <= 100 && Number.isInteger(chosen)) ? chosen : 25;
  const pages = Math.max(1, Math.ceil(taskItems.length / TASK_PAGE_SIZE));
  const pageNumber = Math.min(pages, Math.max(1, Number(query.get('page')) || 1));
  const shown = taskItems.slice((pageNumber - 1) * TASK_PAGE_SIZE, pageNumber * TASK_PAGE_SIZE);
  const pageLink = (number, text) => h('a', { href: `/app/campaigns?${new URLSearchParams({ view, state, per_page: TASK_PAGE_SIZE, page: number })}`, rel: number > pageNumber ? 'next' : 'prev' }, text);
  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, t('nav.campaigns'))),
    h('div', { class: 'grid' }, (campaigns.items || []).map((campaign, index) => campaignSection(campaign, reports[index])),
      (campaigns.items || []).length ? null : h('p', { class: 'empty' }, t('campaigns.none'))),
    h('section', { class: 'card', id: 'tasks', 'aria-labelledby': 'tasks-title' },
      h('h2', { id: 'tasks-title' }, t('tasks.heading')),
      h('div', { class: 'actions' },
        owners.length ? h('nav', { class: 'segmented', 'aria-label': t('alerts.whose') }, link({ view: 'mine' }, t('alerts.mine'), view === 'mine'), link({ view: 'all' }, t('alerts.all'), view === 'all')) : null,
        h('nav', { class: 'segmented', 'aria-label': t('alerts.state') }, link({ state: 'open' }, t('tasks.open'), state === 'open'), link({ state: 'done' }, t('tasks.done'), state === 'done'))),
      h('p', { class: 'status', role: 'status' }),
      h('p', { class: 'muted', dataset: { test: 'task-count' } }, t('tasks.count', {
        count: taskItems.length, from: taskItems.length ? (pageNumber - 1) * TASK_PAGE_SIZE + 1 : 0, to: (pageNumber - 1) * TASK_PAGE_SIZE + shown.length,
      })),
      h('nav', { class: 'segmented', 'aria-label': t('tasks.per_page') }, TASK_PAGE_SIZES.map((size) => h('a', {
        href: `/app/campaigns?${new URLSearchParams({ view, state, per_page: size })}`, 'aria-current': String(size === TASK_PAGE_SIZE),
      }, t('tasks.per_page_n', { n: size })))),
      taskTable(shown, context, reload),
      pages > 1 ? h('nav', { class: 'pager', 'aria-label': t('pager.label') },
        pageNumber > 1 ? pageLink(pageNumber - 1, t('pager.previous')) : h('span'),
        h('span', {}, t('pager.page', { page: pageNumber, pages })),
        pageNumber < pages ? pageLink(pageNumber + 1, t('pager.next')) : h('span')) : null));
  return t('nav.campaigns');
}

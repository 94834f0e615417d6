// Pieces the pages share: error and status messages, band badges, tables that
// become cards on a phone, and small forms.
import { ApiError } from './api.js';
import { h } from './dom.js';
import { t, label } from './i18n.js';

export function errorBox(error) {
  let text;
  if (error instanceof ApiError) {
    text = error.status === 403 ? t('error.forbidden') : (error.status === 404 ? t('error.not_found') : error.message);
  } else {
    text = t('error.network');
  }
  return h('p', { class: 'error', role: 'alert' }, text);
}

// A live region: pages put the outcome of an action there (read by screen readers).
export function statusLine() {
  return h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
}

export function showStatus(element, text, isError = false) {
  element.textContent = text;
  element.classList.toggle('error', isError);
}

export function band(code) {
  return h('span', { class: `badge band-${String(code || 'none').replace(/[^a-z0-9_-]/gi, '')}` }, label('band', code));
}

export function level(code) {
  return h('span', { class: `badge level-${String(code || 'none').replace(/[^a-z0-9_-]/gi, '')}` }, label('level', code));
}

// A table whose rows read as labelled cards on a phone (CSS uses data-label).
// columns: [{ key, title, render(row) -> node|text, numeric }].
export function dataTable(columns, rows, { caption, empty } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty || t('app.empty'));
  // Focusable, so a keyboard can scroll a table wider than the screen.
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || t('app.table') },
    h('table', { class: 'data' },
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col', class: column.numeric ? 'num' : '' }, column.title)))),
      h('tbody', {}, rows.map((row) => h('tr', {},
        columns.map((column) => h('td', { 'data-label': column.title, class: column.numeric ? 'num' : '' },
          column.render ? column.render(row) : (row[column.key] ?? '—'))))))));
}

// A definition list from [term, value] pairs.
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value ?? '—')]));
}

export function section(title, ...children) {
  const id = `s-${Math.random().toString(36).slice(2, 9)}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

// A number with its caption: the tiles of the overview.
export function stat(value, caption, modifier = '') {
  return h('div', { class: `stat ${modifier}` }, h('span', { class: 'value' }, value), h('span', { class: 'caption' }, caption));
}

// Runs `action` with the form's submit button disabled; shows the outcome in `status`.
export async function submitting(form, status, action, doneText) {
  const buttons = [...form.querySelectorAll('button')];
  buttons.forEach((button) => { button.disabled = true; });
  try {
    await action();
    if (doneText) showStatus(status, doneText);
    return true;
  } catch (error) {
    showStatus(status, errorBox(error).textContent, true);
    return false;
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
  }
}

// An alert's title for people, in their language: made from its reason code and customer rather
// than the engine's title ("[signal] customer 12: order_trend_break"), which is English and
// code-like. System alerts ("sync_failed:erp_csv") name what failed after the reason.
export function alertTitle(alert) {
  const [code, subject] = String(alert.reason || '').split(/:(.*)/s);
  const reason = label('alert_reason', code);
  if (alert.customer_id) {
    return t('alerts.title_customer', { customer: t('alerts.customer_name', { id: alert.customer_id }), reason });
  }
  return subject ? t('alerts.title_system', { reason, subject }) : reason;
}

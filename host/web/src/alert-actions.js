// Acknowledge and resolve, with a note: the same controls on the customer 360
// page and the alerts page.
import * as api from './api.js';
import { h, field, uid } from './dom.js';
import { t } from './i18n.js';
import { statusLine, submitting } from './ui.js';

// `alert`: {id, state}; `by`: who acts (the session's user); `done()`: called after a change.
export function alertActions(alert, by, done) {
  if (alert.state === 'resolved') return null;
  const note = h('input', { name: 'note', id: uid('note'), autocomplete: 'off' });
  const status = statusLine();
  const form = h('form', { class: 'alert-actions', onsubmit: (event) => event.preventDefault() },
    field(t('alerts.note'), note),
    [
      alert.state === 'open' ? h('button', {
        type: 'button', class: 'primary', dataset: { action: 'acknowledge', alert: String(alert.id) },
        onclick: () => submitting(form, status, async () => {
          await api.post(`/api/v1/alerts/${alert.id}/acknowledge`, { by, note: note.value });
          done();
        }, t('alerts.acknowledged_done')),
      }, t('alerts.acknowledge')) : null,
      h('button', {
        type: 'button', class: 'secondary', dataset: { action: 'resolve', alert: String(alert.id) },
        onclick: () => {
          if (!note.value.trim()) {
            status.textContent = t('alerts.note_required');
            status.classList.add('error');
            note.focus();
            return;
          }
          submitting(form, status, async () => {
            await api.post(`/api/v1/alerts/${alert.id}/resolve`, { by, note: note.value });
            done();
          }, t('alerts.resolved_done'));
        },
      }, t('alerts.resolve'))],
    status);
  return form;
}

// Admin: the users who may sign in (GET/POST /api/v1/users), their roles,
// languages and time zones; shown only with the users.admin permission.
import * as api from './api.js';
import { h, clear, field, select } from './dom.js';
import { t, label, LANGUAGES, formatDateTime } from './i18n.js';
import { dataTable, section, statusLine, submitting } from './ui.js';

export const ROLES = ['account_manager', 'csm', 'cs_director', 'coo', 'admin'];

// One person's changes (PATCH /api/v1/users/{name}): role, language, time zone, a new password,
// disabled or enabled, and the end of a lockout. Only what differs is sent.
function editForm(user, main, context) {
  const role = select('role', ROLES.map((code) => [code, label('role', code)]), user.role);
  const language = select('language', LANGUAGES, user.language || 'en');
  const timeZone = h('input', { name: 'time_zone', value: user.time_zone || 'UTC', autocomplete: 'off' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: 8 });
  const enabled = h('input', { name: 'enabled', type: 'checkbox', checked: !user.disabled });
  const status = statusLine();
  // Drawn again with the list; this person's form stays open with what happened.
  const done = async (message) => {
    await render(main, context);
    const again = main.querySelector(`form[data-user="${CSS.escape(user.name)}"]`);
    if (again) {
      again.closest('details').open = true;
      again.querySelector('.status').textContent = message;
    }
  };
  const form = h('form', {
    class: 'filters user-edit', dataset: { user: user.name },
    onsubmit: async (event) => {
      event.preventDefault();
      const changes = {};
      if (role.value !== user.role) changes.role = role.value;
      if (language.value !== user.language) changes.language = language.value;
      if (timeZone.value.trim() !== user.time_zone) changes.time_zone = timeZone.value.trim();
      if (password.value) changes.password = password.value;
      if (enabled.checked === Boolean(user.disabled)) changes.disabled = !enabled.checked;
      if (!Object.keys(changes).length) {
        status.textContent = t('users.nothing_changed');
        return;
      }
      const ok = await submitting(form, status, () => api.patch(`/api/v1/users/${encodeURIComponent(user.name)}`, changes));
      if (ok) await done(t('users.saved'));
    },
  },
  field(t('users.role'), role), field(t('users.language'), language), field(t('users.time_zone'), timeZone),
  field(t('users.new_password'), password, t('users.password_hint')),
  h('label', { class: 'check' }, enabled, ' ', t('users.enabled')),
  h('div', { class: 'field' }, h('button', { type: 'submit', class: 'primary' }, t('users.save'))),
  user.locked_until_ms ? h('div', { class: 'field' }, h('button', {
    type: 'button', class: 'secondary', dataset: { action: 'unlock' },
    onclick: async () => {
      const ok = await submitting(form, status, () => api.patch(`/api/v1/users/${encodeURIComponent(user.name)}`, { unlock: true }));
      if (ok) await done(t('users.unlocked'));
    },
  }, t('users.unlock'))) : null,
  status);
  return h('details', { class: 'user-edit' }, h('summary', {}, t('users.edit', { name: user.name })), form);
}

export async function render(main, context) {
  const list = await api.get('/api/v1/users');
  const users = list.items || list.users || [];
  const name = h('input', { name: 'name', required: true, autocomplete: 'off', autocapitalize: 'none' });
  const displayName = h('input', { name: 'display_name' });
  const role = select('role', ROLES.map((code) => [code, label('role', code)]), 'account_manager');
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password', minlength: 8 });
  const language = select('language', LANGUAGES, 'en');
  const timeZone = h('input', { name: 'time_zone', value: 'Asia/Shanghai' });
  const ownerIds = h('input', { name: 'owner_ids', placeholder: 'am@example.test' });
  const status = statusLine();
  const form = h('form', {
    class: 'filters',
    onsubmit: async (event) => {
      event.preventDefault();
      const ok = await submitting(form, status, () => api.post('/api/v1/users', {
        name: name.value.trim(), display_name: displayName.value.trim() || name.value.trim(), role: role.value, password: password.value,
        language: language.value, time_zone: timeZone.value.trim(),
        owner_ids: ownerIds.value.split(',').map((one) => one.trim()).filter(Boolean),
      }));
      if (ok) {
        await render(main, context);
        const line = main.querySelector('form .status');
        if (line) line.textContent = t('users.created');
      }
    },
  },
  field(t('users.name'), name), field(t('users.display_name'), displayName), field(t('users.role'), role),
  field(t('signin.password'), password, t('users.password_hint')), field(t('users.language'), language),
  field(t('users.time_zone'), timeZone), field(t('users.owner_ids'), ownerIds, t('users.owner_ids_hint')),
  h('div', { class: 'field' }, h('button', { type: 'submit', class: 'primary' }, t('users.create'))), status);
  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, t('nav.users'))),
    h('div', { class: 'grid' },
      section(t('users.list'), dataTable([
        { title: t('users.name'), render: (u) => [h('strong', {}, u.name), u.display_name && u.display_name !== u.name ? h('div', { class: 'muted' }, u.display_name) : null] },
        { title: t('users.role'), render: (u) => label('role', u.role) },
        { title: t('users.language'), render: (u) => u.language || '—' },
        { title: t('users.time_zone'), render: (u) => u.time_zone || '—' },
        { title: t('users.owner_ids'), render: (u) => (u.owner_ids || []).join(', ') || '—' },
        { title: t('users.state'), render: (u) => (u.locked_until_ms ? t('users.locked_until', { when: formatDateTime(u.locked_until_ms) }) : (u.disabled ? t('users.disabled') : t('users.active'))) },
        { title: t('users.change'), render: (u) => editForm(u, main, context) },
      ], users)),
      section(t('users.add'), form)));
  return t('nav.users');
}

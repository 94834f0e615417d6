// Sign-in: name and password to POST /api/v1/session (which sets the session
// cookie); a locked account is told how long the lock lasts.
import * as api from './api.js';
import { h, field, clear } from './dom.js';
import { t, LANGUAGES, currentLanguage, setLocale, formatDateTime } from './i18n.js';

// Before sign-in the person is unknown: times show in this browser's time zone, in the language chosen here.
function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

export async function render(main, { onSignedIn }) {
  const name = h('input', { name: 'name', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const message = h('p', { class: 'status', role: 'alert', 'aria-live': 'assertive' });
  const button = h('button', { type: 'submit', class: 'primary wide' }, t('signin.submit'));
  const form = h('form', {
    class: 'signin', novalidate: false,
    onsubmit: async (event) => {
      event.preventDefault();
      button.disabled = true;
      message.textContent = '';
      message.className = 'status';
      try {
        const session = await api.post('/api/v1/session', { name: name.value.trim(), password: password.value });
        onSignedIn(session);
      } catch (error) {
        message.className = 'status error';
        if (error instanceof api.ApiError && (error.status === 423 || error.status === 429
            || /lock/i.test(error.problem?.type || ''))) {
          // The end of the lock from Retry-After, in the page's language and this browser's time zone
          // (the server's detail is English UTC).
          setLocale(currentLanguage(), browserTimeZone());
          const until = error.retryAfterSeconds ? Date.now() + error.retryAfterSeconds * 1000 : null;
          message.textContent = until ? t('signin.locked', { when: formatDateTime(until) }) : t('signin.locked_now');
        } else if (error instanceof api.ApiError && (error.status === 401 || error.status === 400)) {
          message.textContent = t('signin.failed');
        } else if (error instanceof api.ApiError) {
          message.textContent = t('signin.unavailable', { detail: error.message });
        } else {
          message.textContent = t('error.network');
        }
        password.value = '';
        password.focus();
      } finally {
        button.disabled = false;
      }
    },
  },
  field(t('signin.name'), name),
  field(t('signin.password'), password),
  button,
  message);
  const language = h('div', { class: 'signin-language' },
    LANGUAGES.map(([code, text]) => h('button', {
      type: 'button', class: 'link', lang: code, 'aria-pressed': String(currentLanguage() === code),
      onclick: () => { setLocale(code, undefined); render(clear(main), { onSignedIn }); },
    }, text)));
  clear(main,
    h('div', { class: 'signin-box' },
      h('p', { class: 'brand big' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), ' ', t('app.name')),
      h('h1', {}, t('signin.title')),
      form,
      language));
  name.focus();
}

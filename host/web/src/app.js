// The shell of the web app: the session, the header and navigation, and the
// router that draws one page module per /app/... path (history API, no reload).
import * as api from './api.js';
import { h, clear, select, uid } from './dom.js';
import { t, setLocale, LANGUAGES, currentLanguage } from './i18n.js';
import { errorBox } from './ui.js';

// Pages, their paths and what a user needs to see them (a permission, or none).
const PAGES = [
  { path: 'overview', key: 'nav.overview', icon: '◎', load: () => import('./page-overview.js') },
  { path: 'customers', key: 'nav.customers', icon: '☰', load: () => import('./page-customers.js'), detail: () => import('./page-customer.js') },
  { path: 'alerts', key: 'nav.alerts', icon: '⚑', load: () => import('./page-alerts.js') },
  { path: 'lost', key: 'nav.lost', icon: '↘', load: () => import('./page-lost.js') },
  { path: 'campaigns', key: 'nav.campaigns', icon: '↻', load: () => import('./page-campaigns.js') },
  { path: 'plugins', key: 'nav.plugins', icon: '⚙', permission: 'plugins.read', load: () => import('./page-plugins.js') },
  { path: 'users', key: 'nav.users', icon: '◍', permission: 'users.admin', load: () => import('./page-users.js') },
];
// How many pages the phone's bottom bar shows before "More".
const PHONE_BAR_PAGES = 4;

const state = { user: null, renderToken: 0 };

function can(permission) {
  return !permission || Boolean(state.user?.permissions?.includes(permission));
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function signedIn(session) {
  state.user = session.user;
  api.setCsrfToken(session.csrf_token);
  setLocale(session.user.language, session.user.time_zone);
}

async function signOut() {
  try {
    await api.del('/api/v1/session');
  } catch {
    // Signed out already (401) or the server is gone: the page forgets the session either way.
  }
  state.user = null;
  api.setCsrfToken(null);
  navigate('/app/signin');
}

async function changeLanguage(language) {
  try {
    const answer = await api.patch('/api/v1/session', { language });
    if (answer?.user) state.user = answer.user;
    else state.user = { ...state.user, language };
  } catch {
    state.user = { ...state.user, language };
  }
  setLocale(state.user.language, state.user.time_zone);
  render();
}

function header() {
  const languageSelect = select('language', LANGUAGES, currentLanguage(), {
    id: uid('language'),
    class: 'compact',
    onchange: (event) => changeLanguage(event.target.value),
  });
  return h('header', { class: 'top' },
    h('a', { class: 'brand', href: '/app/overview' }, h('span', { 'aria-hidden': 'true', class: 'logo' }, '◆'), t('app.name')),
    h('div', { class: 'top-actions' },
      h('label', { for: languageSelect.id, class: 'visually-hidden' }, t('app.language')),
      languageSelect,
      h('span', { class: 'who', title: state.user.role },
        state.user.display_name || state.user.name, ' · ', t(`role.${state.user.role}`)),
      h('button', { type: 'button', class: 'secondary compact', onclick: signOut, dataset: { test: 'sign-out' } },
        t('app.sign_out'))));
}

function navigation(current) {
  const visible = PAGES.filter((page) => can(page.permission));
  const link = (page) => h('li', {},
    h('a', { href: `/app/${page.path}`, 'aria-current': page.path === current ? 'page' : false, dataset: { nav: page.path } },
      h('span', { class: 'icon', 'aria-hidden': 'true' }, page.icon), h('span', { class: 'text' }, t(page.key))));
  const more = visible.slice(PHONE_BAR_PAGES);
  const moreId = uid('more');
  const moreButton = h('button', {
    type: 'button', class: 'more', 'aria-expanded': 'false', 'aria-controls': moreId,
    onclick: () => {
      const open = moreButton.getAttribute('aria-expanded') !== 'true';
      moreButton.setAttribute('aria-expanded', String(open));
      document.getElementById(moreId).classList.toggle('open', open);
    },
  }, h('span', { class: 'icon', 'aria-hidden': 'true' }, '…'), h('span', { class: 'text' }, t('nav.more')));
  return h('nav', { class: 'side', 'aria-label': t('nav.label') },
    h('ul', { class: 'primary' }, visible.slice(0, PHONE_BAR_PAGES).map(link),
      more.length ? h('li', { class: 'more-item' }, moreButton) : null),
    h('ul', { class: 'secondary-pages', id: moreId }, more.map(link)));
}

function parseRoute() {
  const decode = (part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;  // a malformed escape names no page: the router shows "not found"
    }
  };
  const parts = location.pathname.replace(/^\/app\/?/, '').split('/').filter(Boolean).map(decode);
  return { name: parts[0] || 'overview', rest: parts.slice(1), query: new URLSearchParams(location.search) };
}

async function render() {
  const token = ++state.renderToken;
  const root = document.getElementById('app');
  const route = parseRoute();
  root.setAttribute('aria-busy', 'true');
  document.body.dataset.ready = '';
  if (!state.user || route.name === 'signin') {
    if (state.user && route.name === 'signin') {
      navigate('/app/overview', { replace: true });
      return;
    }
    const main = h('main', { id: 'main', tabindex: '-1', class: 'signin-main' });
    clear(root, main);
    const signin = await import('./page-signin.js');
    await signin.render(main, {
      onSignedIn: (session) => {
        signedIn(session);
        const back = route.name === 'signin' ? '/app/overview' : location.pathname + location.search;
        navigate(back, { replace: true });
      },
    });
    finish(root, 'signin', t('signin.title'));
    return;
  }
  let page = PAGES.find((candidate) => candidate.path === route.name);
  const main = h('main', { id: 'main', tabindex: '-1' });
  clear(root, header(), h('div', { class: 'frame' }, navigation(page?.path), main));
  if (!page || !can(page.permission)) {
    clear(main, h('h1', {}, t(page ? 'app.forbidden' : 'app.not_found')),
      h('p', {}, h('a', { href: '/app/overview' }, t('nav.overview'))));
    finish(root, 'missing', t(page ? 'app.forbidden' : 'app.not_found'));
    return;
  }
  main.append(h('p', { class: 'loading', role: 'status' }, t('app.loading')));
  try {
    const module = await (route.rest.length && page.detail ? page.detail() : page.load());
    if (token !== state.renderToken) return;
    const title = await module.render(main, { user: state.user, can, route, navigate, isCurrent: () => token === state.renderToken });
    if (token !== state.renderToken) return;
    finish(root, page.path, title || t(page.key));
  } catch (error) {
    if (token !== state.renderToken) return;
    clear(main, h('h1', {}, t(page.key)), errorBox(error));
    finish(root, page.path, t(page.key));
  }
}

function finish(root, name, title) {
  document.title = `${title} · ${t('app.name')}`;
  root.setAttribute('aria-busy', 'false');
  document.body.dataset.ready = name;
  // When the page's data is shown, for the Navigation Timing bench (bench/web_bench.py --browser).
  performance.mark('crm-ready', { detail: name });
  const heading = document.querySelector('main h1');
  if (heading && state.focusHeading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: false });
  }
  state.focusHeading = true;
}

document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = event.target.closest('a[href]');
  if (!anchor || anchor.target || anchor.hasAttribute('download')) return;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/app/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => render());
api.setUnauthorizedHandler(() => {
  if (state.user) {
    state.user = null;
    render();
  }
});

async function start() {
  setLocale((navigator.language || 'en'), Intl.DateTimeFormat().resolvedOptions().timeZone);
  try {
    signedIn(await api.get('/api/v1/session', { quiet401: true }));
  } catch {
    state.user = null;
  }
  state.focusHeading = false;
  render();
}

start();

// The string tables (en, zh-CN) and every date, number and duration shown,
// formatted in the signed-in user's language and time zone.
import { en } from './strings-en.js';
import { zhCN } from './strings-zh-CN.js';

const TABLES = { en, 'zh-CN': zhCN };
export const LANGUAGES = [['en', 'English'], ['zh-CN', '简体中文']];

let language = 'en';
let timeZone = 'UTC';

export function setLocale(lang, zone) {
  language = TABLES[lang] ? lang : (String(lang || '').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en');
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone || 'UTC' });
    timeZone = zone || 'UTC';
  } catch {
    timeZone = 'UTC';
  }
  document.documentElement.lang = language;
}

export const currentLanguage = () => language;
export const currentTimeZone = () => timeZone;

// The text of `key` with {name} replaced by params.name; English when the table lacks it.
export function t(key, params) {
  let text = TABLES[language][key] ?? en[key] ?? key;
  if (params) text = text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  return text;
}

// A value the API names with a code (band, level, state, reason...): its translation, or the code itself.
export function label(group, code) {
  if (code === undefined || code === null || code === '') return '—';
  const key = `${group}.${code}`;
  return TABLES[language][key] ?? en[key] ?? String(code).replaceAll('_', ' ');
}

function toDate(value) {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return new Date(`${value}T00:00:00Z`);
  return new Date(value);
}

export function formatDateTime(value) {
  if (value === undefined || value === null || value === '') return '—';
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(language, {
    timeZone, year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(date);
}

// A calendar date (YYYY-MM-DD from the API is a UTC date and stays that day).
export function formatDate(value) {
  if (value === undefined || value === null || value === '') return '—';
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const dateOnly = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value);
  return new Intl.DateTimeFormat(language, {
    timeZone: dateOnly ? 'UTC' : timeZone, year: 'numeric', month: 'short', day: 'numeric',
  }).format(date);
}

export function formatNumber(value, digits = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return '—';
  return new Intl.NumberFormat(language, { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(value);
}

export function formatPercent(value, digits = 1) {
  if (value === undefined || value === null) return '—';
  return new Intl.NumberFormat(language, { style: 'percent', maximumFractionDigits: digits }).format(value);
}

// "2 h 05 min left" / "overdue by 12 min": a response deadline seen from `nowMs`.
export function formatCountdown(deadlineMs, nowMs) {
  const remaining = deadlineMs - nowMs;
  const total = Math.abs(Math.round(remaining / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  let span;
  if (days > 0) span = t('time.dh', { d: days, h: hours });
  else if (hours > 0) span = t('time.hm', { h: hours, m: String(minutes).padStart(2, '0') });
  else span = t('time.ms', { m: minutes, s: String(seconds).padStart(2, '0') });
  return remaining >= 0 ? t('time.left', { span }) : t('time.overdue', { span });
}

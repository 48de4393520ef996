// How the dashboard writes numbers, amounts (in the client's currency when it has one), dates and times.

const LOCALE = "en-GB"; // "7 Dec 2026, 14:05"; numbers as 1,234.56
const INT = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const PLAIN_MONEY = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const ONE = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const WHEN = new Intl.DateTimeFormat(LOCALE, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
const DAY = new Intl.DateTimeFormat(LOCALE, { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const SHORT_DAY = new Intl.DateTimeFormat(LOCALE, { day: "numeric", month: "short", timeZone: "UTC" });
const MS_PER_DAY = 86400000;

const PLAIN_COMPACT = new Intl.NumberFormat(LOCALE, { notation: "compact", maximumFractionDigits: 1 });

let money = PLAIN_MONEY;
let compactMoney = PLAIN_COMPACT;
let currencyCode = "";

/** Format amounts in ``code`` (ISO 4217) from now on; an empty or unknown code leaves plain numbers. */
export function useCurrency(code) {
  try {
    money = code ? new Intl.NumberFormat(LOCALE, { style: "currency", currency: code }) : PLAIN_MONEY;
    compactMoney = code ? new Intl.NumberFormat(LOCALE, { style: "currency", currency: code, notation: "compact", maximumFractionDigits: 1 }) : PLAIN_COMPACT;
    currencyCode = code || "";
  } catch {
    money = PLAIN_MONEY;
    compactMoney = PLAIN_COMPACT;
    currencyCode = "";
  }
  return currencyCode;
}

export function missing(value) {
  return value === null || value === undefined || Number.isNaN(value);
}

export const fmt = {
  int: (v) => (missing(v) ? "n/a" : INT.format(v)),
  money: (v) => (missing(v) ? "n/a" : money.format(v)),
  compactMoney: (v) => (missing(v) ? "n/a" : compactMoney.format(v)), // axis ticks: "€200K"
  signedMoney: (v) => (missing(v) ? "n/a" : `${v >= 0 ? "+" : "−"}${money.format(Math.abs(v))}`),
  one: (v) => (missing(v) ? "n/a" : ONE.format(v)),
  pct: (v) => (missing(v) ? "n/a" : `${(v * 100).toFixed(2)} %`),
  share: (v) => (missing(v) ? "n/a" : `${Math.round(v * 100)} %`),
  ratio: (v) => (missing(v) ? "n/a" : `${v.toFixed(2)}×`),
  num: (v, digits = 3) => (missing(v) ? "n/a" : Number(v).toFixed(digits)),
  short: (v) => (Math.abs(v) >= 1000 ? `${INT.format(v / 1000)}k` : Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 1 ? 2 : 1)),
};

/** "low – high" of an interval, or "range n/a". */
export function range(interval, format) {
  if (!interval || missing(interval[0]) || missing(interval[1])) return "range n/a";
  return `${format(interval[0])} – ${format(interval[1])}`;
}

/** A time from the API (ISO 8601) as the reader's local date and time, e.g. "7 Dec 2026, 14:05". */
export function when(iso) {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? String(iso) : WHEN.format(time);
}

/** A UTC day "2026-12-07" as "7 Dec 2026" (or "7 Dec" short). */
export function dayText(day, short = false) {
  const time = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(time)) return String(day);
  return (short ? SHORT_DAY : DAY).format(time);
}

/** Days from ``since`` to ``until`` inclusive (both "YYYY-MM-DD"). */
export function daysIn(since, until) {
  return Math.round((Date.parse(`${until}T00:00:00Z`) - Date.parse(`${since}T00:00:00Z`)) / MS_PER_DAY) + 1;
}

/** The ``days`` days just before ``since``: [first, last] as "YYYY-MM-DD". */
export function previousPeriod(since, days) {
  const start = Date.parse(`${since}T00:00:00Z`);
  const iso = (t) => new Date(t).toISOString().slice(0, 10);
  return [iso(start - days * MS_PER_DAY), iso(start - MS_PER_DAY)];
}

// Building the page: elements, tables, the API call, and how "no data yet" and errors are shown.
// Every value from the API reaches the page through textContent or an attribute, never as HTML.

import { when } from "./format.js";

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** A 409 not_ready: the data this needs is not there yet (not a failure). */
  get notReady() {
    return this.code === "not_ready" || this.status === 409;
  }
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** GET a JSON route with the session cookie; a failure throws an ApiError with the API's message. */
export async function api(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) {
    window.location.assign("/sign-in");
    throw new ApiError("signed out", 401, "unauthorized");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body && body.error ? body.error : {};
    throw new ApiError(error.message || `the server answered ${response.status}`, response.status, error.code);
  }
  return body;
}

/** "No data for this yet" (a 409 not_ready, with the API's message), or an error, styled and announced as one. */
export function problem(error, what) {
  if (error instanceof ApiError && error.notReady) {
    return el("p", { class: "empty", role: "status" }, `No ${what} yet: ${error.message}.`);
  }
  const status = error instanceof ApiError ? ` (error ${error.status}${error.code ? `, ${error.code}` : ""})` : "";
  return el("div", { class: "problem", role: "alert" },
    el("strong", {}, `Could not load the ${what}${status}.`), " ", el("span", { class: "problem-message" }, error.message));
}

export function showProblem(container, error, what) {
  container.replaceChildren(problem(error, what));
}

export function loading() {
  return el("p", { class: "empty loading" }, "Loading…");
}

export function table(headers, rows, attrs = {}) {
  const head = el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h))));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr", row.attrs || {});
    for (const item of row.cells) tr.append(item instanceof Node ? item : el("td", {}, item));
    body.append(tr);
  }
  return el("div", { class: "table-wrap" }, el("table", attrs, head, body));
}

export function cell(text, attrs = {}, sub = null) {
  const td = el("td", attrs, text);
  if (sub) td.append(el("span", { class: "range" }, sub));
  return td;
}

export function list(items, attrs = {}) {
  const ul = el("ul", attrs);
  for (const item of items) ul.append(el("li", {}, item));
  return ul;
}

export function warnings(items, one = "warning", many = "warnings") {
  if (!items || items.length === 0) return null;
  const details = el("details", { class: "warnings" }, el("summary", {}, `${items.length} ${items.length === 1 ? one : many}`));
  details.append(list(items));
  return details;
}

/** A time from the API shown as a local date and time, the ISO value in its title. */
export function timeEl(iso, attrs = {}) {
  if (!iso) return el("span", attrs, "n/a");
  return el("time", { ...attrs, datetime: iso, title: iso }, when(iso));
}

/** A tile: label, value, an optional range line and an optional comparison line. */
export function tile(id, label, value, sub = null, compare = null) {
  return el("div", { class: "tile" },
    el("div", { class: "tile-label" }, label),
    el("div", { class: "tile-value", id }, value),
    sub ? el("div", { class: "range" }, sub) : null,
    compare);
}

// Shared by the desktop and the wallboard: DOM building (text only, never HTML from data), the API client
// with the session's CSRF token, sign-in, the event stream, and formatting.
import { LANGUAGES, language, setLanguage, t } from "./i18n.js";

export { t };

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && (body.detail || body.title || (body.error && body.error.message));
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

let csrf = null;

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
  const resp = await fetch(`/api/v1${path}`, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  const type = resp.headers.get("Content-Type") || "";
  if (type.includes("json")) data = await resp.json();
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

export async function currentSession() {
  try {
    const me = await api("GET", "/session");
    csrf = me.csrf;
    return me;
  } catch (err) {
    if (err.status === 401) return null;
    throw err;
  }
}

export async function signOut() {
  try { await api("DELETE", "/session"); } finally { csrf = null; location.reload(); }
}

export function signInForm(root, title, onDone) {
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "signin-error" });
  const login = h("input", { name: "login", autocomplete: "username", required: true, "data-testid": "login" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password",
                                required: true, "data-testid": "password" });
  const form = h("form", { class: "signin card", "data-testid": "signin",
    onsubmit: async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      try {
        const me = await api("POST", "/session", { login: login.value.trim(), password: password.value });
        csrf = me.csrf;
        onDone(me);
      } catch (err) {
        error.textContent = err.status === 401 ? t("signin.failed") : `${t("err")}: ${err.message}`;
      }
    } },
    h("div", { class: "brand brand-big" }, h("span", { class: "logo" }, "cc"), "callcore"),
    h("h1", {}, title),
    h("label", {}, t("signin.login"), login),
    h("label", {}, t("signin.password"), password),
    h("button", { type: "submit", class: "primary", "data-testid": "signin-submit" }, t("signin.submit")),
    error,
    languageSwitch(() => signInForm(root, title, onDone)));
  clear(root, h("div", { class: "signin-page" }, form));
  login.focus();
}

export function languageSwitch(rerender) {
  const current = language();
  return h("div", { class: "lang", role: "group", "aria-label": t("lang") },
    LANGUAGES.map((lang) => h("button", {
      type: "button", class: lang === current ? "active" : "", "data-testid": `lang-${lang}`,
      onclick: () => { setLanguage(lang); rerender(); },
    }, lang.toUpperCase())));
}

// One EventSource, reopened after errors; `onstatus(true|false)` tells whether it is connected.
export function eventStream(path, handlers, onstatus = () => {}) {
  let source = null;
  let retry = 1000;
  const open = () => {
    source = new EventSource(`/api/v1${path}`, { withCredentials: true });
    source.onopen = () => { retry = 1000; onstatus(true); };
    source.onerror = () => {
      onstatus(false);
      source.close();
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 15000);
    };
    for (const [name, fn] of Object.entries(handlers)) {
      source.addEventListener(name, (ev) => fn(JSON.parse(ev.data)));
    }
  };
  open();
  return () => source && source.close();
}

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

export function percent(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(language() === "ru" ? "ru-RU" : "en-GB",
    { day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit" });
}

export function toast(text, kind = "ok") {
  let box = document.getElementById("toasts");
  if (!box) { box = h("div", { id: "toasts", "aria-live": "polite" }); document.body.append(box); }
  const item = h("div", { class: `toast ${kind}`, "data-testid": "toast" }, text);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 6000 : 3500);
}

export function failed(err) {
  toast(`${t("err")}: ${err.message || err}`, "error");
}

// The supervisor wallboard: one event stream carries the figures (operators only when their tile changed)
// and the supervisors' events (help requests, chat messages, flagged calls).
import { api, clear, currentSession, duration, eventStream, failed, h, languageSwitch, percent, signInForm, signOut,
         t, toast, when } from "./common.js";

const root = document.getElementById("app");
const MAX_TILES = 240;
const S = { me: null, board: null, agents: new Map(), offset: 0, project: "", stateFilter: "", search: "",
            threads: [], thread: null, messages: [], tickets: [], flags: [], stop: null, endpoint: "" };
const el = {};

async function start() {
  document.title = `callcore — ${t("app.wallboard")}`;
  S.me = await currentSession();
  if (!S.me) { signInForm(root, t("app.wallboard"), () => start()); return; }
  if (S.me.role === "agent") { clear(root, h("p", { class: "notice" }, t("signin.supervisor_only"))); return; }
  S.endpoint = localStorage.getItem("callcore.endpoint") || S.me.endpoint || "";
  layout();
  await Promise.all([loadThreads(), loadTickets(), loadFlags()]);
  if (S.stop) S.stop();
  S.stop = eventStream("/wallboard/events", {
    wallboard: onBoard,
    help_request: () => loadThreads(),
    help_message: (ev) => onHelpMessage(ev),
    help_answer: () => loadThreads(),
    call_flagged: () => loadFlags(),
    ticket_created: () => loadTickets(),
    flag_reviewed: () => loadFlags(),
  }, (up) => { el.live.className = up ? "live up" : "live down"; el.live.textContent = up ? t("wb.live") : t("wb.offline"); });
}

function layout() {
  el.live = h("span", { class: "live", "data-testid": "live" }, "…");
  el.filter = h("select", { "data-testid": "project-filter", onchange: () => { S.project = el.filter.value; renderAll(); } });
  const search = h("input", { type: "search", placeholder: t("wb.search"), value: S.search, "data-testid": "search",
                              oninput: () => { S.search = search.value.toLowerCase(); renderAgents(); } });
  const phone = h("input", { value: S.endpoint, placeholder: "PJSIP/…", size: 12, "data-testid": "sup-endpoint",
                             onchange: () => { S.endpoint = phone.value.trim(); localStorage.setItem("callcore.endpoint", S.endpoint); } });
  el.kpis = h("section", { class: "kpis", "data-testid": "kpis" });
  el.queues = h("section", { class: "card", "data-testid": "queues" });
  el.campaigns = h("section", { class: "card", "data-testid": "campaigns" });
  el.alerts = h("section", { class: "card alerts", "data-testid": "alerts" });
  el.agents = h("section", { class: "card operators", "data-testid": "operators" });
  el.inbox = h("section", { class: "card chat", "data-testid": "inbox" });
  el.tickets = h("section", { class: "card", "data-testid": "tickets" });
  el.flags = h("section", { class: "card", "data-testid": "flags" });
  clear(root,
    h("header", { class: "topbar" },
      h("div", { class: "brand" }, h("span", { class: "logo" }, "cc"), "callcore", h("span", { class: "subtitle" }, t("app.wallboard"))),
      h("div", { class: "filters" }, h("label", {}, t("wb.filter"), el.filter), search,
        h("label", {}, t("wb.phone"), phone)),
      h("div", { class: "who" }, el.live, languageSwitch(() => { layout(); renderAll(); renderInbox(); renderTickets(); renderFlags(); }),
        h("span", { class: "user", "data-testid": "user" }, S.me.login),
        h("button", { class: "ghost", onclick: signOut, "data-testid": "signout" }, t("signout")))),
    h("main", { class: "wall-grid" },
      h("div", { class: "wall-main" }, el.kpis, h("div", { class: "two" }, el.queues, el.alerts), el.campaigns, el.agents),
      h("div", { class: "wall-side" }, el.inbox, el.flags, el.tickets)));
  renderAll(); renderInbox(); renderTickets(); renderFlags();
}

const now = () => Date.now() / 1000 - S.offset;

function onBoard(msg) {
  S.offset = Date.now() / 1000 - msg.now;
  if (msg.full) S.agents = new Map(Object.entries(msg.agents));
  else for (const [id, row] of Object.entries(msg.agents)) S.agents.set(id, row);
  for (const id of msg.removed || []) S.agents.delete(id);
  S.board = msg;
  renderAll();
}

function projectOptions() {
  const b = S.board || { queues: {}, campaigns: {} };
  const opts = [h("option", { value: "" }, t("wb.all"))];
  for (const q of Object.keys(b.queues).sort()) opts.push(h("option", { value: `q:${q}` }, `${t("wb.queue")}: ${q}`));
  for (const c of Object.keys(b.campaigns).sort()) opts.push(h("option", { value: `c:${c}` }, `${t("wb.campaign")}: ${c}`));
  return opts;
}

function inProject(queue) {
  if (!S.project) return true;
  const [kind, name] = [S.project.slice(0, 1), S.project.slice(2)];
  if (kind === "q") return queue === name;
  const c = S.board && S.board.campaigns[name];
  return !!c && c.queue === queue;
}

function renderAll() {
  if (!el.kpis) return;
  const keep = el.filter.value || S.project;
  clear(el.filter, projectOptions());
  el.filter.value = keep;
  renderKpis(); renderQueues(); renderCampaigns(); renderAlerts(); renderAgents();
}

function queuesShown() {
  const qs = (S.board && S.board.queues) || {};
  return Object.entries(qs).filter(([name]) => inProject(name)).sort(([a], [b]) => a.localeCompare(b));
}

function renderKpis() {
  const qs = queuesShown();
  const waiting = qs.reduce((n, [, q]) => n + q.waiting, 0);
  const longest = Math.max(0, ...qs.map(([, q]) => q.longest_wait));
  const offered = qs.reduce((n, [, q]) => n + q.offered, 0);
  const abandoned = qs.reduce((n, [, q]) => n + q.abandoned, 0);
  const answered = qs.reduce((n, [, q]) => n + q.answered, 0);
  const slq = qs.filter(([, q]) => q.service_level !== null && q.service_level !== undefined);
  const sl = slq.length ? slq.reduce((n, [, q]) => n + q.service_level * Math.max(1, q.answered), 0) / slq.reduce((n, [, q]) => n + Math.max(1, q.answered), 0) : null;
  const counts = {};
  for (const a of agentsShown(false)) counts[a.state] = (counts[a.state] || 0) + 1;
  const tile = (label, value, cls = "", id = "") => h("div", { class: `kpi ${cls}`, "data-testid": id || null },
    h("div", { class: "kpi-value" }, value), h("div", { class: "kpi-label" }, label));
  clear(el.kpis, h("div", { class: "kpi-row" },
    tile(t("wb.waiting"), String(waiting), waiting ? "warn" : "", "kpi-waiting"),
    tile(t("wb.longest"), duration(longest), longest > 60 ? "bad" : ""),
    tile(t("wb.sl"), percent(sl), sl !== null && sl < 0.8 ? "bad" : "good"),
    tile(t("wb.offered"), String(offered)), tile(t("wb.answered"), String(answered)),
    tile(t("wb.abandon"), offered ? `${abandoned} (${percent(abandoned / offered)})` : String(abandoned), offered && abandoned / offered > 0.05 ? "bad" : "")),
    h("div", { class: "kpi-row states" }, ["available", "on_call", "wrap_up", "paused", "reserved"].map((s) => h("button", {
      class: `kpi state st-${s} ${S.stateFilter === s ? "selected" : ""}`, "data-testid": `count-${s}`,
      onclick: () => { S.stateFilter = S.stateFilter === s ? "" : s; renderAll(); },
    }, h("div", { class: "kpi-value" }, String(counts[s] || 0)), h("div", { class: "kpi-label" }, t(`state.${s}`))))));
}

function renderQueues() {
  const rows = queuesShown().map(([name, q]) => h("tr", { "data-testid": `queue-${name}` },
    h("th", {}, name, h("span", { class: "muted small" }, ` ${q.today ? t("wb.today") : t("wb.since_start")}`)),
    h("td", { class: q.waiting ? "num warn" : "num", "data-testid": `waiting-${name}` }, String(q.waiting)),
    h("td", { class: "num" }, duration(q.longest_wait)), h("td", { class: "num" }, percent(q.service_level)),
    h("td", { class: "num" }, `${q.abandoned} (${percent(q.abandon_rate)})`), h("td", { class: "num" }, String(q.offered)),
    h("td", { class: "num" }, String(q.answered)), h("td", { class: "num" }, String(q.connected)),
    h("td", { class: "num" }, String(Object.entries(q.agents).filter(([s]) => s !== "logged_out").reduce((n, [, v]) => n + v, 0)))));
  const waitingCalls = queuesShown().flatMap(([name, q]) => q.calls.map((c) => h("li", { "data-testid": "waiting-call" },
    h("span", { class: "chip" }, name), h("span", {}, c.caller_number || "—"), h("span", { class: "timer-wait" }, duration(c.wait)))));
  clear(el.queues, h("h2", {}, t("wb.queues")),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, [t("wb.queue"), t("wb.waiting"), t("wb.longest"), t("wb.sl"), t("wb.abandon"),
      t("wb.offered"), t("wb.answered"), t("wb.connected"), t("wb.staffed")].map((x) => h("th", {}, x)))), h("tbody", {}, rows)),
    waitingCalls.length ? h("ul", { class: "waiting-list" }, waitingCalls) : null);
}

function renderCampaigns() {
  const cs = Object.entries((S.board && S.board.campaigns) || {}).filter(([name]) => !S.project || S.project === `c:${name}` || inProject((S.board.campaigns[name] || {}).queue));
  el.campaigns.hidden = !cs.length;
  clear(el.campaigns, h("h2", {}, t("wb.campaigns")),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, [t("wb.campaign"), t("wb.mode"), t("wb.state"), t("wb.dial_level"), t("wb.in_flight"),
      t("wb.ab24"), t("wb.ab30"), t("wb.leads_left")].map((x) => h("th", {}, x)))),
    h("tbody", {}, cs.map(([name, c]) => h("tr", { "data-testid": `campaign-${name}` }, h("th", {}, name), h("td", {}, c.mode), h("td", {}, c.state),
      h("td", { class: "num" }, c.dial_level.toFixed(2)), h("td", { class: "num" }, String(c.in_flight)),
      h("td", { class: `num ${c.abandon_24h > c.limit ? "bad" : ""}` }, `${percent(c.abandon_24h)} / ${percent(c.limit)}`),
      h("td", { class: `num ${c.abandon_30d > c.limit ? "bad" : ""}` }, percent(c.abandon_30d)),
      h("td", { class: "num" }, c.leads_left === null || c.leads_left === undefined ? "—" : String(c.leads_left)))))));
}

function alertText(a) {
  const vars = { ...a };
  if (["service_level", "abandonment", "campaign_abandonment"].includes(a.kind)) { vars.value = percent(a.value); vars.limit = percent(a.limit); }
  if (a.kind === "long_call") vars.value = duration(a.value);
  return t(`alert.${a.kind}`, vars);
}

function renderAlerts() {
  const list = ((S.board && S.board.alerts) || []).filter((a) => (!a.queue || inProject(a.queue)));
  clear(el.alerts, h("h2", {}, t("wb.alerts"), list.length ? h("span", { class: "badge red" }, String(list.length)) : null),
    list.length ? h("ul", { class: "list" }, list.map((a) => h("li", { class: `alert ${a.level}`, "data-testid": "alert" }, alertText(a))))
      : h("p", { class: "muted" }, t("wb.no_alerts")));
}

function agentsShown(withState = true) {
  const out = [];
  for (const a of S.agents.values()) {
    if (a.state === "logged_out" && S.stateFilter !== "logged_out") continue;
    if (S.project && !a.queues.some((q) => inProject(q))) continue;
    if (withState && S.stateFilter && a.state !== S.stateFilter) continue;
    if (withState && S.search && !`${a.id} ${a.name}`.toLowerCase().includes(S.search)) continue;
    out.push(a);
  }
  return out;
}

const ORDER = { on_call: 0, reserved: 1, wrap_up: 2, available: 3, paused: 4, logged_out: 5 };

function renderAgents() {
  if (!el.agents) return;
  const shown = agentsShown().sort((a, b) => (ORDER[a.state] - ORDER[b.state]) || (a.since - b.since));
  const tiles = shown.slice(0, MAX_TILES).map((a) => h("div", { class: `tile st-${a.state}`, "data-testid": `agent-${a.id}` },
    h("div", { class: "tile-head" }, h("strong", {}, a.name), h("span", { class: "muted small" }, a.id)),
    h("div", { class: "tile-state" }, a.state === "paused" && a.reason ? `${t("state.paused")}: ${a.reason}` : t(`state.${a.state}`),
      " ", h("span", { class: "timer", dataset: { since: String(a.since) } }, duration(now() - a.since))),
    a.state === "on_call" ? h("div", { class: "tile-call" }, h("span", {}, `${a.caller || "—"}${a.caller_name ? ` · ${a.caller_name}` : ""}`),
      a.held ? h("span", { class: "badge amber" }, t("call.held")) : null, h("span", { class: "chip" }, a.queue || "")) : null,
    a.state === "on_call" ? h("div", { class: "tile-actions" }, ["listen", "whisper", "barge"].map((mode) =>
      h("button", { class: "small", onclick: () => supervise(a.id, mode), "data-testid": `${mode}-${a.id}` }, t(`wb.${mode}`)))) : null));
  clear(el.agents, h("h2", {}, t("wb.operators"), h("span", { class: "muted small" }, ` ${shown.length}`)),
    h("div", { class: "tiles" }, tiles),
    shown.length > MAX_TILES ? h("p", { class: "muted" }, t("wb.more", { n: shown.length - MAX_TILES })) : null);
}

async function supervise(agentId, mode) {
  if (!S.endpoint) { toast(`${t("wb.phone")}?`, "error"); return; }
  try {
    await api("POST", "/supervise", { agent_id: agentId, mode, endpoint: S.endpoint });
    toast(t("wb.supervising", { mode: t(`wb.${mode}`), endpoint: S.endpoint, agent: agentId }));
  } catch (err) { failed(err); }
}

// --- help inbox -----------------------------------------------------------------------------------

async function loadThreads() {
  try {
    S.threads = (await api("GET", "/help-threads")).help_requests;
    if (S.thread) {
      S.thread = S.threads.find((x) => x.id === S.thread.id) || null;
    }
    if (!S.thread && S.threads.length) await openThread(S.threads[0].id, false);
    renderInbox();
  } catch (err) { failed(err); }
}

async function openThread(id, render = true) {
  S.thread = S.threads.find((x) => x.id === id) || null;
  S.messages = S.thread ? (await api("GET", `/help-requests/${id}/messages`)).messages : [];
  if (render) renderInbox();
}

function onHelpMessage(ev) {
  if (S.thread && ev.request_id === S.thread.id && !S.messages.some((m) => m.id === ev.id)) {
    S.messages.push(ev);
  }
  loadThreads();
}

function renderInbox() {
  if (!el.inbox) return;
  const list = h("ul", { class: "threads" }, S.threads.map((th) => h("li", {
    class: `thread ${S.thread && S.thread.id === th.id ? "selected" : ""} ${th.last_role === "supervisor" ? "" : "waiting"}`,
    "data-testid": `thread-${th.id}`, onclick: () => openThread(th.id),
  }, h("strong", {}, th.agent_id), h("span", { class: "muted small" }, when(th.last_at || th.created_at)),
    h("div", { class: "ellipsis" }, th.text))));
  const conv = [];
  if (S.thread) {
    conv.push({ id: `r${S.thread.id}`, role: "agent", sender: S.thread.agent_id, text: S.thread.text, created_at: S.thread.created_at }, ...S.messages);
  }
  const input = h("textarea", { rows: 2, placeholder: t("wb.reply"), "data-testid": "reply-input" });
  const send = async (ev) => {
    ev.preventDefault();
    if (!S.thread || !input.value.trim()) return;
    try {
      const m = await api("POST", `/help-requests/${S.thread.id}/messages`, { text: input.value.trim() });
      if (!S.messages.some((x) => x.id === m.id)) S.messages.push(m);
      input.value = ""; renderInbox();
    } catch (err) { failed(err); }
  };
  input.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && !ev.shiftKey) send(ev); });
  const agent = S.thread && S.agents.get(S.thread.agent_id);
  clear(el.inbox, h("h2", {}, t("wb.inbox"), S.threads.length ? h("span", { class: "badge red" }, String(S.threads.length)) : null),
    S.threads.length ? list : h("p", { class: "muted" }, t("wb.inbox_empty")),
    S.thread ? h("div", { class: "conversation" },
      h("div", { class: "row between" }, h("strong", {}, `${S.thread.agent_id}${S.thread.call_id ? ` · ${t("help.call", { id: S.thread.call_id })}` : ""}`),
        h("button", { class: "small", disabled: !(agent && agent.state === "on_call"), onclick: () => supervise(S.thread.agent_id, "listen"),
                      "data-testid": "chat-listen" }, t("wb.listen"))),
      h("ol", { class: "messages", "data-testid": "sup-chat-log" }, conv.map((m) => h("li", {
        class: `msg ${m.role === "agent" ? "theirs" : "mine"}`, "data-testid": "sup-chat-message" },
        h("div", { class: "meta" }, m.sender, " · ", when(m.created_at)), h("div", { class: "text" }, m.text)))),
      h("form", { class: "stack", onsubmit: send }, input, h("button", { type: "submit", class: "primary", "data-testid": "reply-send" }, t("help.send")))) : null);
}

// --- tickets and flags ----------------------------------------------------------------------------

async function loadTickets() {
  try { S.tickets = (await api("GET", "/tickets?status=open")).tickets.slice(-50).reverse(); renderTickets(); } catch (err) { failed(err); }
}

async function loadFlags() {
  try { S.flags = (await api("GET", "/flags")).flags; renderFlags(); } catch (err) { failed(err); }
  loadTickets();
}

function renderTickets() {
  if (!el.tickets) return;
  clear(el.tickets, h("h2", {}, t("wb.tickets"), h("span", { class: "muted small" }, ` ${S.tickets.length}`)),
    S.tickets.length ? h("ul", { class: "list" }, S.tickets.map((tk) => h("li", { "data-testid": "ticket" },
      h("strong", {}, `#${tk.id} ${t(`ticket.${tk.type}`)}`), " ", h("span", { class: "muted small" }, `${tk.agent_id} · ${tk.caller_number} · ${when(tk.created_at)}`),
      h("div", { class: "ellipsis" }, tk.text)))) : h("p", { class: "muted" }, t("wb.none")));
}

function renderFlags() {
  if (!el.flags) return;
  clear(el.flags, h("h2", {}, t("wb.flags"), S.flags.length ? h("span", { class: "badge amber" }, String(S.flags.length)) : null),
    S.flags.length ? h("ul", { class: "list" }, S.flags.map((f) => h("li", { "data-testid": "flag" },
      h("div", { class: "row between" }, h("strong", {}, t(`flag.${f.reason}`)),
        h("button", { class: "small", onclick: async () => { try { await api("POST", `/flags/${f.id}/review`); loadFlags(); } catch (err) { failed(err); } } }, t("wb.review"))),
      h("span", { class: "muted small" }, `${f.agent_id} · ${f.caller_number || "—"} · ${when(f.created_at)}`),
      f.note ? h("div", {}, f.note) : null))) : h("p", { class: "muted" }, t("wb.none")));
}

setInterval(() => {
  const n = now();
  for (const node of document.querySelectorAll(".tile [data-since]")) node.textContent = duration(n - Number(node.dataset.since));
}, 1000);

start().catch((err) => { clear(root, h("p", { class: "notice error" }, `${t("err")}: ${err.message}`)); });

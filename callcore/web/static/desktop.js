// The operator desktop: state bar, call pop (caller card, history, script), call controls, tickets,
// departments and transfer, flagging, disposition, outbound preview and the help chat.
import { api, clear, currentSession, duration, eventStream, failed, h, languageSwitch, signInForm, signOut, t,
         toast, when } from "./common.js";

const root = document.getElementById("app");
const S = { pauseReason: "", consult: null, me: null, desk: null, agent: null, call: null, ended: false, thread: null, messages: [],
            preview: null, offset: 0, stop: null };
const el = {};

async function start() {
  document.title = `callcore — ${t("app.desktop")}`;
  S.me = await currentSession();
  if (!S.me) { signInForm(root, t("app.desktop"), () => start()); return; }
  if (S.me.role !== "agent") { clear(root, h("p", { class: "notice" }, `${S.me.login}: ${t("app.desktop")} — agent only`)); return; }
  await load();
  layout();
  if (S.stop) S.stop();
  S.stop = eventStream(`/agents/${encodeURIComponent(S.me.login)}/events`, {
    state: (ev) => { setAgent(ev); },
    call: async (ev) => { S.call = ev; S.ended = false; renderCall(); await refreshCard(); },
    call_ended: () => { S.ended = true; S.consult = null; renderCall(); renderControls(); },
    dial: (ev) => { if (ev.state === "failed") toast(`${t("dial.failed")}: ${ev.cause}`, "error"); },
    consult: (ev) => { S.consult = ev.state === "ended" ? null : ev; if (ev.state === "ended") toast(t("consult.failed"), "error"); renderControls(); },
    call_held: (ev) => { if (S.call && S.call.call_id === ev.call_id) { S.call.held = ev.held; renderCall(); renderControls(); } },
    help_message: (ev) => onHelpMessage(ev),
    help_answer: (ev) => onHelpAnswer(ev),
  }, (up) => { el.link.className = up ? "link up" : "link down"; });
}

async function load() {
  S.desk = await api("GET", `/agents/${encodeURIComponent(S.me.login)}/desk`);
  setAgentState(S.desk.agent);
  S.call = S.desk.call;
  S.ended = !!S.call && S.desk.agent.state !== "on_call";
  const threads = await api("GET", `/agents/${encodeURIComponent(S.me.login)}/help`);
  S.thread = threads.help_requests[0] || null;
  S.messages = S.thread ? (await api("GET", `/agents/${encodeURIComponent(S.me.login)}/help/${S.thread.id}/messages`)).messages : [];
}

function setAgentState(agent) {
  S.agent = agent;
  if (agent.in_state_seconds !== undefined) S.offset = Date.now() / 1000 - (agent.since + agent.in_state_seconds);
}

function setAgent(agent) {
  setAgentState({ ...S.agent, ...agent });
  renderState();
  renderControls();
  renderDisposition();
}

const serverNow = () => Date.now() / 1000 - S.offset;
const me = () => encodeURIComponent(S.me.login);

function layout() {
  el.state = h("div", { class: "statebar", "data-testid": "statebar" });
  el.context = h("div", { class: "contextbar", "data-testid": "contextbar" });
  el.link = h("span", { class: "link", title: "event stream" });
  el.call = h("section", { class: "card call", "data-testid": "call-card" });
  el.controls = h("div", { class: "controls" });
  el.history = h("section", { class: "card", "data-testid": "history" });
  el.script = h("section", { class: "card script", "data-testid": "script" });
  el.ticket = h("section", { class: "card", "data-testid": "ticket-panel" });
  el.depts = h("section", { class: "card", "data-testid": "departments" });
  el.flag = h("section", { class: "card", "data-testid": "flag-panel" });
  el.disp = h("section", { class: "card", "data-testid": "disposition" });
  el.preview = h("section", { class: "card", "data-testid": "preview" });
  el.chat = h("section", { class: "card chat", "data-testid": "chat" });
  clear(root,
    h("header", { class: "topbar" },
      h("div", { class: "brand" }, h("span", { class: "logo" }, "cc"), "callcore",
        h("span", { class: "subtitle" }, t("app.desktop"))),
      el.state,
      h("div", { class: "who" }, el.link, languageSwitch(() => { layout(); }),
        h("span", { class: "user", "data-testid": "user" }, S.agent.name || S.me.login),
        h("button", { class: "ghost", onclick: signOut, "data-testid": "signout" }, t("signout")))),
    el.context,
    h("main", { class: "desk-grid" },
      h("div", { class: "col" }, el.call, el.preview, el.history),
      h("div", { class: "col" }, el.script),
      h("div", { class: "col" }, el.disp, el.ticket, el.depts, el.flag),
      h("div", { class: "col" }, el.chat)));
  renderState(); renderCall(); renderControls(); renderTicket(); renderDepartments(); renderFlag();
  renderDisposition(); renderPreview(); renderChat();
}

// --- state bar ------------------------------------------------------------------------------------

function renderState() {
  const a = S.agent;
  const reasons = S.desk.pause_reasons;
  const chosen = S.pauseReason || a.pause_reason || reasons[0];
  const select = h("select", { "data-testid": "pause-reason", "aria-label": t("btn.pause"),
                               onchange: () => { S.pauseReason = select.value; } },
    reasons.map((r) => h("option", { value: r, selected: chosen === r }, r)));
  const label = a.state === "paused" && a.pause_reason ? `${t("state.paused")}: ${a.pause_reason}` : t(`state.${a.state}`);
  const act = (path, body) => async () => {
    try { setAgent(await api("POST", `/agents/${me()}/${path}`, body)); } catch (err) { failed(err); }
  };
  const projects = [...S.desk.projects.queues.map((q) => h("span", { class: "chip" }, q)),
                    ...S.desk.projects.campaigns.map((c) => h("span", { class: "chip campaign", title: c.mode }, `${c.name} · ${c.mode}`))];
  const phone = a.mode === "session"
    ? h("span", { class: "phone ok", "data-testid": "phone" }, t("phone.session"))
    : h("span", { class: `phone ${a.registered === false ? "bad" : "ok"}`, "data-testid": "phone" },
        a.registered === false ? t("phone.unregistered") : t("phone.registered"));
  clear(el.state,
    h("span", { class: `pill st-${a.state}`, "data-testid": "agent-state" }, label,
      h("span", { class: "timer", "data-since": "state" })),
    a.state === "logged_out"
      ? h("button", { class: "primary", onclick: act("login", {}), "data-testid": "shift-start" }, t("btn.login"))
      : [h("button", { class: "primary", onclick: act("ready"), disabled: a.state === "available" || a.state === "on_call",
                       "data-testid": "ready" }, t("btn.ready")),
         h("span", { class: "pausebox" }, select,
           h("button", { onclick: () => act("pause", { reason: select.value })(), disabled: a.state === "paused",
                         "data-testid": "pause" }, t("btn.pause"))),
         h("button", { class: "ghost", onclick: act("logout"), "data-testid": "shift-end" }, t("btn.logout"))]);
  clear(el.context, h("span", { class: "muted" }, t("projects")),
    h("span", { class: "projects", "aria-label": t("projects") }, projects), phone);
  tick();
}

// --- call card ------------------------------------------------------------------------------------

function renderCall() {
  const c = S.call;
  el.call.classList.toggle("waiting", !c);
  if (!c) {
    clear(el.call, h("div", { class: "idle" },
      h("div", { class: "idle-icon", "aria-hidden": "true" }, "☎"),
      h("h2", {}, t("call.waiting_title")), h("p", { class: "muted" }, t("call.waiting_text"))));
    clear(el.history); el.history.hidden = true;
    renderScript();
    renderDisposition();
    renderPreview();
    return;
  }
  const hist = c.history;
  const repeat = hist && hist.repeat_open;
  const data = Object.entries(c.data || {}).filter(([k]) => !["campaign_script", "agent_id"].includes(k));
  clear(el.call,
    h("div", { class: "call-head" },
      h("div", {},
        h("div", { class: "caller-number", "data-testid": "caller-number" }, c.caller_number || t("call.unknown")),
        h("div", { class: "caller-name", "data-testid": "caller-name" }, c.caller_name || "")),
      h("div", { class: "badges" },
        S.ended ? h("span", { class: "badge grey" }, t("call.ended")) : null,
        c.held ? h("span", { class: "badge amber", "data-testid": "held" }, t("call.held")) : null,
        repeat ? h("span", { class: "badge red", "data-testid": "repeat-open" }, t("call.repeat_open")) : null)),
    h("dl", { class: "facts" },
      h("dt", {}, t("call.project")), h("dd", { "data-testid": "call-project" }, c.data && c.data.campaign ? `${c.data.campaign} (${c.queue})` : c.queue),
      h("dt", {}, t("call.wait")), h("dd", {}, duration(c.wait)),
      h("dt", {}, t("call.duration")), h("dd", {}, h("span", { class: "timer", "data-since": "call" }))),
    data.length ? h("div", {}, h("h3", {}, t("call.data")),
      h("dl", { class: "facts data", "data-testid": "caller-data" }, data.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]))) : null,
    el.controls);
  renderControls();
  renderHistory();
  renderScript();
  renderDisposition();
  renderPreview();
  tick();
}

function renderControls() {
  if (!el.controls) return;
  const onCall = S.agent && S.agent.state === "on_call" && S.call && !S.ended;
  const act = (path) => async () => {
    try {
      const r = await api("POST", `/agents/${me()}/${path}`);
      if (path.startsWith("consult/")) S.consult = null;
      if (r.call && S.call) { S.call.held = r.call.held; renderCall(); } else renderControls();
    } catch (err) { failed(err); }
  };
  const consulting = onCall && S.consult;
  clear(el.controls,
    consulting ? h("div", { class: "consult-box", "data-testid": "consult-state" },
      h("span", { class: `badge ${S.consult.state === "talking" ? "green" : "amber"}` },
        t(`consult.${S.consult.state}`, { target: S.consult.target.replace(/^(number|agent):/, "") })),
      h("button", { class: "primary", onclick: act("consult/complete"), disabled: S.consult.state !== "talking",
                    "data-testid": "consult-complete" }, t("consult.complete")),
      h("button", { onclick: act("consult/return"), "data-testid": "consult-return" }, t("consult.return"))) : null,
    !consulting && S.call && S.call.held
      ? h("button", { onclick: act("resume"), disabled: !onCall, "data-testid": "resume" }, t("ctl.resume"))
      : (!consulting ? h("button", { onclick: act("hold"), disabled: !onCall, "data-testid": "hold" }, t("ctl.hold")) : null),
    h("button", { class: "danger", onclick: act("hangup"), disabled: !onCall, "data-testid": "hangup" }, t("ctl.hangup")));
}

async function refreshCard() {
  try {
    const card = await api("GET", `/agents/${me()}/call/card`);
    if (card.call && (!S.call || card.call.call_id === S.call.call_id)) { S.call = { ...S.call, ...card.call }; renderCall(); }
  } catch (err) { failed(err); }
}

function renderHistory() {
  const hist = S.call && S.call.history;
  el.history.hidden = false;
  if (!hist) { clear(el.history, h("h2", {}, t("history")), h("p", { class: "muted" }, "—")); return; }
  const calls = hist.calls.map((c) => h("li", {},
    h("span", { class: "when" }, when(c.entered_at)), h("span", { class: "chip" }, c.queue || ""),
    h("span", { class: `outcome ${c.outcome || ""}` }, c.outcome || ""),
    c.disposition_code ? h("strong", {}, c.disposition_code) : null,
    c.disposition_notes ? h("span", { class: "muted" }, c.disposition_notes) : null));
  const tickets = hist.tickets.map((tk) => h("li", { class: `ticket ${tk.status}` },
    h("span", { class: `badge ${tk.status === "open" ? "red" : "grey"}` }, t(`ticket.${tk.status}`)),
    h("strong", {}, `#${tk.id} ${t(`ticket.${tk.type}`)}`), h("span", { class: "when" }, when(tk.created_at)),
    h("div", { class: "muted" }, tk.text)));
  clear(el.history, h("h2", {}, t("history")),
    !calls.length && !tickets.length ? h("p", { class: "muted", "data-testid": "history-none" }, t("history.none")) : null,
    tickets.length ? [h("h3", {}, t("history.tickets")), h("ul", { class: "list", "data-testid": "history-tickets" }, tickets)] : null,
    calls.length ? [h("h3", {}, t("history.calls")), h("ul", { class: "list", "data-testid": "history-calls" }, calls)] : null);
}

function renderScript() {
  const c = S.call;
  if (!c) { clear(el.script, h("h2", {}, t("script")), h("p", { class: "muted" }, t("script.idle"))); return; }
  const sections = c.sections || (c.script ? [{ id: "greeting", text: c.script }] : []);
  clear(el.script, h("h2", {}, t("script")),
    sections.length ? sections.map((s) => h("article", { class: "section", "data-testid": `script-${s.id}` },
      h("h3", {}, t(`sec.${s.id}`) === `sec.${s.id}` ? s.id : t(`sec.${s.id}`)),
      s.text.split("\n").map((line) => (line.trim() ? h("p", {}, line) : null)))) : h("p", { class: "muted" }, t("script.none")),
    c.phrases && c.phrases.length ? h("aside", { class: "phrases", "data-testid": "phrases" },
      h("h3", {}, t("phrases")), h("ul", {}, c.phrases.map((p) => h("li", {}, p)))) : null);
}

// --- ticket, departments, flag ---------------------------------------------------------------------

function renderTicket() {
  const type = h("select", { "data-testid": "ticket-type" },
    ["complaint", "claim", "request"].map((v) => h("option", { value: v }, t(`ticket.${v}`))));
  const text = h("textarea", { rows: 3, "data-testid": "ticket-text", placeholder: t("ticket.text") });
  const result = h("p", { class: "ok-text", "data-testid": "ticket-result" });
  clear(el.ticket, h("h2", {}, t("ticket.title")),
    h("form", { class: "stack", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const body = { type: type.value, text: text.value };
        if (S.call) { body.call_id = S.call.call_id; if (S.call.caller_number) body.caller_number = S.call.caller_number; }
        const tk = await api("POST", `/agents/${me()}/tickets`, body);
        result.textContent = t("ticket.done", { id: tk.id });
        text.value = "";
        if (S.call) await refreshCard();
      } catch (err) { failed(err); }
    } }, h("label", {}, t("ticket.type"), type), text,
      h("button", { type: "submit", class: "primary", "data-testid": "ticket-submit" }, t("ticket.submit")), result));
}

function renderDepartments() {
  const transfer = async (body, path = "transfer") => {
    try { setAgent(await api("POST", `/agents/${me()}/${path}`, body)); toast(t("ctl.transfer")); } catch (err) { failed(err); }
  };
  const deps = S.desk.departments.map((d) => h("li", { class: "dept", "data-testid": "department" },
    h("div", {}, h("strong", {}, d.name), h("div", { class: "muted" }, `${d.phone}${d.hours ? ` · ${d.hours}` : ""}`)),
    h("span", { class: "row" },
      h("button", { onclick: () => consult({ department_id: d.id }), "data-testid": `consult-dept-${d.id}`,
                    title: t("consult.hint") }, t("consult.start")),
      h("button", { onclick: () => transfer({ department_id: d.id }, "transfer/department"),
                    "data-testid": `transfer-dept-${d.id}` }, t("dept.transfer")))));
  const queue = h("select", { "data-testid": "xfer-queue" }, h("option", { value: "" }, "—"),
    S.desk.projects.queues.map((q) => h("option", { value: q }, q)));
  const number = h("input", { placeholder: t("xfer.number"), "data-testid": "xfer-number", inputmode: "tel" });
  const colleague = h("input", { placeholder: t("consult.colleague"), "data-testid": "consult-agent", size: 8 });
  clear(el.depts, h("h2", {}, t("dept.title")),
    deps.length ? h("ul", { class: "list" }, deps) : h("p", { class: "muted" }, t("dept.none")),
    h("form", { class: "row", onsubmit: (ev) => {
      ev.preventDefault();
      if (number.value.trim()) transfer({ number: number.value.trim() });
      else if (queue.value) transfer({ queue: queue.value });
    } }, h("label", {}, t("xfer.queue"), queue), number, h("button", { type: "submit" }, t("xfer.go"))),
    h("form", { class: "row", onsubmit: (ev) => {
      ev.preventDefault();
      if (number.value.trim()) consult({ number: number.value.trim() });
      else if (colleague.value.trim()) consult({ agent: colleague.value.trim() });
    } }, colleague, h("button", { type: "submit", "data-testid": "consult-go", title: t("consult.hint") }, t("consult.start"))));
}

async function consult(body) {
  try {
    const r = await api("POST", `/agents/${me()}/consult`, body);
    S.consult = { state: "ringing", target: body.agent ? `agent:${body.agent}` : String(body.number || "") };
    if (r.call && S.call) S.call.held = r.call.held;
    renderCall();
  } catch (err) { failed(err); }
}

function renderFlag() {
  const reason = h("select", { "data-testid": "flag-reason" },
    S.desk.flag_reasons.map((r) => h("option", { value: r }, t(`flag.${r}`))));
  const note = h("input", { placeholder: t("flag.note"), "data-testid": "flag-note" });
  clear(el.flag, h("h2", {}, t("flag.title")),
    h("form", { class: "row", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", `/agents/${me()}/flag`, { reason: reason.value, note: note.value,
          ...(S.call ? { call_id: S.call.call_id } : {}) });
        toast(t("flag.done")); note.value = "";
      } catch (err) { failed(err); }
    } }, reason, note, h("button", { type: "submit", "data-testid": "flag-submit" }, t("flag.submit"))));
}

// --- disposition ------------------------------------------------------------------------------------

function renderDisposition() {
  if (!el.disp) return;
  const a = S.agent;
  const codes = (S.call && S.call.dispositions && S.call.dispositions.length) ? S.call.dispositions : ["done"];
  const wrap = a.state === "wrap_up";
  el.disp.hidden = !S.call;
  const code = h("select", { "data-testid": "disp-code" }, codes.map((c) => h("option", { value: c }, c)));
  const notes = h("textarea", { rows: 2, "data-testid": "disp-notes", placeholder: t("disp.notes") });
  const callback = h("input", { type: "datetime-local", "data-testid": "disp-callback" });
  clear(el.disp, h("h2", {}, t("disp.title"), wrap ? h("span", { class: "badge amber", "data-since": "wrapup" }) : null),
    h("form", { class: "stack", onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { code: code.value, notes: notes.value };
      if (callback.value) body.callback_at = new Date(callback.value).toISOString();
      try {
        setAgent(await api("POST", `/agents/${me()}/disposition`, body));
        toast(t("disp.done"));
        S.call = null; S.ended = false; renderCall();
      } catch (err) { failed(err); }
    } }, h("label", {}, t("disp.code"), code), notes, h("label", {}, t("disp.callback"), callback),
      h("button", { type: "submit", class: wrap ? "primary" : "", disabled: !S.call, "data-testid": "disp-submit" },
        t("disp.submit"))));
  el.disp.classList.toggle("attention", wrap);
  tick();
}

// --- outbound preview ------------------------------------------------------------------------------

function renderPreview() {
  if (!el.preview) return;
  const campaigns = S.desk.projects.campaigns.filter((c) => c.mode === "preview");
  el.preview.hidden = !campaigns.length || !!S.call;
  if (el.preview.hidden) return;
  const pick = h("select", { "data-testid": "preview-campaign" }, campaigns.map((c) => h("option", { value: c.name }, c.name)));
  if (S.preview) pick.value = S.preview.campaign;
  const lead = S.preview && S.preview.lead;
  const manual = h("input", { placeholder: t("dial.number"), inputmode: "tel", "data-testid": "manual-number" });
  const call = async () => {
    try {
      await api("POST", `/agents/${me()}/preview/call`, { campaign: S.preview.campaign, lead_id: lead.lead_id });
      toast(t("preview.calling", { phone: lead.phone })); S.preview = null; renderPreview();
    } catch (err) { failed(err); }
  };
  const skip = async () => {
    try { await api("POST", `/agents/${me()}/preview/skip`, { campaign: S.preview.campaign, lead_id: lead.lead_id }); S.preview = null; renderPreview(); }
    catch (err) { failed(err); }
  };
  const next = async () => {
    try {
      const r = await api("POST", `/agents/${me()}/preview/next`, { campaign: pick.value });
      S.preview = { campaign: pick.value, lead: r.lead, empty: !r.lead }; renderPreview();
    } catch (err) { failed(err); }
  };
  const campaign = campaigns.find((c) => c.name === (S.preview ? S.preview.campaign : pick.value));
  const script = lead && campaign && campaign.script ? campaign.script.replace(/\{(\w+)\}/g, (m, k) => {
    const values = { ...lead.data, name: lead.name, phone: lead.phone, agent_name: S.agent.name };
    return k in values ? String(values[k]) : m;
  }) : "";
  clear(el.preview, h("h2", {}, t("preview.title")),
    h("div", { class: "row" }, h("label", {}, t("preview.campaign"), pick),
      h("button", { onclick: next, "data-testid": "preview-next" }, t("preview.next"))),
    lead ? h("div", { class: "lead", "data-testid": "preview-lead" },
      h("div", { class: "caller-number" }, lead.phone), h("div", { class: "caller-name" }, lead.name || ""),
      h("dl", { class: "facts data" }, Object.entries(lead.data || {}).map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]),
        h("dt", {}, t("preview.attempts")), h("dd", {}, String(lead.attempts))),
      script ? h("p", { class: "script-preview" }, script) : null,
      h("div", { class: "row" },
        h("button", { class: "primary big", onclick: call, "data-testid": "preview-call" }, t("preview.call")),
        h("button", { onclick: skip, "data-testid": "preview-skip" }, t("preview.skip"))))
      : S.preview && S.preview.empty ? h("p", { class: "muted" }, t("preview.none")) : null,
    h("form", { class: "row", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const r = await api("POST", `/agents/${me()}/dial`, { number: manual.value.trim(), campaign: pick.value });
        toast(t("preview.calling", { phone: r.number })); manual.value = "";
      } catch (err) { failed(err); }
    } }, manual, h("button", { type: "submit", "data-testid": "manual-dial" }, t("dial.go"))));
}

// --- help chat -------------------------------------------------------------------------------------

function renderChat() {
  const input = h("textarea", { rows: 2, placeholder: t("help.placeholder"), "data-testid": "chat-input" });
  const log = h("ol", { class: "messages", "data-testid": "chat-log" });
  const all = [];
  if (S.thread) all.push({ id: `r${S.thread.id}`, role: "agent", sender: S.me.login, text: S.thread.text, created_at: S.thread.created_at });
  all.push(...S.messages);
  for (const m of all) {
    log.append(h("li", { class: `msg ${m.role === "agent" ? "mine" : "theirs"}`, "data-testid": "chat-message" },
      h("div", { class: "meta" }, m.role === "agent" ? t("help.you") : m.sender, " · ", when(m.created_at)),
      h("div", { class: "text" }, m.text)));
  }
  const send = async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    try {
      if (!S.thread) {
        S.thread = await api("POST", `/agents/${me()}/help`, { text, ...(S.call && !S.ended ? { call_id: S.call.call_id } : {}) });
        S.messages = [];
      } else {
        const m = await api("POST", `/agents/${me()}/help/${S.thread.id}/messages`, { text });
        if (!S.messages.some((x) => x.id === m.id)) S.messages.push(m);
      }
      input.value = "";
      renderChat();
    } catch (err) { failed(err); }
  };
  input.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && !ev.shiftKey) send(ev); });
  clear(el.chat, h("h2", {}, t("help.title")),
    S.thread && S.thread.call_id ? h("p", { class: "muted" }, t("help.call", { id: S.thread.call_id })) : null,
    all.length ? log : h("p", { class: "muted" }, t("help.none")),
    h("form", { class: "stack", onsubmit: send }, input,
      h("button", { type: "submit", class: "primary", "data-testid": "chat-send" }, S.thread ? t("help.send") : t("help.ask"))));
  log.scrollTop = log.scrollHeight;
}

function onHelpMessage(ev) {
  if (!S.thread || ev.request_id !== S.thread.id) return;
  if (S.messages.some((m) => m.id === ev.id)) return;
  S.messages.push(ev);
  renderChat();
  if (ev.role !== "agent") toast(`${ev.sender}: ${ev.text}`);
}

function onHelpAnswer(ev) {
  if (!S.thread || ev.id !== S.thread.id) return;
  S.messages.push({ id: `a${ev.id}`, role: "supervisor", sender: ev.answered_by, text: ev.answer_note, created_at: ev.answered_at });
  renderChat();
  S.thread = null; S.messages = [];
}

// --- timers ----------------------------------------------------------------------------------------

function tick() {
  const now = serverNow();
  for (const node of document.querySelectorAll("[data-since]")) {
    const kind = node.dataset.since;
    if (kind === "state" && S.agent) node.textContent = S.agent.state === "logged_out" || !S.agent.since ? "" : ` ${duration(now - S.agent.since)}`;
    else if (kind === "call" && S.call) node.textContent = S.call.answered_at ? duration((S.ended ? S.agent.since : now) - S.call.answered_at) : "—";
    else if (kind === "wrapup" && S.agent && S.agent.wrapup_until) node.textContent = t("wrapup.left", { s: Math.max(0, Math.ceil(S.agent.wrapup_until - now)) });
  }
}
setInterval(tick, 1000);

start().catch((err) => { clear(root, h("p", { class: "notice error" }, `${t("err")}: ${err.message}`)); });

// UI strings in English and Russian. The language comes from the user's choice (kept in localStorage) or,
// the first time, from the browser.
const STRINGS = {
  en: {
    "app.desktop": "Operator desktop", "app.wallboard": "Wallboard",
    "signin.title": "Sign in", "signin.login": "Agent ID or login", "signin.password": "Password",
    "signin.submit": "Sign in", "signin.failed": "Wrong login or password.", "signout": "Sign out",
    "signin.supervisor_only": "This page is for supervisors.",
    "state.logged_out": "Logged out", "state.available": "Ready", "state.reserved": "Ringing",
    "state.on_call": "On call", "state.wrap_up": "Wrap-up", "state.paused": "Paused",
    "btn.ready": "Ready", "btn.pause": "Pause", "btn.login": "Start shift", "btn.logout": "End shift",
    "phone.registered": "Phone registered", "phone.unregistered": "Phone not registered",
    "phone.session": "*55 session connected", "phone.ring": "Ring mode",
    "projects": "Projects", "call.waiting_title": "Waiting for the next call",
    "call.waiting_text": "Calls are connected automatically. The caller's card and the script appear here.",
    "call.caller": "Caller", "call.project": "Project", "call.wait": "Waited", "call.duration": "Talking",
    "call.data": "Caller data", "call.held": "On hold", "call.ended": "Call ended — finish the wrap-up",
    "call.repeat_open": "Repeat caller with an open problem", "call.unknown": "Unknown caller",
    "ctl.hold": "Hold", "ctl.resume": "Resume", "ctl.hangup": "Hang up", "ctl.transfer": "Transfer",
    "history": "Caller history", "history.none": "First call from this number.", "history.calls": "Earlier calls",
    "history.tickets": "Tickets", "ticket.open": "open", "ticket.closed": "closed",
    "script": "Script", "script.none": "No script for this project.", "script.idle": "The project's script appears here with the call, filled in with the caller's data.",
    "sec.greeting": "Greeting", "sec.questions": "Questions", "sec.answers": "Answers", "sec.closing": "Closing",
    "phrases": "Difficult caller", "ticket.title": "Register", "ticket.type": "Type",
    "ticket.complaint": "Complaint", "ticket.claim": "Claim", "ticket.request": "Request",
    "ticket.text": "What the caller says", "ticket.submit": "Register", "ticket.done": "Registered ticket #{id}",
    "dept.title": "Departments", "dept.transfer": "Transfer", "dept.none": "No departments for these projects.",
    "dept.hours": "Hours", "xfer.queue": "Transfer to queue", "xfer.number": "…or number", "xfer.go": "Transfer",
    "flag.title": "Flag for review", "flag.reason": "Reason", "flag.note": "Note", "flag.submit": "Flag call",
    "flag.done": "Call flagged for review", "flag.abusive": "Abusive caller", "flag.threat": "Threat",
    "flag.quality": "Quality issue", "flag.repeat": "Repeated problem", "flag.other": "Other",
    "disp.title": "Disposition", "disp.code": "Code", "disp.notes": "Notes", "disp.callback": "Call back at",
    "disp.submit": "Save and finish", "disp.done": "Disposition saved", "wrapup.left": "{s} s left",
    "preview.title": "Outbound preview", "preview.campaign": "Campaign", "preview.next": "Next lead",
    "preview.call": "Call", "preview.skip": "Skip", "preview.none": "No lead to call right now.",
    "preview.calling": "Calling {phone}…", "preview.no_campaign": "No preview campaign on your projects.",
    "preview.attempts": "Attempts", "help.title": "Help from a supervisor", "help.placeholder": "Ask a question…",
    "help.send": "Send", "help.ask": "Ask for help", "help.you": "You", "help.none": "No conversation yet.",
    "help.call": "about call {id}", "err": "Error", "loading": "Loading…", "lang": "Language",
    "wb.filter": "Project", "wb.all": "All projects", "wb.search": "Find an operator", "wb.live": "Live",
    "wb.offline": "Reconnecting…", "wb.waiting": "Waiting", "wb.longest": "Longest wait", "wb.sl": "Service level",
    "wb.abandon": "Abandoned", "wb.offered": "Offered", "wb.answered": "Answered", "wb.connected": "Talking",
    "wb.queues": "Queues", "wb.campaigns": "Campaigns", "wb.queue": "Queue", "wb.campaign": "Campaign",
    "wb.mode": "Mode", "wb.state": "State", "wb.dial_level": "Dial level", "wb.in_flight": "In flight",
    "wb.ab24": "Abandoned 24 h", "wb.ab30": "Abandoned 30 d", "wb.leads_left": "Leads left", "wb.limit": "limit",
    "wb.staffed": "Staffed", "wb.operators": "Operators", "wb.alerts": "Alerts", "wb.no_alerts": "All clear.",
    "wb.inbox": "Help requests", "wb.inbox_empty": "No open help requests.", "wb.reply": "Reply…",
    "wb.listen": "Listen", "wb.whisper": "Whisper", "wb.barge": "Barge", "wb.phone": "Your phone",
    "wb.tickets": "Open tickets", "wb.flags": "Flagged calls", "wb.review": "Reviewed", "wb.none": "None.",
    "wb.more": "{n} more operators — filter by project or state to see them",
    "wb.supervising": "{mode}: your phone {endpoint} rings for {agent}'s call",
    "wb.today": "today", "wb.since_start": "since start", "wb.caller": "Caller",
    "alert.service_level": "{queue}: service level {value} below {limit}",
    "alert.abandonment": "{queue}: abandonment {value} above {limit}",
    "alert.campaign_abandonment": "{campaign}: abandonment {value} above the {limit} limit",
    "alert.long_call": "{agent_id}: call running {value}", "alert.long_calls_more": "{value} more long calls",
    "alert.help_waiting": "{value} help request(s) waiting for an answer",
    "dial.number": "Number to dial", "dial.go": "Dial", "dial.failed": "No answer",
    "consult.start": "Consult", "consult.hint": "Attended transfer: the caller hears music while you talk first",
    "consult.colleague": "colleague id", "consult.ringing": "Calling {target}…", "consult.talking": "Talking to {target}",
    "consult.complete": "Complete transfer", "consult.return": "Back to caller",
    "consult.failed": "The consultation ended; the caller is on hold", "consult.ended": "Consultation ended",
  },
  ru: {
    "app.desktop": "Рабочее место оператора", "app.wallboard": "Табло супервизора",
    "signin.title": "Вход", "signin.login": "ID оператора или логин", "signin.password": "Пароль",
    "signin.submit": "Войти", "signin.failed": "Неверный логин или пароль.", "signout": "Выйти",
    "signin.supervisor_only": "Эта страница для супервизоров.",
    "state.logged_out": "Не на смене", "state.available": "Готов", "state.reserved": "Вызов",
    "state.on_call": "Разговор", "state.wrap_up": "Постобработка", "state.paused": "Пауза",
    "btn.ready": "Готов", "btn.pause": "Пауза", "btn.login": "Начать смену", "btn.logout": "Закончить смену",
    "phone.registered": "Телефон зарегистрирован", "phone.unregistered": "Телефон не зарегистрирован",
    "phone.session": "Сессия *55 подключена", "phone.ring": "Режим вызова",
    "projects": "Проекты", "call.waiting_title": "Ожидание следующего звонка",
    "call.waiting_text": "Звонки соединяются автоматически. Карточка абонента и скрипт появятся здесь.",
    "call.caller": "Абонент", "call.project": "Проект", "call.wait": "Ожидал", "call.duration": "Разговор",
    "call.data": "Данные абонента", "call.held": "На удержании", "call.ended": "Звонок завершён — закончите постобработку",
    "call.repeat_open": "Повторный звонок, проблема не решена", "call.unknown": "Неизвестный абонент",
    "ctl.hold": "Удержание", "ctl.resume": "Вернуть", "ctl.hangup": "Завершить", "ctl.transfer": "Перевести",
    "history": "История абонента", "history.none": "Первый звонок с этого номера.", "history.calls": "Прошлые звонки",
    "history.tickets": "Обращения", "ticket.open": "открыто", "ticket.closed": "закрыто",
    "script": "Скрипт", "script.none": "Для проекта нет скрипта.", "script.idle": "Скрипт проекта появится здесь вместе со звонком, с данными абонента.",
    "sec.greeting": "Приветствие", "sec.questions": "Вопросы", "sec.answers": "Ответы", "sec.closing": "Завершение",
    "phrases": "Трудный абонент", "ticket.title": "Регистрация", "ticket.type": "Тип",
    "ticket.complaint": "Жалоба", "ticket.claim": "Претензия", "ticket.request": "Заявка",
    "ticket.text": "Что говорит абонент", "ticket.submit": "Зарегистрировать",
    "ticket.done": "Зарегистрировано обращение №{id}",
    "dept.title": "Отделы", "dept.transfer": "Перевести", "dept.none": "Для этих проектов отделов нет.",
    "dept.hours": "Часы", "xfer.queue": "Перевести в очередь", "xfer.number": "…или на номер", "xfer.go": "Перевести",
    "flag.title": "Отметить для проверки", "flag.reason": "Причина", "flag.note": "Комментарий",
    "flag.submit": "Отметить звонок", "flag.done": "Звонок отмечен для проверки", "flag.abusive": "Оскорбления",
    "flag.threat": "Угрозы", "flag.quality": "Качество", "flag.repeat": "Повторная проблема", "flag.other": "Другое",
    "disp.title": "Результат звонка", "disp.code": "Код", "disp.notes": "Заметки", "disp.callback": "Перезвонить",
    "disp.submit": "Сохранить и завершить", "disp.done": "Результат сохранён", "wrapup.left": "осталось {s} с",
    "preview.title": "Исходящий обзвон", "preview.campaign": "Кампания", "preview.next": "Следующий контакт",
    "preview.call": "Позвонить", "preview.skip": "Пропустить", "preview.none": "Сейчас некому звонить.",
    "preview.calling": "Звоним на {phone}…", "preview.no_campaign": "В ваших проектах нет кампании с просмотром.",
    "preview.attempts": "Попыток", "help.title": "Помощь супервизора", "help.placeholder": "Задайте вопрос…",
    "help.send": "Отправить", "help.ask": "Попросить помощь", "help.you": "Вы", "help.none": "Переписки пока нет.",
    "help.call": "по звонку {id}", "err": "Ошибка", "loading": "Загрузка…", "lang": "Язык",
    "wb.filter": "Проект", "wb.all": "Все проекты", "wb.search": "Найти оператора", "wb.live": "В эфире",
    "wb.offline": "Переподключение…", "wb.waiting": "В очереди", "wb.longest": "Макс. ожидание",
    "wb.sl": "Уровень сервиса", "wb.abandon": "Потеряно", "wb.offered": "Поступило", "wb.answered": "Отвечено",
    "wb.connected": "Разговоров", "wb.queues": "Очереди", "wb.campaigns": "Кампании", "wb.queue": "Очередь",
    "wb.campaign": "Кампания", "wb.mode": "Режим", "wb.state": "Состояние", "wb.dial_level": "Коэфф. набора",
    "wb.in_flight": "В наборе", "wb.ab24": "Потери 24 ч", "wb.ab30": "Потери 30 дн", "wb.leads_left": "Осталось",
    "wb.limit": "лимит", "wb.staffed": "На смене", "wb.operators": "Операторы", "wb.alerts": "Тревоги",
    "wb.no_alerts": "Всё в порядке.", "wb.inbox": "Запросы помощи", "wb.inbox_empty": "Открытых запросов нет.",
    "wb.reply": "Ответ…", "wb.listen": "Слушать", "wb.whisper": "Суфлёр", "wb.barge": "Вмешаться",
    "wb.phone": "Ваш телефон", "wb.tickets": "Открытые обращения", "wb.flags": "Отмеченные звонки",
    "wb.review": "Проверено", "wb.none": "Нет.",
    "wb.more": "Ещё операторов: {n} — выберите проект или состояние",
    "wb.supervising": "{mode}: ваш телефон {endpoint} звонит на разговор {agent}",
    "wb.today": "сегодня", "wb.since_start": "с запуска", "wb.caller": "Абонент",
    "alert.service_level": "{queue}: уровень сервиса {value} ниже {limit}",
    "alert.abandonment": "{queue}: потери {value} выше {limit}",
    "alert.campaign_abandonment": "{campaign}: потери {value} выше предела {limit}",
    "alert.long_call": "{agent_id}: разговор идёт {value}", "alert.long_calls_more": "ещё долгих разговоров: {value}",
    "alert.help_waiting": "Ждут ответа запросов помощи: {value}",
    "dial.number": "Номер для набора", "dial.go": "Набрать", "dial.failed": "Нет ответа",
    "consult.start": "Консультация", "consult.hint": "Перевод с консультацией: абонент слушает музыку, пока вы говорите",
    "consult.colleague": "ID коллеги", "consult.ringing": "Звоним: {target}…", "consult.talking": "Разговор: {target}",
    "consult.complete": "Завершить перевод", "consult.return": "Вернуться к абоненту",
    "consult.failed": "Консультация прервана; абонент на удержании", "consult.ended": "Консультация завершена",
  },
};

const KEY = "callcore.lang";

export function language() {
  const chosen = localStorage.getItem(KEY);
  if (chosen && STRINGS[chosen]) return chosen;
  const wanted = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
  for (const tag of wanted) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (STRINGS[base]) return base;
  }
  return "en";
}

export function setLanguage(lang) {
  localStorage.setItem(KEY, lang);
  document.documentElement.lang = lang;
}

export function t(key, vars = {}) {
  const table = STRINGS[language()] || STRINGS.en;
  const text = table[key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

export const LANGUAGES = Object.keys(STRINGS);

// Interface text in Indonesian and English. The default follows the browser; a choice is remembered.

const TEXT = {
  en: {
    "app.tagline": "Live desk",
    "login.title": "Sign in with your API key",
    "login.hint": "Ask an admin for a key (pantau keys add). It stays in this tab only.",
    "login.key": "API key",
    "login.submit": "Sign in",
    "login.refused": "That API key was refused: it is unknown, mistyped or revoked.",
    "login.ended": "Your key is no longer accepted. Sign in again.",
    "login.unavailable": "The API cannot check keys right now. Try again in a moment.",
    "login.failed": "Could not reach the API: {reason}",
    "login.reconnecting": "The API is not answering ({reason}). Trying again with the saved key…",
    "nav.wall": "Wall screen",
    "nav.logout": "Sign out",
    "nav.language": "Language",
    "conn.connecting": "connecting…",
    "conn.live": "live",
    "conn.down": "reconnecting…",
    "role.viewer": "viewer",
    "role.responder": "responder",
    "role.admin": "admin",
    "list.title": "Live issues and alerts",
    "list.empty": "Nothing live. The desk updates by itself when something emerges.",
    "detail.none": "Choose an issue to see its posts, accounts and history.",
    "detail.loading": "Loading…",
    "detail.notfound": "This issue or alert is no longer live.",
    "detail.back": "Back to the list",
    "severity.critical": "critical",
    "severity.warning": "warning",
    "severity.info": "info",
    "severity.none": "no alert",
    "status.open": "open",
    "status.acknowledged": "acknowledged",
    "status.resolved": "resolved",
    "num.posts": "posts",
    "num.accounts": "accounts",
    "num.voices": "own voices",
    "num.reposts": "reposts",
    "num.rate": "posts / hour",
    "num.baseline": "before",
    "num.growth": "growth",
    "num.scale": "time scale",
    "num.first": "first post",
    "num.last": "last activity",
    "num.targets": "targets",
    "chart.title": "Posts per hour",
    "chart.baseline": "baseline {value}/h",
    "chart.now": "now {value}/h",
    "chart.timeline": "from its stored posts, in {width} buckets",
    "chart.estimate": "estimated from its signals (no stored posts yet)",
    "section.evidence": "Representative posts",
    "section.amplifiers": "Amplifying accounts",
    "section.coordination": "Accounts in coordinated waves",
    "section.history": "Alert history",
    "section.actions": "Actions",
    "section.shares": "Tone toward targets",
    "section.silenced": "Silenced by {ids}",
    "evidence.none": "No posts stored for this alert yet.",
    "evidence.open": "open post",
    "history.none": "No history yet.",
    "event.opened": "opened",
    "event.updated": "updated",
    "event.acknowledged": "acknowledged",
    "event.assigned": "assigned",
    "event.commented": "commented",
    "event.resolved": "resolved",
    "event.escalated": "escalated",
    "alert.assigned": "assigned to {name}",
    "alert.ackedby": "acknowledged by {name}",
    "action.ack": "Acknowledge",
    "action.resolve": "Resolve",
    "action.assign": "Assign",
    "action.assignme": "Take it",
    "action.assignee": "name",
    "action.comment": "Comment",
    "action.commentText": "What the desk should know",
    "action.silence": "Silence",
    "action.silenceReason": "why (shown to the desk)",
    "action.hours": "{n} h",
    "action.done.acknowledged": "Acknowledged.",
    "action.done.resolved": "Resolved.",
    "action.done.assigned": "Assigned.",
    "action.done.commented": "Comment added.",
    "action.done.silenced": "Silenced.",
    "action.readonly": "Your role ({role}) can read the desk; acting on alerts needs the responder role.",
    "error.generic": "The API said no ({status}): {detail}",
    "shares.line": "{target}: {posts} posts, negative {neg} (before {base})",
    "wall.empty": "All quiet.",
    "wall.exit": "Back to the desk",
  },
  id: {
    "app.tagline": "Meja pantau langsung",
    "login.title": "Masuk dengan kunci API",
    "login.hint": "Minta kunci dari admin (pantau keys add). Kunci hanya disimpan di tab ini.",
    "login.key": "Kunci API",
    "login.submit": "Masuk",
    "login.refused": "Kunci API ditolak: tidak dikenal, salah ketik, atau sudah dicabut.",
    "login.ended": "Kunci Anda tidak diterima lagi. Silakan masuk kembali.",
    "login.unavailable": "API belum bisa memeriksa kunci. Coba lagi sebentar lagi.",
    "login.failed": "Tidak dapat menghubungi API: {reason}",
    "login.reconnecting": "API belum menjawab ({reason}). Mencoba lagi dengan kunci tersimpan…",
    "nav.wall": "Layar dinding",
    "nav.logout": "Keluar",
    "nav.language": "Bahasa",
    "conn.connecting": "menghubungkan…",
    "conn.live": "langsung",
    "conn.down": "menghubungkan ulang…",
    "role.viewer": "pemantau",
    "role.responder": "penanggap",
    "role.admin": "admin",
    "list.title": "Isu dan peringatan aktif",
    "list.empty": "Belum ada yang aktif. Meja diperbarui sendiri bila ada isu muncul.",
    "detail.none": "Pilih sebuah isu untuk melihat unggahan, akun, dan riwayatnya.",
    "detail.loading": "Memuat…",
    "detail.notfound": "Isu atau peringatan ini sudah tidak aktif.",
    "detail.back": "Kembali ke daftar",
    "severity.critical": "kritis",
    "severity.warning": "waspada",
    "severity.info": "info",
    "severity.none": "tanpa peringatan",
    "status.open": "terbuka",
    "status.acknowledged": "ditangani",
    "status.resolved": "selesai",
    "num.posts": "unggahan",
    "num.accounts": "akun",
    "num.voices": "suara sendiri",
    "num.reposts": "unggah ulang",
    "num.rate": "unggahan / jam",
    "num.baseline": "sebelumnya",
    "num.growth": "pertumbuhan",
    "num.scale": "skala waktu",
    "num.first": "unggahan pertama",
    "num.last": "aktivitas terakhir",
    "num.targets": "target",
    "chart.title": "Unggahan per jam",
    "chart.baseline": "dasar {value}/jam",
    "chart.now": "kini {value}/jam",
    "chart.timeline": "dari unggahan tersimpan, per {width}",
    "chart.estimate": "perkiraan dari sinyalnya (belum ada unggahan tersimpan)",
    "section.evidence": "Unggahan representatif",
    "section.amplifiers": "Akun penguat",
    "section.coordination": "Akun dalam gelombang terkoordinasi",
    "section.history": "Riwayat peringatan",
    "section.actions": "Tindakan",
    "section.shares": "Nada terhadap target",
    "section.silenced": "Dibisukan oleh {ids}",
    "evidence.none": "Belum ada unggahan tersimpan untuk peringatan ini.",
    "evidence.open": "buka unggahan",
    "history.none": "Belum ada riwayat.",
    "event.opened": "dibuka",
    "event.updated": "diperbarui",
    "event.acknowledged": "ditangani",
    "event.assigned": "ditugaskan",
    "event.commented": "dikomentari",
    "event.resolved": "diselesaikan",
    "event.escalated": "dieskalasi",
    "alert.assigned": "ditugaskan ke {name}",
    "alert.ackedby": "ditangani oleh {name}",
    "action.ack": "Tangani",
    "action.resolve": "Selesaikan",
    "action.assign": "Tugaskan",
    "action.assignme": "Ambil",
    "action.assignee": "nama",
    "action.comment": "Komentar",
    "action.commentText": "Yang perlu diketahui meja",
    "action.silence": "Bisukan",
    "action.silenceReason": "alasan (terlihat oleh meja)",
    "action.hours": "{n} jam",
    "action.done.acknowledged": "Ditangani.",
    "action.done.resolved": "Diselesaikan.",
    "action.done.assigned": "Ditugaskan.",
    "action.done.commented": "Komentar ditambahkan.",
    "action.done.silenced": "Dibisukan.",
    "action.readonly": "Peran Anda ({role}) hanya dapat membaca; menindak peringatan perlu peran penanggap.",
    "error.generic": "API menolak ({status}): {detail}",
    "shares.line": "{target}: {posts} unggahan, negatif {neg} (sebelumnya {base})",
    "wall.empty": "Semua tenang.",
    "wall.exit": "Kembali ke meja",
  },
};

export const LANGUAGES = Object.keys(TEXT);
const LOCALES = { en: "en-GB", id: "id-ID" };
const STORED = "pantau.lang";

function browserLanguage() {
  const preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const tag of preferred) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (base in TEXT) return base;
  }
  return "en";
}

let current = localStorage.getItem(STORED) in TEXT ? localStorage.getItem(STORED) : browserLanguage();

export function language() {
  return current;
}

export function setLanguage(lang) {
  if (!(lang in TEXT)) return;
  current = lang;
  localStorage.setItem(STORED, lang);
  document.documentElement.lang = lang;
}

/** Whether there is a text for `key` (for values from the API, which may be new to this page). */
export function hasText(key) {
  return key in TEXT.en;
}

/** The text for `key` in the current language, with {name} placeholders filled in. */
export function t(key, values = {}) {
  const template = TEXT[current][key] ?? TEXT.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

export function formatNumber(value, digits = 0) {
  return new Intl.NumberFormat(LOCALES[current], { maximumFractionDigits: digits }).format(value);
}

export function formatTime(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(LOCALES[current], { dateStyle: "short", timeStyle: "short" }).format(new Date(iso));
}

export function formatAgo(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const format = new Intl.RelativeTimeFormat(LOCALES[current], { numeric: "auto", style: "short" });
  const steps = [["second", 60], ["minute", 60], ["hour", 24], ["day", Infinity]];
  let amount = seconds;
  for (const [unit, size] of steps) {
    if (Math.abs(amount) < size) return format.format(Math.round(amount), unit);
    amount /= size;
  }
  return "";
}

export function formatDuration(seconds) {
  if (seconds >= 3600) return `${formatNumber(seconds / 3600, 1)} h`;
  return `${formatNumber(seconds / 60)} min`;
}

/** Fill every element under `root` that names a text with data-i18n (and data-i18n-placeholder). */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

document.documentElement.lang = current;

// The desk page: sign in with a key, follow the live feed, read an issue, act on its alert; and the
// wall screen (#wall), which needs no clicks once signed in.

import { Api, ApiError, followFeed } from "./api.js";
import { chartSource, rateChart } from "./chart.js";
import { h, replaceChildren, safeUrl } from "./dom.js";
import {
  formatAgo,
  formatDuration,
  formatNumber,
  formatTime,
  hasText,
  language,
  setLanguage,
  t,
  translate,
} from "./i18n.js";

const KEY_STORAGE = "pantau.key";
const REFRESH_MS = 30000; // the feed carries alert changes; issue numbers are refetched this often too
const ROLES = ["viewer", "responder", "admin"];
const SEVERITIES = ["info", "warning", "critical"];
const SILENCE_HOURS = [1, 4, 24];
const MAX_SEEN_RATES = 60;
// A saved key the API could not check (restarting, unreachable) is tried again this often, doubling.
const SIGN_IN_RETRY_FIRST_MS = 1000;
const SIGN_IN_RETRY_MAX_MS = 15000;

const $ = (id) => document.getElementById(id);

const state = {
  api: null,
  me: null,
  issues: new Map(),
  alerts: new Map(),
  seenRates: new Map(), // issue id -> [{at, rate}] this page saw, for the chart
  detail: null, // {issue, alert, record} of the page open now
  feed: null,
  timers: [],
};

// -- signing in and out -------------------------------------------------------------------------

// Only a 401 says the key itself is bad (api/auth.py: a 403 is a role too small for a route, and
// GET me wants the smallest). Anything else (503 while the key store is down, the API restarting,
// no network) says nothing about the key.
const keyRefused = (error) => error instanceof ApiError && error.status === 401;

const signInRetry = { timer: null, delay: SIGN_IN_RETRY_FIRST_MS };
let signInCount = 0; // the latest sign-in wins: one started later makes an earlier one's answer moot

function stopSignInRetry() {
  clearTimeout(signInRetry.timer);
  signInRetry.timer = null;
}

async function signIn(key, { remembered = false } = {}) {
  stopSignInRetry();
  const attempt = ++signInCount;
  const api = new Api(key);
  let me;
  try {
    me = await api.get("me");
  } catch (error) {
    if (attempt !== signInCount) return;
    if (keyRefused(error)) {
      signOut(t(remembered ? "login.ended" : "login.refused"));
    } else if (remembered) {
      retrySignIn(key, error);
    } else {
      showLogin(
        error instanceof ApiError && error.status === 503
          ? t("login.unavailable")
          : error instanceof ApiError
            ? t("error.generic", { status: error.status, detail: error.detail })
            : t("login.failed", { reason: error.message }),
      );
    }
    return;
  }
  if (attempt !== signInCount) return;
  signInRetry.delay = SIGN_IN_RETRY_FIRST_MS;
  sessionStorage.setItem(KEY_STORAGE, key);
  Object.assign(state, { api, me });
  showSignedIn();
  startFeed();
  state.timers.push(setInterval(refresh, REFRESH_MS));
  state.timers.push(setInterval(renderClockAndTimes, 1000));
  await refresh();
  await route();
}

/**
 * The saved key could not be checked, for no fault of the key: keep it, say so, and try it again
 * with backoff, so that a wall screen reloaded while the API restarts signs itself in again. The
 * login form stays usable meanwhile: a key typed there takes over.
 */
function retrySignIn(key, error) {
  const reason = error instanceof ApiError ? `HTTP ${error.status}` : error.message;
  showLogin(t("login.reconnecting", { reason }), { keepTyping: true });
  $("connection").dataset.state = "down";
  $("connection").textContent = t("conn.down");
  $("connection").hidden = false;
  const delay = signInRetry.delay;
  signInRetry.delay = Math.min(delay * 2, SIGN_IN_RETRY_MAX_MS);
  signInRetry.timer = setTimeout(() => signIn(key, { remembered: true }), delay);
}

function signOut(message = "") {
  stopSignInRetry();
  signInCount++; // a sign-in still waiting for its answer ends here too
  if (state.feed) state.feed.abort();
  state.timers.forEach(clearInterval);
  Object.assign(state, { api: null, me: null, detail: null, feed: null, timers: [] });
  state.issues.clear();
  state.alerts.clear();
  sessionStorage.removeItem(KEY_STORAGE);
  showLogin(message);
}

/** The login form with `message`; `keepTyping`: leave what is typed there, and the focus, alone. */
function showLogin(message, { keepTyping = false } = {}) {
  const typing = keepTyping && !$("login").hidden;
  for (const id of ["desk", "wall", "connection", "whoami", "logout", "wall-link", "desk-link"]) $(id).hidden = true;
  document.body.classList.remove("wall-mode");
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login-error").hidden = !message;
  if (typing) return;
  $("key").value = "";
  $("key").focus();
}

function showSignedIn() {
  $("login").hidden = true;
  for (const id of ["connection", "whoami", "logout"]) $(id).hidden = false;
  renderWhoami();
}

function renderWhoami() {
  if (!state.me) return;
  $("whoami").textContent = `${state.me.name} · ${t(`role.${state.me.role}`)}`;
  $("whoami").dataset.role = state.me.role;
}

const canAct = () => state.me && ROLES.indexOf(state.me.role) >= ROLES.indexOf("responder");

/** An API failure: a refused key signs out; anything else is said in the toast. */
function report(error) {
  if (error instanceof ApiError && error.status === 401) {
    signOut(t("login.ended"));
  } else if (error instanceof ApiError) {
    toast(t("error.generic", { status: error.status, detail: error.detail }), true);
  } else {
    toast(t("login.failed", { reason: error.message }), true);
  }
}

let toastTimer = null;
function toast(message, isError = false) {
  const el = $("toast");
  el.textContent = message;
  el.classList.toggle("error", isError);
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 4000);
}

// -- live state -----------------------------------------------------------------------------------

function startFeed() {
  state.feed = new AbortController();
  followFeed(state.api, {
    signal: state.feed.signal,
    onState: (connection) => {
      $("connection").dataset.state = connection;
      $("connection").textContent = t(`conn.${connection}`);
      if (connection === "live") refresh(); // catch up on whatever happened while away
    },
    onRefused: () => signOut(t("login.ended")),
    onEvent: onFeedEvent,
  });
}

function onFeedEvent(event) {
  if (event.type === "reset") {
    refresh();
    return;
  }
  let body;
  try {
    body = JSON.parse(event.data);
  } catch {
    return;
  }
  const alert = body.alert;
  if (!alert || !alert.id) return;
  if (alert.status === "resolved") state.alerts.delete(alert.id);
  else state.alerts.set(alert.id, alert);
  render();
  if (state.detail && state.detail.alert && state.detail.alert.id === alert.id) soon("detail", loadDetail, 300);
  soon("refresh", refresh, 1500); // an opened alert may come with a new issue
}

// At most one pending run of each: a busy feed coalesces into one call, and never postpones it.
const pending = new Set();
function soon(name, action, ms) {
  if (pending.has(name)) return;
  pending.add(name);
  setTimeout(() => {
    pending.delete(name);
    action();
  }, ms);
}

async function refresh() {
  if (!state.api) return;
  let emerging;
  try {
    emerging = await state.api.get("summary/emerging?limit=100");
  } catch (error) {
    report(error);
    return;
  }
  state.issues = new Map(emerging.live_issues.map((issue) => [issue.id, issue]));
  state.alerts = new Map(emerging.alerts.map((alert) => [alert.id, alert]));
  for (const issue of emerging.live_issues) {
    const seen = state.seenRates.get(issue.id) || [];
    const at = Date.parse(issue.last_activity);
    if (!seen.length || seen[seen.length - 1].at !== at) seen.push({ at, rate: issue.rate_per_hour });
    state.seenRates.set(issue.id, seen.slice(-MAX_SEEN_RATES));
  }
  render();
}

const severityRank = (alert) => (alert ? SEVERITIES.indexOf(alert.severity) : -1);
const growthOf = (row) => (row.issue ? row.issue.growth : row.alert.numbers.growth ?? row.alert.numbers.ratio ?? 0);

/** Live issues with their alerts, and alerts of no issue: most severe first, then fastest growing. */
function rows() {
  const alertOfIssue = new Map();
  for (const alert of state.alerts.values()) alertOfIssue.set(alert.fingerprint, alert);
  const result = [...state.issues.values()].map((issue) => ({
    href: `#issue/${encodeURIComponent(issue.id)}`,
    issue,
    alert: alertOfIssue.get(issue.id) || null,
  }));
  for (const alert of state.alerts.values()) {
    if (!state.issues.has(alert.fingerprint)) result.push({ href: `#alert/${encodeURIComponent(alert.id)}`, issue: null, alert });
  }
  return result.sort((a, b) => severityRank(b.alert) - severityRank(a.alert) || growthOf(b) - growthOf(a));
}

const titleOf = (row) => (row.issue && row.issue.label.length ? row.issue.label.join(" · ") : row.alert.title);

// -- rendering --------------------------------------------------------------------------------------

function render() {
  if (!state.me) return;
  if (location.hash === "#wall") renderWall();
  else renderDesk();
}

function severityBadge(alert) {
  const severity = alert ? alert.severity : "none";
  return h("span", { class: `badge severity ${severity}`, dataset: { severity } }, t(`severity.${severity}`));
}

function statusBadge(alert) {
  if (!alert) return null;
  return h("span", { class: `badge status ${alert.status}`, dataset: { status: alert.status } }, t(`status.${alert.status}`));
}

function whoHasIt(alert) {
  if (!alert) return null;
  if (alert.assignee) return t("alert.assigned", { name: alert.assignee });
  if (alert.acked_by) return t("alert.ackedby", { name: alert.acked_by });
  return null;
}

function rowNumbers(row) {
  const parts = [];
  if (row.issue) {
    parts.push(`${formatNumber(row.issue.posts)} ${t("num.posts")}`);
    parts.push(`${formatNumber(row.issue.rate_per_hour, 1)} ${t("num.rate")}`);
  }
  const growth = growthOf(row);
  if (growth) parts.push(`×${formatNumber(growth, 1)}`);
  return parts.join(" · ");
}

function renderDesk() {
  $("desk").hidden = false;
  $("wall").hidden = true;
  $("wall-link").hidden = false;
  $("desk-link").hidden = true;
  document.body.classList.remove("wall-mode");
  const all = rows();
  const open = location.hash.slice(1);
  $("rows").replaceChildren(
    ...all.map((row) =>
      h(
        "li",
        { class: `row ${row.alert ? row.alert.severity : "none"}`, dataset: { id: row.issue ? row.issue.id : row.alert.id } },
        h(
          "a",
          { href: row.href, "aria-current": open === row.href.slice(1) ? "page" : null },
          h("span", { class: "badges" }, severityBadge(row.alert), statusBadge(row.alert)),
          h("span", { class: "title" }, titleOf(row)),
          h("span", { class: "meta" }, rowNumbers(row)),
          h("span", { class: "meta who" }, whoHasIt(row.alert) || ""),
        ),
      ),
    ),
  );
  $("rows-empty").hidden = all.length > 0;
}

function renderWall() {
  $("desk").hidden = true;
  $("wall").hidden = false;
  $("wall-link").hidden = true;
  $("desk-link").hidden = false;
  document.body.classList.add("wall-mode");
  const all = rows().slice(0, 12);
  $("wall-rows").replaceChildren(
    ...all.map((row) =>
      h(
        "li",
        { class: `tile ${row.alert ? row.alert.severity : "none"}`, dataset: { id: row.issue ? row.issue.id : row.alert.id } },
        h("div", { class: "badges" }, severityBadge(row.alert), statusBadge(row.alert)),
        h("div", { class: "title" }, titleOf(row)),
        h(
          "div",
          { class: "figures" },
          row.issue ? h("span", {}, h("b", {}, formatNumber(row.issue.rate_per_hour)), ` ${t("num.rate")}`) : null,
          growthOf(row) ? h("span", {}, h("b", {}, `×${formatNumber(growthOf(row), 1)}`), ` ${t("num.growth")}`) : null,
          row.issue ? h("span", {}, h("b", {}, formatNumber(row.issue.posts)), ` ${t("num.posts")}`) : null,
        ),
        h(
          "div",
          { class: "meta" },
          whoHasIt(row.alert) ? `${whoHasIt(row.alert)} · ` : "",
          `${t("num.first")} `,
          h("span", { class: "ago", dataset: { at: row.issue ? row.issue.first_post_at : row.alert.first_seen } }),
        ),
      ),
    ),
  );
  $("wall-empty").hidden = all.length > 0;
  renderClockAndTimes();
}

function renderClockAndTimes() {
  const now = new Date();
  $("clock").textContent = now.toLocaleTimeString(language() === "id" ? "id-ID" : "en-GB", { hour: "2-digit", minute: "2-digit" });
  $("clock").dateTime = now.toISOString();
  for (const el of document.querySelectorAll(".ago[data-at]")) el.textContent = formatAgo(el.dataset.at);
}

// -- one issue or alert -------------------------------------------------------------------------------

async function route() {
  if (!state.me) return;
  const [view, rawId] = location.hash.slice(1).split("/");
  state.detail = null;
  render();
  renderDetail();
  if ((view === "issue" || view === "alert") && rawId) {
    state.detail = { view, id: decodeURIComponent(rawId), loading: true };
    renderDetail();
    await loadDetail();
  }
}

async function loadDetail() {
  const detail = state.detail;
  if (!detail || !state.api) return;
  const path = (kind, id) => `${kind}/${encodeURIComponent(id)}`;
  try {
    let issue = null;
    let timeline = null;
    let alertId = detail.view === "alert" ? detail.id : null;
    if (detail.view === "issue") {
      const [found, stored] = await Promise.all([state.api.get(path("issues", detail.id)), loadTimeline(detail.id)]);
      issue = found.issue;
      timeline = stored;
      alertId = found.alert ? found.alert.id : null;
    }
    const record = alertId ? await state.api.get(path("alerts", alertId)) : null;
    if (state.detail !== detail) return; // the person went elsewhere meanwhile
    Object.assign(detail, { issue, timeline, alert: record ? record.alert : null, record, loading: false, missing: false });
  } catch (error) {
    if (state.detail !== detail) return;
    if (error instanceof ApiError && error.status === 404) Object.assign(detail, { loading: false, missing: true });
    else report(error);
  }
  renderDetail();
}

/** The issue's posts over time, or null: without it the chart falls back to its estimate. */
async function loadTimeline(issueId) {
  try {
    return await state.api.get(`issues/${encodeURIComponent(issueId)}/timeline`);
  } catch (error) {
    console.warn("no timeline for the chart:", error);
    return null;
  }
}

function renderDetail() {
  const root = $("detail");
  const detail = state.detail;
  if (!detail) return replaceChildren(root, h("p", { class: "empty" }, t("detail.none")));
  if (detail.loading) return replaceChildren(root, h("p", { class: "empty" }, t("detail.loading")));
  if (detail.missing) return replaceChildren(root, h("p", { class: "empty" }, t("detail.notfound")));
  // Typing in a form must survive a live update of the page around it.
  const fields = () => root.querySelectorAll("input[name], textarea[name], select[name]");
  const typed = new Map([...fields()].map((el) => [el.name, el.value]));
  const focused = root.contains(document.activeElement) ? document.activeElement.name : null;
  const { issue, timeline, alert, record } = detail;
  replaceChildren(
    root,
    h("a", { class: "back", href: "#" }, t("detail.back")),
    h("div", { class: "badges" }, severityBadge(alert), statusBadge(alert), whoHasIt(alert) ? h("span", { class: "who" }, whoHasIt(alert)) : null),
    h("h2", { class: "issue-title" }, issue ? issue.label.join(" · ") : alert.title),
    alert && alert.summary ? h("p", { class: "summary" }, alert.summary) : null,
    issue ? numbers(issue) : null,
    issue
      ? h("figure", { class: "rate" },
          h("figcaption", {}, t("chart.title"), " · ", h("span", { class: "source" }, chartSource(timeline))),
          rateChart(issue, state.seenRates.get(issue.id), timeline))
      : null,
    issue && issue.shares.length ? section("section.shares", h("ul", {}, issue.shares.map(shareLine))) : null,
    record && record.suppressed_by.length ? h("p", { class: "silenced" }, t("section.silenced", { ids: record.suppressed_by.join(", ") })) : null,
    alert ? actions(issue, alert) : null,
    section("section.evidence", evidence(issue, record)),
    issue && Object.keys(issue.amplifiers).length ? section("section.amplifiers", amplifiers(issue)) : null,
    issue && issue.coordination.length ? section("section.coordination", h("p", { class: "accounts" }, issue.coordination.join(", "))) : null,
    record ? section("section.history", history(record.events)) : null,
  );
  for (const el of fields()) {
    if (typed.has(el.name)) el.value = typed.get(el.name);
    if (el.name === focused) el.focus();
  }
}

function section(titleKey, ...content) {
  return h("section", { class: "part" }, h("h3", {}, t(titleKey)), ...content);
}

function numbers(issue) {
  const items = [
    ["num.posts", formatNumber(issue.posts)],
    ["num.accounts", formatNumber(issue.accounts)],
    ["num.voices", formatNumber(issue.voices)],
    ["num.reposts", formatNumber(issue.reposts)],
    ["num.rate", formatNumber(issue.rate_per_hour, 1)],
    ["num.baseline", formatNumber(issue.baseline_per_hour, 1)],
    ["num.growth", `×${formatNumber(issue.growth, 1)}`],
    ["num.scale", formatDuration(issue.scale_seconds)],
    ["num.first", formatTime(issue.first_post_at)],
    ["num.last", formatTime(issue.last_activity)],
  ];
  if (issue.targets.length) items.push(["num.targets", issue.targets.join(", ")]);
  return h("dl", { class: "numbers" }, items.map(([key, value]) => h("div", {}, h("dt", {}, t(key)), h("dd", {}, value))));
}

function shareLine(share) {
  const percent = (value) => `${formatNumber((value || 0) * 100)}%`;
  return h(
    "li",
    {},
    t("shares.line", {
      target: share.target,
      posts: formatNumber(share.posts),
      neg: percent(share.sentiment.negative),
      base: percent(share.baseline_sentiment.negative),
    }),
  );
}

function evidence(issue, record) {
  const posts = record ? record.evidence_posts : [];
  if (posts.length) {
    return h(
      "ul",
      { class: "posts" },
      posts.map((post) => {
        const url = safeUrl(post.url);
        return h(
          "li",
          { class: "post" },
          h("div", { class: "post-head" }, h("b", {}, `@${post.author_handle}`), ` · ${post.platform} · ${formatTime(post.created_at)}`,
            url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, t("evidence.open")) : null),
          h("p", { class: "post-text" }, post.text),
        );
      }),
    );
  }
  if (issue && issue.samples.length) return h("ul", { class: "posts" }, issue.samples.map((text) => h("li", { class: "post" }, h("p", { class: "post-text" }, text))));
  return h("p", { class: "empty" }, t("evidence.none"));
}

function amplifiers(issue) {
  const ranked = Object.entries(issue.amplifiers).sort((a, b) => b[1] - a[1]).slice(0, 10);
  return h("ol", { class: "amplifiers" }, ranked.map(([account, count]) => h("li", {}, h("span", {}, account), h("span", { class: "count" }, formatNumber(count)))));
}

function history(events) {
  if (!events.length) return h("p", { class: "empty" }, t("history.none"));
  return h(
    "ol",
    { class: "history" },
    events.map((event) =>
      h("li", { dataset: { event: event.event } }, h("time", { datetime: event.at }, formatTime(event.at)), " ", h("b", {}, hasText(`event.${event.event}`) ? t(`event.${event.event}`) : event.event), ` · ${event.actor}`,
        event.details && !event.details.startsWith("{") ? h("q", {}, event.details) : null),
    ),
  );
}

// -- acting on an alert -------------------------------------------------------------------------------

function actions(issue, alert) {
  if (!canAct()) return h("p", { class: "readonly" }, t("action.readonly", { role: t(`role.${state.me.role}`) }));
  const post = (what, body, done) => async (event) => {
    event.preventDefault();
    const form = event.target.closest("form, .actions");
    const buttons = [...form.querySelectorAll("button")];
    buttons.forEach((b) => (b.disabled = true));
    try {
      const changed = await state.api.post(`alerts/${encodeURIComponent(alert.id)}/${what}`, body());
      if (changed && changed.id === alert.id) state.alerts.set(changed.id, changed);
      if (form instanceof HTMLFormElement) form.reset();
      toast(t(`action.done.${done}`));
      await loadDetail();
      render();
    } catch (error) {
      report(error);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  };
  const value = (name) => document.querySelector(`#detail [name="${name}"]`).value.trim();
  const live = alert.status !== "resolved";
  return section(
    "section.actions",
    h(
      "div",
      { class: "actions" },
      alert.status === "open" ? h("button", { type: "button", class: "primary", dataset: { action: "ack" }, onclick: post("ack", () => ({}), "acknowledged") }, t("action.ack")) : null,
      live ? h("button", { type: "button", dataset: { action: "resolve" }, onclick: post("resolve", () => ({}), "resolved") }, t("action.resolve")) : null,
      live ? h("button", { type: "button", dataset: { action: "take" }, onclick: post("assign", () => ({ assignee: state.me.name }), "assigned") }, t("action.assignme")) : null,
    ),
    live
      ? h("form", { class: "inline", dataset: { action: "assign" }, onsubmit: post("assign", () => ({ assignee: value("assignee") }), "assigned") },
          h("input", { name: "assignee", maxlength: 100, required: true, placeholder: t("action.assignee") }),
          h("button", { type: "submit" }, t("action.assign")))
      : null,
    h("form", { class: "inline", dataset: { action: "comment" }, onsubmit: post("comments", () => ({ text: value("comment") }), "commented") },
      h("textarea", { name: "comment", maxlength: 4000, required: true, rows: 2, placeholder: t("action.commentText") }),
      h("button", { type: "submit" }, t("action.comment"))),
    live ? silenceForm(issue, alert) : null,
  );
}

/** Hush this issue's alert (or this alert's kind and key) for a few hours, for the whole desk. */
function silenceForm(issue, alert) {
  const matchers = alert.labels.issue
    ? [{ name: "issue", op: "=", value: alert.labels.issue }]
    : [{ name: "kind", op: "=", value: alert.kind }, { name: "key", op: "=", value: alert.key }];
  const submit = async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      await state.api.post("silences", {
        matchers,
        duration_minutes: Number(form.elements.hours.value) * 60,
        comment: form.elements.reason.value.trim(),
      });
      form.reset();
      toast(t("action.done.silenced"));
      await loadDetail();
    } catch (error) {
      report(error);
    }
  };
  return h("form", { class: "inline", dataset: { action: "silence" }, onsubmit: submit },
    h("select", { name: "hours" }, SILENCE_HOURS.map((n) => h("option", { value: n }, t("action.hours", { n })))),
    h("input", { name: "reason", maxlength: 500, required: true, placeholder: t("action.silenceReason") }),
    h("button", { type: "submit" }, t("action.silence")));
}

// -- start ------------------------------------------------------------------------------------------------

function start() {
  const select = $("language");
  select.value = language();
  select.addEventListener("change", () => {
    setLanguage(select.value);
    translate();
    renderWhoami();
    $("connection").textContent = t(`conn.${$("connection").dataset.state}`);
    render();
    renderDetail();
  });
  translate();
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key").value.trim();
    if (key) signIn(key);
  });
  $("logout").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  const remembered = sessionStorage.getItem(KEY_STORAGE);
  if (remembered) signIn(remembered, { remembered: true });
  else signOut();
}

start();

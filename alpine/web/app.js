// Alpine's subscriber page: sign in with a bearer token (kept in sessionStorage for
// this tab only), then the live table, the detail dialog and, for elite, outcomes.

import { Api, Unauthorized } from "./api.js";
import { showDetail } from "./detail.js";
import { coverageText, delayText } from "./format.js";
import { OutcomeView } from "./outcomes.js";
import { SignalStream } from "./stream.js";
import { SignalTable } from "./table.js";

const TOKEN_KEY = "alpine.token";
const CHECK_MS = 60000; // a revoked token signs out within this even if the stream stays open
const REVOKED = "You were signed out: Alpine no longer accepts this token (revoked or unknown).";
const HISTORY_CHANGED =
  "Alpine's history changed (its database was restored or rewound), so the signals were" +
  " loaded again; the live feed goes on from now.";
const $ = (id) => document.getElementById(id);

let session = null;

function setConnection(state) {
  const node = $("connection");
  node.dataset.state = state;
  node.textContent = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" }[state];
}

let announceTimer = null;
const pending = [];
function announce(text) {
  pending.push(text);
  if (announceTimer) return;
  announceTimer = setTimeout(() => {
    $("announce").textContent = pending.length === 1 ? pending[0] : `${pending.length} updates`;
    pending.length = 0;
    announceTimer = null;
  }, 1000);
}

function showSignIn(message = "") {
  $("session").hidden = true;
  $("delay").hidden = true;
  $("app").hidden = true;
  $("signin").hidden = false;
  const note = $("signin-message");
  note.textContent = message;
  note.hidden = !message;
  $("token").value = "";
  $("token").focus();
}

function signOut(message = "") {
  if (session) {
    session.stream.stop();
    clearInterval(session.check);
    session = null;
  }
  sessionStorage.removeItem(TOKEN_KEY);
  const dialog = $("detail");
  if (dialog.open) dialog.close();
  dialog.replaceChildren();
  $("signals-body").replaceChildren();
  $("outcomes").replaceChildren();
  showSignIn(message);
}

function handleError(error) {
  if (error instanceof Unauthorized) {
    signOut(REVOKED);
    return;
  }
  const note = $("status");
  note.textContent = `Could not load signals: ${error.message}`;
  delete note.dataset.reason;
  note.hidden = false;
}

function show(view) {
  for (const name of ["signals", "outcomes"]) {
    $(`view-${name}`).hidden = name !== view;
    $(`tab-${name}`).setAttribute("aria-pressed", String(name === view));
  }
  if (view === "outcomes") session.outcomes.load();
}

function readFilters() {
  const confidence = Number($("filter-confidence").value);
  return {
    symbol: $("filter-symbol").value.trim().toUpperCase(),
    action: $("filter-action").value,
    minConfidence: Number.isFinite(confidence) ? confidence : 0,
  };
}

function clearFilters() {
  $("filter-symbol").value = "";
  $("filter-action").value = "";
  $("filter-confidence").value = "";
}

function start(api, me) {
  const tier = me.tier;
  $("signin").hidden = true;
  $("session").hidden = false;
  $("app").hidden = false;
  $("status").hidden = true;
  delete $("status").dataset.reason;
  $("tier").textContent = tier.name;
  $("tier").dataset.tier = tier.name;
  $("who").textContent = me.subscriber;
  $("delay-text").textContent = delayText(tier);
  $("coverage-text").textContent = coverageText(tier);
  $("delay").hidden = false;
  $("tab-outcomes").hidden = !tier.fields.includes("outcome");
  clearFilters();
  const table = new SignalTable({
    api,
    tier,
    elements: {
      table: $("signals"),
      body: $("signals-body"),
      more: $("more"),
      summary: $("summary"),
      empty: $("empty"),
    },
    onOpen: (signal) => showDetail($("detail"), signal),
    onError: handleError,
    announce,
  });
  const outcomes = new OutcomeView(api, $("outcomes"), handleError);
  const stream = new SignalStream(api, {
    onEvent: (event) => {
      if (session?.stream !== stream) return;
      if (event.event === "signal") table.arrive(event);
      else table.update(event); // an outcome or execution of a signal
      if (!$("view-outcomes").hidden) outcomes.update(event);
    },
    onState: setConnection,
    onUnauthorized: () => signOut(REVOKED),
    // At the start, and when Alpine's history changed: (re)load, hold what was loaded.
    onResync: (reason) => {
      if (session?.stream !== stream) return null;
      if (reason === "history") {
        $("status").textContent = HISTORY_CHANGED;
        $("status").dataset.reason = "history";
        $("status").hidden = false;
        if (!$("view-outcomes").hidden) outcomes.load();
      }
      return table.resync(reason === "history");
    },
  });
  const check = setInterval(() => api.get("/api/v1/me").catch(handleError), CHECK_MS);
  session = { api, table, stream, check, outcomes };
  show("signals");
  // The stream starts first; the table loads after its first attempt (see stream.js).
  stream.start();
}

async function signIn(token, fromStorage) {
  const api = new Api(token);
  let me;
  try {
    me = await api.get("/api/v1/me");
  } catch (error) {
    if (error instanceof Unauthorized) {
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(fromStorage ? REVOKED : "Alpine does not accept this token (unknown or revoked).");
    } else {
      showSignIn(`Cannot sign in: ${error.message}`);
    }
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  start(api, me);
}

function wire() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) signIn(token, false);
  });
  $("signout").addEventListener("click", () => signOut("Signed out."));
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    session?.table.setFilters(readFilters());
  });
  $("filters-clear").addEventListener("click", () => {
    clearFilters();
    session?.table.setFilters(readFilters());
  });
  $("more").addEventListener("click", () => session?.table.loadMore());
  $("tab-signals").addEventListener("click", () => show("signals"));
  $("tab-outcomes").addEventListener("click", () => show("outcomes"));
  $("detail").addEventListener("click", (event) => {
    if (event.target.closest("[data-close]") || event.target === $("detail")) $("detail").close();
  });
}

// Leaving the page closes its stream; coming back from the back/forward cache starts anew.
window.addEventListener("pagehide", () => session?.stream.stop());
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});

wire();
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved, true);
else showSignIn();

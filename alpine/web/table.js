// The signal table: pages from /api/v1/signals (newest first), live rows from the
// stream on top, outcomes and executions from the stream applied to their rows,
// filters (symbol on the server; action and confidence in the page).

import { fmtConfidence, fmtPct, fmtPrice, fmtTime, h } from "./format.js";
import { positionOf } from "./stream.js";

const PAGE = 50;
const MAX_REQUESTS_PER_LOAD = 5; // a narrow filter scans at most this many pages per click
const FRESH_MS = 4000;
// What an event carries besides the signal's fields: its place in the feed.
const POSITION_KEYS = new Set(["event", "seq", "prev_seq", "cursor", "epoch"]);
// The position of an empty feed: before its first event.
const START = { seq: 0, cursor: "start", epoch: null };

/** The fields an outcome or execution event sets on its signal. */
function changes(event) {
  return Object.fromEntries(
    Object.entries(event).filter(([key]) => !POSITION_KEYS.has(key) && key !== "signal_id"),
  );
}

function column(key, title, cell, wide = false) {
  return { key, title, cell, wide };
}

function actionBadge(action) {
  return h("span", { class: `action action-${action.toLowerCase()}`, text: action });
}

function timeCell(iso) {
  const [day, clock] = fmtTime(iso).split(" ");
  return h("time", { datetime: iso }, h("span", { class: "day", text: day }), " ", clock ?? "");
}

/** The signal's time; a signal Alpine received late is marked so, never shown as fresh. */
function signalTime(signal) {
  if (!signal.late) return timeCell(signal.timestamp);
  const title = "Received late: long after its own timestamp";
  return h("span", {}, timeCell(signal.timestamp), " ", h("span", { class: "late", text: "late", title }));
}

/** The columns a tier gets: its extra fields add columns. */
export function columnsFor(tier) {
  const columns = [
    column("timestamp", "Time (UTC)", (s) => signalTime(s)),
    column("symbol", "Symbol", null),
    column("action", "Action", (s) => actionBadge(s.action)),
    column("confidence", "Conf.", (s) => fmtConfidence(s.confidence)),
    column("entry_price", "Entry", (s) => fmtPrice(s.entry_price)),
    column("target_price", "Target", (s) => fmtPrice(s.target_price), true),
    column("stop_price", "Stop", (s) => fmtPrice(s.stop_price), true),
    column("strategy", "Strategy", (s) => s.strategy, true),
  ];
  if (tier.fields.includes("regime")) {
    columns.push(column("regime", "Regime", (s) => s.regime ?? "–", true));
  }
  if (tier.fields.includes("outcome")) {
    columns.push(column("outcome", "Outcome", (s) => s.outcome ?? "open"));
    columns.push(column("profit_loss_pct", "P&L", (s) => fmtPct(s.profit_loss_pct), true));
  }
  return columns;
}

export class SignalTable {
  constructor({ api, tier, elements, onOpen, onError, announce }) {
    this.api = api;
    this.columns = columnsFor(tier);
    this.el = elements; // table, body, more, summary, form
    this.onOpen = onOpen;
    this.onError = onError;
    this.announce = announce;
    this.rows = [];
    this.ids = new Set();
    this.streamed = new Set();
    this.repeats = 0;
    this.updates = 0;
    // Outcomes and executions seen on the stream, by signal: a page read just before
    // one was recorded still gets it.
    this.patches = new Map();
    this.held = null; // the feed position the first page holds (see resync)
    this.cursor = null;
    this.exhausted = false;
    this.loading = false;
    this.generation = 0;
    this.filters = { symbol: "", action: "", minConfidence: 0 };
    this.renderHead();
  }

  renderHead() {
    const head = this.el.table.tHead.rows[0];
    head.replaceChildren(
      ...this.columns.map((c) =>
        h("th", { scope: "col", class: c.wide ? "wide" : null, "data-col": c.key, text: c.title }),
      ),
    );
  }

  setFilters(filters) {
    this.filters = filters;
    return this.reload();
  }

  matches(signal) {
    const f = this.filters;
    if (f.symbol && signal.symbol !== f.symbol) return false;
    if (f.action && signal.action !== f.action) return false;
    return !(signal.confidence < f.minConfidence);
  }

  /** Forget the loaded rows and load the first page for the current filters. */
  async reload() {
    this.generation += 1;
    this.rows = [];
    this.ids.clear();
    this.cursor = null;
    this.exhausted = false;
    this.loading = false;
    this.held = null;
    this.render();
    await this.loadMore();
  }

  /**
   * Load the table afresh and return the feed position it holds ({seq, cursor, epoch}:
   * its newest signal, every event before which the rows reflect), or null if unknown.
   * `historyChanged`: what the page held before belongs to another history.
   */
  async resync(historyChanged = false) {
    if (historyChanged) this.patches.clear();
    let held = null;
    if (this.filters.symbol) {
      // One symbol's newest row is not the tier's: ask for the tier's newest first.
      try {
        const body = await this.api.get("/api/v1/signals/subscribed", { limit: 1 });
        held = body.signals.length ? positionOf(body.signals[0]) : START;
      } catch (error) {
        this.onError(error);
        return null;
      }
    }
    const generation = this.generation + 1;
    await this.reload();
    if (generation !== this.generation) return null; // filters changed meanwhile
    return held ?? this.held;
  }

  /** Fetch older pages until PAGE more rows match the filters, or history ends. */
  async loadMore() {
    if (this.loading || this.exhausted) return;
    const generation = this.generation;
    this.setLoading(true);
    let added = 0;
    try {
      for (let n = 0; n < MAX_REQUESTS_PER_LOAD && added < PAGE && !this.exhausted; n += 1) {
        const body = await this.api.get("/api/v1/signals", {
          symbol: this.filters.symbol,
          limit: PAGE,
          cursor: this.cursor,
        });
        if (generation !== this.generation) return;
        if (this.cursor === null && !this.filters.symbol) {
          this.held = body.signals.length ? positionOf(body.signals[0]) : START;
        }
        for (const signal of body.signals) {
          if (this.ids.has(signal.signal_id)) continue;
          this.ids.add(signal.signal_id);
          Object.assign(signal, this.patches.get(signal.signal_id));
          this.rows.push(signal);
          if (this.matches(signal)) added += 1;
        }
        this.cursor = body.next_cursor;
        this.exhausted = body.next_cursor === null;
      }
    } catch (error) {
      if (generation === this.generation) this.onError(error);
    } finally {
      if (generation === this.generation) {
        this.setLoading(false);
        this.render();
      }
    }
  }

  /** A signal from the stream: on top, highlighted for a moment. */
  arrive(signal) {
    if (this.streamed.has(signal.signal_id)) this.repeats += 1;
    this.streamed.add(signal.signal_id);
    this.el.table.dataset.streamEvents = String(this.streamed.size + this.repeats);
    this.el.table.dataset.streamRepeats = String(this.repeats);
    if (this.ids.has(signal.signal_id)) return; // already in the first page
    if (this.filters.symbol && signal.symbol !== this.filters.symbol) return;
    this.ids.add(signal.signal_id);
    Object.assign(signal, this.patches.get(signal.signal_id));
    this.rows.unshift(signal);
    if (this.matches(signal)) {
      const row = this.row(signal);
      if (!signal.late) {
        row.classList.add("fresh");
        setTimeout(() => row.classList.remove("fresh"), FRESH_MS);
      }
      this.el.body.prepend(row);
      this.el.empty.hidden = true;
      this.announce(`${signal.late ? "Late" : "New"} signal: ${signal.symbol} ${signal.action}`);
    }
    this.summarise();
  }

  /** An outcome or execution from the stream: its signal's row shows it, if loaded. */
  update(event) {
    const fields = changes(event);
    const id = event.signal_id;
    this.patches.set(id, { ...this.patches.get(id), ...fields });
    this.updates += 1;
    this.el.table.dataset.streamUpdates = String(this.updates);
    const signal = this.rows.find((s) => s.signal_id === id);
    if (!signal) return;
    Object.assign(signal, fields);
    const shown = [...this.el.body.rows].find((r) => r.dataset.signalId === id);
    if (!shown) return;
    const row = this.row(signal);
    row.classList.add("fresh");
    setTimeout(() => row.classList.remove("fresh"), FRESH_MS);
    shown.replaceWith(row);
    if (event.event === "outcome") {
      this.announce(`Outcome: ${signal.symbol} ${signal.action} ${signal.outcome ?? ""}`.trim());
    } else if (event.event === "execution") {
      this.announce(`Executed: ${signal.symbol} ${signal.action}`);
    }
  }

  setLoading(loading) {
    this.loading = loading;
    this.el.table.setAttribute("aria-busy", String(loading));
    this.el.more.disabled = loading;
  }

  render() {
    const visible = this.rows.filter((s) => this.matches(s));
    this.el.body.replaceChildren(...visible.map((s) => this.row(s)));
    this.el.empty.hidden = visible.length > 0 || this.loading;
    this.summarise();
  }

  summarise() {
    const shown = this.el.body.rows.length;
    const loaded = this.rows.length;
    const end = this.exhausted ? "all loaded" : "more available";
    this.el.summary.textContent =
      shown === loaded
        ? `${shown} signal${shown === 1 ? "" : "s"} (${end})`
        : `${shown} of ${loaded} loaded signals match the filters (${end})`;
    this.el.more.hidden = this.exhausted;
    this.el.table.dataset.loaded = String(loaded);
  }

  row(signal) {
    const open = () => this.onOpen(signal);
    const cells = this.columns.map((c) => {
      if (c.key === "symbol") {
        const button = h("button", {
          type: "button",
          class: "link",
          text: signal.symbol,
          "aria-label": `Details of ${signal.symbol} ${signal.action} at ${fmtTime(signal.timestamp)}`,
          onclick: (event) => {
            event.stopPropagation();
            open();
          },
        });
        return h("th", { scope: "row", "data-col": c.key }, button);
      }
      const cls = [c.wide ? "wide" : "", c.key === "outcome" ? `outcome-${signal.outcome ?? "open"}` : ""]
        .join(" ")
        .trim();
      return h("td", { "data-col": c.key, class: cls || null }, c.cell(signal));
    });
    return h("tr", { "data-signal-id": signal.signal_id, onclick: open }, cells);
  }
}

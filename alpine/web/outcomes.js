// Elite's outcome view: win rate and cumulative P&L of closed signals over time.

import { lineChart } from "./charts.js";
import { fmtPct, fmtTime, h } from "./format.js";

const PAGE = 500;
const MAX_PAGES = 4; // the most recent 2,000 signals

/** Closed signals by closing time, with the running win rate and P&L after each. */
export function outcomeSeries(signals) {
  const closed = signals
    .filter((s) => s.outcome && s.closed_at && typeof s.profit_loss_pct === "number")
    .sort((a, b) => new Date(a.closed_at) - new Date(b.closed_at));
  let wins = 0;
  let pnl = 0;
  return closed.map((s, i) => {
    if (s.outcome === "win") wins += 1;
    pnl += s.profit_loss_pct;
    return { signal: s, at: new Date(s.closed_at), winRate: (wins / (i + 1)) * 100, pnl };
  });
}

function stat(label, value, key) {
  return h("div", { class: "stat" }, h("dt", { text: label }), h("dd", { "data-stat": key, text: value }));
}

export class OutcomeView {
  constructor(api, root, onError) {
    this.api = api;
    this.root = root;
    this.onError = onError;
    this.signals = null; // as last loaded
    this.generation = 0;
  }

  async load() {
    this.generation += 1;
    const generation = this.generation;
    this.root.setAttribute("aria-busy", "true");
    const signals = [];
    let cursor = null;
    try {
      for (let n = 0; n < MAX_PAGES; n += 1) {
        const body = await this.api.get("/api/v1/signals/subscribed", { limit: PAGE, cursor });
        if (generation !== this.generation) return; // a later load is under way
        signals.push(...body.signals);
        cursor = body.next_cursor;
        if (cursor === null) break;
      }
    } catch (error) {
      if (generation === this.generation) this.onError(error);
      return;
    } finally {
      if (generation === this.generation) this.root.setAttribute("aria-busy", "false");
    }
    this.signals = signals;
    this.render(signals);
  }

  /**
   * An event from the stream while the view is shown: a new signal joins the list; an
   * outcome of a listed signal redraws the view.
   */
  update(event) {
    if (!this.signals) return;
    const signal = this.signals.find((s) => s.signal_id === event.signal_id);
    if (event.event === "signal") {
      if (!signal) this.signals.unshift({ ...event });
      return;
    }
    if (event.event !== "outcome" || !signal) return; // older than the signals listed
    for (const key of ["outcome", "exit_price", "profit_loss_pct", "closed_at"]) {
      if (key in event) signal[key] = event[key];
    }
    this.render(this.signals);
  }

  render(signals) {
    const series = outcomeSeries(signals);
    const count = (kind) => series.filter((p) => p.signal.outcome === kind).length;
    const last = series[series.length - 1];
    const pct = (v) => `${v.toFixed(0)} %`;
    const points = (key) => series.map((p) => ({ x: p.at, y: p[key] }));
    // Draw at about the size shown, so the labels stay readable on a phone.
    const room = this.root.clientWidth || 640;
    const width = Math.max(300, Math.min(640, (room > 760 ? room / 2 : room) - 34));
    this.root.replaceChildren(
      h("h2", { text: "Outcomes" }),
      h("p", { class: "help", text: `Closed signals among the ${signals.length} most recent you can see.` }),
      h("dl", { class: "stats" },
        stat("Closed", String(series.length), "closed"),
        stat("Wins", String(count("win")), "wins"),
        stat("Losses", String(count("loss")), "losses"),
        stat("Expired", String(count("expired")), "expired"),
        stat("Win rate", last ? pct(last.winRate) : "–", "win_rate"),
        stat("Total P&L", last ? fmtPct(last.pnl) : "–", "pnl")),
      h("div", { class: "charts" },
      h("figure", {},
        h("figcaption", { text: "Cumulative P&L (sum of % per signal)" }),
        lineChart(points("pnl"), { label: "Cumulative P&L over time", format: fmtPct, baseline: 0, className: "pnl", width })),
      h("figure", {},
        h("figcaption", { text: "Win rate of signals closed so far" }),
        lineChart(points("winRate"), { label: "Win rate over time", format: pct, baseline: 50, range: [0, 100], className: "winrate", width }))),
      h("details", {},
        h("summary", { text: "The same as a table" }),
        h("div", { class: "table-wrap" },
          h("table", {},
            h("thead", {}, h("tr", {}, ["Closed (UTC)", "Symbol", "Outcome", "P&L", "Cumulative", "Win rate"]
              .map((t) => h("th", { scope: "col", text: t })))),
            h("tbody", {}, series.map((p) => h("tr", {},
              h("td", { text: fmtTime(p.signal.closed_at) }),
              h("td", { text: p.signal.symbol }),
              h("td", { text: p.signal.outcome }),
              h("td", { text: fmtPct(p.signal.profit_loss_pct) }),
              h("td", { text: fmtPct(p.pnl) }),
              h("td", { text: pct(p.winRate) })))))))
    );
    this.root.dataset.closed = String(series.length);
  }
}

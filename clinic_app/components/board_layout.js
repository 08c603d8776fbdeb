// The board's layout in the browser, imported by the board page (components/board_grid.py).
export function clinicBoardLayout(rows, state, since, columns, shades, roomFilter, showReleased, today) {
  // Where each card of the board goes, in the browser: the rows the board loaded, each
  // replaced by its newest pushed row ("live:<id>" keys of the board's state object, newer
  // than the load's stamp `since`), placed in this board's own columns (`columnOf`:
  // "provider|day" -> grid column) and filters. Cards that share time in a column sit side
  // by side (a cancelled visit beside the booking that took its slot). Free cells are the
  // board's bookable cells (`cells`, from the server: working hours, not past) that no
  // card holds. Kept in step with clinic_app/state/calendar.py (DAY_START, DAY_END, SLOT).
  // `columns`: {provider_id, day, name, slot_prefix, grid_column, earliest}; `shades`: the
  // spans nobody works, {grid_column, first, last} in grid rows.
  const memo = clinicBoardLayout.memo || (clinicBoardLayout.memo = {});
  const args = [rows, state, since, columns, shades, roomFilter, showReleased, today];
  if (memo.args && memo.args.every((a, i) => a === args[i])) return memo.result;
  const DAY_START = 420, DAY_END = 1200, SLOT = 15, FIRST_ROW = 2;
  const newest = new Map();
  for (const r of rows || []) newest.set(r.id, r);
  for (const key in state || {}) {
    if (!key.startsWith("live:")) continue;
    const r = state[key];
    if (!r || !(r.seq > since)) continue;
    const had = newest.get(r.id);
    if (!had || !(had.seq > r.seq)) newest.set(r.id, r);
  }
  const columnOf = {};
  for (const c of columns || []) columnOf[c.provider_id + "|" + c.day] = Number(c.grid_column);
  const released = (s) => s === "cancelled" || s === "no_show";
  const rowOf = (minute) => Math.floor((minute - DAY_START) / SLOT) + FIRST_ROW;
  const byColumn = new Map();
  for (const r of newest.values()) {
    const column = columnOf[r.provider_id + "|" + r.day];
    if (!column) continue;
    if (roomFilter && String(r.room_id) !== String(roomFilter)) continue;
    const gone = released(r.status);
    if (gone && !showReleased) continue;
    let start = Math.min(Math.max(r.start_minute, DAY_START), DAY_END - SLOT);
    let end = Math.min(Math.max(r.end_minute, start + SLOT), DAY_END);
    const first = rowOf(start), span = Math.max(1, Math.ceil((end - start) / SLOT));
    const list = byColumn.get(column) || [];
    list.push({ r, column, first, last: first + span, span, gone });
    byColumn.set(column, list);
  }
  const cards = [];
  const busy = new Set();
  for (const [column, list] of byColumn) {
    // Clusters of cards that share time; in each, booked visits first, then lanes.
    list.sort((a, b) => a.first - b.first || a.gone - b.gone || a.r.id - b.r.id);
    let cluster = [], reach = -1;
    const flush = () => {
      if (!cluster.length) return;
      cluster.sort((a, b) => a.gone - b.gone || a.first - b.first || a.r.id - b.r.id);
      const lanes = [];
      for (const c of cluster) {
        let lane = lanes.findIndex((lastEnd) => lastEnd <= c.first);
        if (lane < 0) { lane = lanes.length; lanes.push(0); }
        lanes[lane] = c.last;
        c.lane = lane;
      }
      const n = lanes.length;
      const mainActive = cluster.some((c) => c.lane === 0 && !c.gone);
      for (const c of cluster) {
        if (n === 1) { c.left = 0; c.width = 100; }
        else if (mainActive) {
          const side = 38 / (n - 1);
          c.left = c.lane === 0 ? 0 : 62 + side * (c.lane - 1);
          c.width = c.lane === 0 ? 62 : side;
        } else { c.left = (100 / n) * c.lane; c.width = 100 / n; }
      }
      cluster = [];
    };
    for (const c of list) {
      if (c.first >= reach) flush();
      cluster.push(c);
      reach = Math.max(reach, c.last);
    }
    flush();
    for (const c of list) {
      const r = c.r;
      if (!c.gone) for (let row = c.first; row < c.last; row++) busy.add(column + ":" + row);
      const when = r.start_label + "-" + r.end_label;
      const risk = r.auth_warning ? ", at risk: " + r.auth_warning : "";
      cards.push({
        id: r.id, key: String(r.id), patient_id: r.patient_id, patient_name: r.patient_name,
        type_name: r.type_name, color: r.color || "gray", room_name: r.room_name || "", status: r.status,
        status_label: r.status_label, start_label: r.start_label, end_label: r.end_label, day: r.day,
        provider_id: r.provider_id, duration: r.end_minute - r.start_minute, start_minute: r.start_minute,
        grid_column: String(column), grid_row: c.first + " / span " + c.span, left: c.left + "%",
        width: "calc(" + c.width + "% - 4px)", released: c.gone, auth_warning: r.auth_warning || "",
        in_series: !!r.in_series, online: r.online || "", short: c.span <= 1, tall: c.span >= 3,
        movable: r.status === "booked", today: r.day === today,
        aria: r.patient_name + ", " + r.start_label + ", " + r.status_label + risk + (r.online ? ", " + r.online : ""),
        title: r.patient_name + "\n" + when + " " + r.type_name + (r.room_name ? ", " + r.room_name : "") +
          "\n" + r.status_label + (r.online ? "\n" + r.online : "") + (r.auth_warning ? "\nAt risk: " + r.auth_warning : ""),
      });
    }
  }
  cards.sort((a, b) => a.grid_column - b.grid_column || a.start_minute - b.start_minute || a.id - b.id);
  const blocked = new Set();
  for (const s of shades || []) for (let row = s.first; row < s.last; row++) blocked.add(s.grid_column + ":" + row);
  const hhmm = (m) => String(Math.floor(m / 60)).padStart(2, "0") + ":" + String(m % 60).padStart(2, "0");
  const slots = [];
  for (const c of columns || []) {
    for (let m = DAY_START; m < DAY_END; m += SLOT) {
      const row = rowOf(m), key = c.grid_column + ":" + row;
      if (m < c.earliest || blocked.has(key) || busy.has(key)) continue;
      slots.push({ provider_id: c.provider_id, day: c.day, time: hhmm(m), grid_column: String(c.grid_column),
                   grid_row: row + " / span 1", label: "Book " + c.slot_prefix + hhmm(m) + " with " + c.name });
    }
  }
  const result = { cards, slots, newest: Object.fromEntries(newest) };
  memo.args = args;
  memo.result = result;
  return result;
}

// The newest row of one visit the board knows (pushed, or loaded), else ``fallback``.
export function clinicNewestRow(layout, id, fallback) {
  return (layout && layout.newest && layout.newest[id]) || fallback || {};
}

// Where one card of the layout sits (for what is shown beside it), or nothing.
export function clinicCardOf(layout, id) {
  return (layout && layout.cards && layout.cards.find((c) => c.id === id)) || {};
}

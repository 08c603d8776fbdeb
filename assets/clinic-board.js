// The calendar board in the browser: drag a card to move it (or its bottom edge to change
// its length), the current-time line, and the board's height. A drop is sent to the server
// as one event (MoveSection.drop) through the hidden #board-drop input; the server moves
// the visit through the same rules as the Move panel and the card follows the live row.
(function () {
  if (window.__clinicBoard) return;
  window.__clinicBoard = true;
  var HOLD_MS = 350;   // a touch must be held this long before it drags (a swipe scrolls)
  var MOVE_PX = 6;     // a mouse must move this far before a press becomes a drag
  var drag = null;
  var swallowClick = false;

  function grid() { return document.querySelector(".board-grid"); }
  function num(el, name) { return Number(el.dataset[name]); }

  function columnAt(g, x) {
    var heads = g.querySelectorAll("[data-col-key]");
    for (var i = 0; i < heads.length; i++) {
      var r = heads[i].getBoundingClientRect();
      if (x >= r.left && x < r.right) return heads[i];
    }
    return null;
  }

  function hhmm(m) {
    return String(Math.floor(m / 60)).padStart(2, "0") + ":" + String(m % 60).padStart(2, "0");
  }

  function send(payload) {
    var input = document.getElementById("board-drop");
    if (!input) return;
    payload.nonce = Date.now() + Math.random();
    var setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
    setter.call(input, JSON.stringify(payload));
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function begin() {
    var g = grid();
    if (!g || !drag) return;
    drag.started = true;
    drag.grid = g;
    drag.rowPx = num(g, "rowPx");
    drag.headPx = num(g, "headPx");
    drag.dayStart = num(g, "dayStart");
    drag.dayEnd = num(g, "dayEnd");
    drag.card.classList.add("is-dragging");
    try { drag.card.setPointerCapture(drag.pointerId); } catch (e) { /* a synthetic pointer */ }
    var ghost = document.createElement("div");
    ghost.className = "board-ghost";
    ghost.setAttribute("aria-hidden", "true");
    g.appendChild(ghost);
    drag.ghost = ghost;
    update(drag.lastX, drag.lastY);
  }

  function update(x, y) {
    var g = drag.grid, ghost = drag.ghost;
    var gr = g.getBoundingClientRect();
    var minute, length, head;
    if (drag.mode === "resize") {
      head = drag.head;
      minute = drag.start;
      var bottom = y - gr.top - drag.headPx;
      var end = drag.dayStart + Math.round(bottom / drag.rowPx) * 15;
      length = Math.max(15, Math.min(end, drag.dayEnd) - drag.start);
    } else {
      head = columnAt(g, x) || drag.head;
      length = drag.length;
      var top = y - gr.top - drag.headPx - drag.grab;
      minute = drag.dayStart + Math.round(top / drag.rowPx) * 15;
      minute = Math.max(drag.dayStart, Math.min(minute, drag.dayEnd - 15));
    }
    var hr = head.getBoundingClientRect();
    ghost.style.left = (hr.left - gr.left + 2) + "px";
    ghost.style.width = (hr.width - 6) + "px";
    ghost.style.top = (drag.headPx + (minute - drag.dayStart) / 15 * drag.rowPx) + "px";
    ghost.style.height = (Math.max(1, length / 15) * drag.rowPx - 2) + "px";
    ghost.textContent = hhmm(minute) + "-" + hhmm(minute + length) + " " + (head.dataset.colName || "");
    drag.target = { column: head.dataset.colKey, minute: minute, length: length };
  }

  function finish(commit) {
    var d = drag;
    drag = null;
    if (!d) return;
    clearTimeout(d.timer);
    clearInterval(d.scrolling);
    if (!d.started) return;
    d.card.classList.remove("is-dragging");
    swallowClick = true;
    setTimeout(function () { swallowClick = false; }, 400);
    var t = d.target;
    var moved = t && (t.column !== d.head.dataset.colKey || t.minute !== d.start || t.length !== d.length);
    if (!commit || !moved) { d.ghost.remove(); return; }
    d.ghost.classList.add("is-saving");
    d.ghost.textContent = "Moving… " + d.ghost.textContent;
    var card = d.card, place = card.style.gridRow + "|" + card.style.gridColumn + "|" + card.style.width;
    var stop = function () { observer.disconnect(); d.ghost.remove(); };
    var observer = new MutationObserver(function () {
      var now = document.querySelector('.board-card[data-appointment="' + d.id + '"]');
      var placeNow = now ? now.style.gridRow + "|" + now.style.gridColumn + "|" + now.style.width : "";
      if (!now || placeNow !== place || document.querySelector(".board-card-refusal")) stop();
    });
    observer.observe(d.grid, { subtree: true, childList: true, attributes: true });
    setTimeout(stop, 5000);
    send({ id: d.id, column: t.column, minute: t.minute, length: t.length });
  }

  document.addEventListener("pointerdown", function (e) {
    if (e.button !== 0 || drag) return;
    var card = e.target.closest && e.target.closest('.board-card[data-movable="true"]');
    if (!card) return;
    var g = grid();
    var head = g && g.querySelector('[data-col-key="' + card.dataset.column + '"]');
    if (!head) return;
    var rect = card.getBoundingClientRect();
    drag = {
      card: card, id: Number(card.dataset.appointment), head: head, pointerId: e.pointerId,
      mode: e.target.closest(".board-card-resize") ? "resize" : "move",
      x0: e.clientX, y0: e.clientY, lastX: e.clientX, lastY: e.clientY, grab: e.clientY - rect.top,
      start: Number(card.dataset.start), length: Number(card.dataset.length), started: false,
      touch: e.pointerType === "touch",
    };
    if (drag.touch) drag.timer = setTimeout(begin, HOLD_MS);
  }, true);

  document.addEventListener("pointermove", function (e) {
    if (!drag || e.pointerId !== drag.pointerId) return;
    drag.lastX = e.clientX;
    drag.lastY = e.clientY;
    if (!drag.started) {
      var far = Math.abs(e.clientX - drag.x0) + Math.abs(e.clientY - drag.y0) > MOVE_PX;
      if (drag.touch) { if (far) { clearTimeout(drag.timer); drag = null; } return; }  // a swipe: scroll
      if (far) begin();
      return;
    }
    e.preventDefault();
    update(e.clientX, e.clientY);
    edges(e.clientX, e.clientY);
  }, true);

  // Held near the grid's edge, the grid scrolls under the dragged card (another day or time);
  // only after a moment there, so that a drop on the last row in view stays where it was aimed.
  var EDGE_PX = 32, EDGE_WAIT_MS = 500;
  function edges(x, y) {
    var box = drag.grid.closest(".board-scroll"), r = box.getBoundingClientRect();
    drag.dx = x < r.left + 64 + EDGE_PX ? -12 : x > r.right - EDGE_PX ? 12 : 0;
    drag.dy = y < r.top + drag.headPx + EDGE_PX ? -12 : y > r.bottom - EDGE_PX ? 12 : 0;
    if (!drag.dx && !drag.dy) { drag.edgeSince = 0; return; }
    drag.edgeSince = drag.edgeSince || Date.now();
    if (drag.scrolling) return;
    drag.scrolling = setInterval(function () {
      if (!drag || !drag.started || !drag.edgeSince) {
        if (drag) { clearInterval(drag.scrolling); drag.scrolling = 0; }
        return;
      }
      if (Date.now() - drag.edgeSince < EDGE_WAIT_MS) return;
      box.scrollLeft += drag.dx;
      box.scrollTop += drag.dy;
      update(drag.lastX, drag.lastY);
    }, 30);
  }

  document.addEventListener("pointerup", function (e) {
    if (drag && e.pointerId === drag.pointerId) finish(true);
  }, true);
  document.addEventListener("pointercancel", function (e) {
    if (drag && e.pointerId === drag.pointerId) finish(false);
  }, true);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && drag) finish(false);
  }, true);
  // Once a touch drag has begun, the finger moves the card, not the page.
  document.addEventListener("touchmove", function (e) {
    if (drag && drag.started) e.preventDefault();
  }, { passive: false, capture: true });
  document.addEventListener("contextmenu", function (e) {
    if (drag && drag.touch) e.preventDefault();
  }, true);
  // The click that ends a drag does not also open the card's panel.
  document.addEventListener("click", function (e) {
    if (swallowClick && e.target.closest && e.target.closest(".board-card")) {
      e.preventDefault();
      e.stopPropagation();
      swallowClick = false;
    }
  }, true);

  // The current-time line, moved every 30 s (the server placed it when the board loaded).
  function tick() {
    var lines = document.querySelectorAll(".board-now[data-offset]");
    for (var i = 0; i < lines.length; i++) {
      var el = lines[i], g = el.closest(".board-grid");
      if (!g) continue;
      var minute = Math.floor((Date.now() / 60000 + Number(el.dataset.offset)) % 1440);
      var top = (minute - num(g, "dayStart")) / 15 * num(g, "rowPx");
      var line = el.querySelector(".board-now-line");
      if (line) line.style.top = top + "px";
      var label = el.querySelector(".board-now-label");
      if (label) label.textContent = hhmm(minute);
      el.style.visibility = minute >= num(g, "dayStart") && minute < num(g, "dayEnd") ? "visible" : "hidden";
    }
  }
  setInterval(tick, 30000);

  // The board fills the window below its toolbar; the grid scrolls inside it. A board that
  // shows a new day opens on the current time (an hour before it), else its first card.
  var shownView = "";
  function fit() {
    var area = document.querySelector(".board-area");
    if (area) area.style.setProperty("--board-top", Math.max(0, area.getBoundingClientRect().top + window.scrollY) + "px");
    var g = grid();
    if (!g || !g.dataset.view || g.dataset.view === shownView) return;
    var box = g.closest(".board-scroll"), line = g.querySelector(".board-now-line"), card = g.querySelector(".board-card");
    if (!line && !card) return;  // the cards have not arrived yet
    shownView = g.dataset.view;
    var rowPx = num(g, "rowPx"), top = 0;
    if (line) top = line.getBoundingClientRect().top - g.getBoundingClientRect().top - 4 * rowPx;
    else top = card.getBoundingClientRect().top - g.getBoundingClientRect().top - num(g, "headPx") - rowPx;
    box.scrollTop = Math.max(0, top);
  }
  var fitting = false;
  function later() {
    if (fitting) return;
    fitting = true;
    requestAnimationFrame(function () { fitting = false; fit(); });
  }
  window.addEventListener("resize", later);
  new MutationObserver(later).observe(document.documentElement, { childList: true, subtree: true });
  later();
})();

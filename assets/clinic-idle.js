// Automatic log-off in the browser (components/layout.py): after the idle time with no key,
// pointer or touch input, the tab forgets its client token and goes to the sign-in page. The
// server ends the idle session by itself (clinic_app/upkeep.py) and sends its tabs there too.
(function () {
  if (window.__clinicIdle) return;
  window.__clinicIdle = true;
  var script = document.currentScript;
  var minutes = parseInt((script && script.getAttribute("data-idle-minutes")) || "15", 10);
  var ms = (minutes * 60 + 20) * 1000, timer;
  function leave() {
    window.sessionStorage.removeItem("token");
    window.location.replace("/login");
  }
  function reset() { clearTimeout(timer); timer = setTimeout(leave, ms); }
  ["pointerdown", "keydown", "touchstart"].forEach(function (e) { window.addEventListener(e, reset, { passive: true }); });
  reset();
})();
